"""The OpenAPI schema as a contract: every status an operation can answer is in it.

Ninja documents only the statuses an operation declares in `response=`. The errors that
come from the machinery around a view are added here, from what the operation is:
- 422 (ValidationErrors) when it takes parameters or a body;
- 400 (unparseable body) and 413 (body too large) when it takes a body;
- 401 and 503 (the credentials are looked up in the database) when it has auth;
- 429 with Retry-After when it is throttled.
Statuses a view answers itself (403, 404, the search engine's 502/503/504) stay declared
on the operation, with the shared schemas from errors.py.

It is also written for client generators and linters (Redocly's `recommended` rules and
Spectral's `spectral:oas`, run on every bake by the template's tests): operation ids are
the view functions' names (`health`, not one prefixed with the project's module path, so
generated methods keep their names when the project is renamed), an operation without auth
says so (`security: []`), and components no operation uses are left out.
"""

import json
from typing import Any

from ninja import NinjaAPI, Schema
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation
from pydantic import BaseModel

from .errors import ClearErrorsAPI, Message, ValidationErrors

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"description": "How to authenticate.", "schema": {"type": "string"}}
}


RESPONSE_WRAPPERS: dict[type[BaseModel], type[Schema]] = {
    model: type(f"{model.__name__}Response", (Schema,), {"__annotations__": {"response": model}})
    for model in (Message, ValidationErrors)
}


class ContractSchema(OpenAPISchema):
    def __init__(self, api: NinjaAPI, path_prefix: str) -> None:
        super().__init__(api, path_prefix)
        drop_unused_schemas(self)

    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details = super().operation_details(operation)
        details.setdefault("security", [])  # public: no credentials, said explicitly
        responses = details["responses"]
        for status, description, model, headers in implied_errors(operation, details):
            if status not in responses:
                responses[status] = self.error_response(description, model)
            if headers and "content" in responses[status]:
                responses[status].setdefault("headers", {}).update(headers)
        return details

    def error_response(self, description: str, model: type[BaseModel]) -> dict[str, Any]:
        # As Ninja does for declared responses: the model as the one field of a wrapper, so
        # the schema is a $ref to the shared model. (Ninja types the argument as its
        # ParamModel; any pydantic model works.)
        wrapper = RESPONSE_WRAPPERS[model]
        schema = self._create_schema_from_model(wrapper, mode="serialization")[0]  # type: ignore[type-var]
        return {
            "description": description,
            "content": {self.api.renderer.media_type: {"schema": schema}},
        }


def implied_errors(
    operation: Operation, details: dict[str, Any]
) -> list[tuple[int, str, type[BaseModel], dict[str, Any]]]:
    errors: list[tuple[int, str, type[BaseModel], dict[str, Any]]] = []
    if operation.models:
        errors.append((422, "Invalid parameters or body", ValidationErrors, {}))
    if "requestBody" in details:
        errors.append((400, "The body could not be parsed", Message, {}))
        errors.append((413, "The body is too large", Message, {}))
    if operation.auth_callbacks:
        errors.append((401, "Missing or invalid credentials", Message, WWW_AUTHENTICATE))
        errors.append((503, "The database is busy or unavailable", Message, RETRY_AFTER))
    if operation.throttle_objects:
        errors.append((429, "Too many requests", Message, RETRY_AFTER))
    return errors


def drop_unused_schemas(document: dict[str, Any]) -> None:
    """Ninja also lists the models of query parameters, which no $ref reaches."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    while unused := set(schemas) - referenced_schemas(document):
        for name in unused:
            del schemas[name]


def referenced_schemas(document: dict[str, Any]) -> set[str]:
    prefix = "#/components/schemas/"
    text = json.dumps(document)
    return {name for name in document["components"]["schemas"] if f'"{prefix}{name}"' in text}


class ContractAPI(ClearErrorsAPI):
    """A NinjaAPI whose schema lists the errors around each view (see module docstring)."""

    def get_openapi_operation_id(self, operation: Operation) -> str:
        return operation.view_func.__name__

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return ContractSchema(api=self, path_prefix=path_prefix)
