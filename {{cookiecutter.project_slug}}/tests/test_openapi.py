"""The OpenAPI schema tells clients how to authenticate and what each operation answers.

The tests' own endpoints (tests/probe.py) are in the document here: they are built as the
project's are, and keep these tests meaningful in a project without the examples.
"""

import json
from typing import Any

import pytest

from {{ cookiecutter.project_slug }}.api import api

SCHEMA = api.get_openapi_schema()
OPERATIONS = {
    f"{method.upper()} {path}": operation
    for path, methods in SCHEMA["paths"].items()
    for method, operation in methods.items()
}
WITH_AUTH = {name: op for name, op in OPERATIONS.items() if op.get("security")}
WRITES = {
    name: op for name, op in WITH_AUTH.items() if name.startswith(("POST", "PUT", "PATCH", "DEL"))
}


def test_reads_declare_that_they_work_without_credentials() -> None:
    read = OPERATIONS["GET /api/probe/me"]

    assert read["security"] == [{"BearerToken": []}, {"SessionUser": []}, {}]


def test_both_ways_in_are_declared() -> None:
    schemes = SCHEMA["components"]["securitySchemes"]

    assert schemes["BearerToken"] == {"type": "http", "scheme": "bearer"}
    assert schemes["SessionUser"]["in"] == "cookie"


@pytest.mark.parametrize("operation", WITH_AUTH.values(), ids=WITH_AUTH)
def test_operations_with_auth_document_their_401(operation: dict[str, Any]) -> None:
    assert 401 in operation["responses"]


def test_every_write_has_auth() -> None:
    writes = [name for name in OPERATIONS if name.startswith(("POST", "PUT", "PATCH", "DEL"))]

    assert sorted(writes) == sorted(WRITES) != []


@pytest.mark.parametrize("operation", WRITES.values(), ids=WRITES)
def test_writes_need_credentials_and_document_403_and_429(operation: dict[str, Any]) -> None:
    assert {} not in operation["security"]  # no anonymous way in
    assert {401, 403, 429} <= set(operation["responses"])


def error_schema(operation: dict[str, Any], status: int) -> str:
    return str(operation["responses"][status]["content"]["application/json"]["schema"]["$ref"])


WITH_INPUT = {
    name: op for name, op in OPERATIONS.items() if op["parameters"] or "requestBody" in op
}
WITH_BODY = {name: op for name, op in OPERATIONS.items() if "requestBody" in op}
THROTTLED = {
    name: OPERATIONS[name]
    for name in ("GET /api/probe/sync", "GET /api/probe/async", *WRITES)
    if name in OPERATIONS
}


@pytest.mark.parametrize("operation", WITH_INPUT.values(), ids=WITH_INPUT)
def test_operations_with_input_document_their_422(operation: dict[str, Any]) -> None:
    assert error_schema(operation, 422) == "#/components/schemas/ValidationErrors"


@pytest.mark.parametrize("operation", WITH_BODY.values(), ids=WITH_BODY)
def test_operations_with_a_body_document_400_and_413(operation: dict[str, Any]) -> None:
    assert error_schema(operation, 400) == error_schema(operation, 413)
    assert error_schema(operation, 400) == "#/components/schemas/Message"


@pytest.mark.parametrize("operation", THROTTLED.values(), ids=THROTTLED)
def test_throttled_operations_document_429_with_retry_after(operation: dict[str, Any]) -> None:
    assert "Retry-After" in operation["responses"][429]["headers"]


@pytest.mark.parametrize("operation", WITH_AUTH.values(), ids=WITH_AUTH)
def test_operations_reading_credentials_document_a_503_with_retry_after(
    operation: dict[str, Any],
) -> None:
    # The token is looked up in the database: when that is busy, a 503.
    assert "Retry-After" in operation["responses"][503]["headers"]
    assert "WWW-Authenticate" in operation["responses"][401]["headers"]


def test_error_schemas_are_shared_not_copied() -> None:
    names = set(SCHEMA["components"]["schemas"])
    errors = {name for name in names if "Message" in name or "ValidationError" in name}

    assert errors == {"Message", "ValidationErrors"}


def test_the_served_schema_has_no_key_twice() -> None:
    """Statuses are int keys in Ninja's schema: one given as a string (in openapi_extra) is
    a second "200" in the JSON, which Swagger UI refuses to render ("duplicated mapping key")."""
    from django.test import Client

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        assert twice == [], f"duplicated keys: {twice}"
        return dict(pairs)

    json.loads(Client().get("/api/openapi.json").content, object_pairs_hook=no_duplicates)


def test_operation_ids_are_short_and_stable() -> None:
    """Client generators name their methods after these: no module path, no project name."""
    ids = [operation["operationId"] for operation in OPERATIONS.values()]

    assert len(set(ids)) == len(ids)
    assert {"wait_async", "wait_sync", "health", "ready"} <= set(ids)
    assert not [i for i in ids if "{{ cookiecutter.project_slug }}" in i or "_api_" in i]


def test_every_operation_says_whether_it_needs_credentials() -> None:
    assert [name for name, op in OPERATIONS.items() if "security" not in op] == []
    assert OPERATIONS["GET /api/health"]["security"] == []


def test_the_document_declares_its_server_and_tags_and_nothing_unused() -> None:
    used_tags = {tag for op in OPERATIONS.values() for tag in op.get("tags", [])} - {"probe"}
    text = json.dumps(SCHEMA)

    assert SCHEMA["servers"] != []
    assert {tag["name"] for tag in SCHEMA["tags"]} == used_tags
    assert [n for n in SCHEMA["components"]["schemas"] if f'/schemas/{n}"' not in text] == []
