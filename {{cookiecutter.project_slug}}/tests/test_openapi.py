"""The OpenAPI schema tells clients how to authenticate and what each operation answers."""

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
WRITES = {name: op for name, op in WITH_AUTH.items() if name.startswith(("POST", "PUT", "DEL"))}


def test_reads_declare_that_they_work_without_credentials() -> None:
    read = OPERATIONS["GET /api/blog/posts"]

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
