"""The API's error answers: one set of schemas for every operation, messages a client
developer can act on, and database trouble mapped once to a 503 (never a 500).

Ninja's own messages are reworded where they do not help: a pattern mismatch quotes the
regex (the schema registers what each pattern means with `explained_pattern`), a body's
locations name Ninja's internal parameter (`["body", "data", "title"]` becomes
`["body", "title"]`), and a body that is not JSON does not say that JSON was expected.

A locked SQLite database (a writer waited longer than its timeout), an unreachable
PostgreSQL server, or a pool with no connection free in time all reach the view as
django.db.OperationalError (psycopg's PoolTimeout is one too). The client gets a short
message and Retry-After; the log gets the details, once.
"""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import HttpError, ValidationError, ValidationErrorContext

logger = logging.getLogger(__name__)

# Seconds a client should wait before it tries again after a 503 from the database.
DATABASE_RETRY_AFTER = 5


class Message(Schema):
    """Every error answer but 422: what went wrong, in one sentence."""

    detail: str


class ValidationIssue(Schema):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrors(Schema):
    """422: the request was understood but its values are not valid, one issue per value."""

    detail: list[ValidationIssue]


# What each declared pattern asks for, in words: pydantic's message quotes the regex.
PATTERN_MEANINGS: dict[str, str] = {}


def explained_pattern(pattern: str, meaning: str) -> str:
    """Declare a schema pattern with the words a 422 uses for it ("should ...")."""
    PATTERN_MEANINGS[pattern] = meaning
    return pattern


class ClearErrorsAPI(NinjaAPI):
    """Validation issues located by the client's own field names, in plain words."""

    def validation_error_from_error_contexts(
        self, error_contexts: list[ValidationErrorContext[Any]]
    ) -> ValidationError:
        errors = super().validation_error_from_error_contexts(error_contexts).errors
        body_params = {
            name
            for context in error_contexts
            if context.model.__ninja_param_source__ == "body"
            for name in context.model.model_fields
        }
        for error in errors:
            loc = tuple(error["loc"])
            # ("body", "data", "title"): "data" is the view's parameter, not the client's.
            if len(loc) > 1 and loc[0] == "body" and loc[1] in body_params:
                error["loc"] = ("body", *loc[2:])
            pattern = error.get("ctx", {}).get("pattern")
            if error["type"] == "string_pattern_mismatch" and pattern in PATTERN_MEANINGS:
                error["msg"] = f"String should {PATTERN_MEANINGS[pattern]}"
        return ValidationError(errors)


def not_json(request: HttpRequest, exc: HttpError) -> str | None:
    """A clear message for Ninja's "Cannot parse request body", else None."""
    if exc.status_code != 400 or not str(exc).startswith("Cannot parse request body"):
        return None
    content_type = request.content_type or "none"
    if content_type != "application/json":
        return f"The body must be JSON, sent as Content-Type: application/json (not {content_type})"
    return f"The body is not valid JSON: {exc.__cause__}"


# Ninja's words for a session write without the CSRF token, and what to say instead.
CSRF_FAILED = "CSRF check Failed"
CSRF_EXPECTED = (
    "CSRF check failed: a write with the session cookie needs the X-CSRFToken header "
    "(the csrftoken cookie's value; the docs page sends it), or use a bearer token"
)


def add_error_handlers(api: NinjaAPI) -> None:
    def http_error(request: HttpRequest, exc: Any) -> HttpResponse:
        detail = not_json(request, exc) or str(exc)
        if exc.status_code == 403 and detail == CSRF_FAILED:
            detail = CSRF_EXPECTED
        return api.create_response(request, {"detail": detail}, status=exc.status_code)

    api.add_exception_handler(HttpError, http_error)

    def database_unavailable(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.error("Database unavailable on %s: %r", request.path, exc)
        detail = "The database is busy or unavailable; try again shortly"
        response = api.create_response(request, {"detail": detail}, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    api.add_exception_handler(OperationalError, database_unavailable)
    api.add_exception_handler(InterfaceError, database_unavailable)
