"""Request ids, the access-log line, and the JSON log format."""

import asyncio
import json
import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import OperationalError
from django.test import AsyncClient, RequestFactory
from django.utils.module_loading import import_string

from {{ cookiecutter.project_slug }}.api import api
from {{ cookiecutter.project_slug }}.asgi import application
from {{ cookiecutter.project_slug }}.runtime import request_log
from {{ cookiecutter.project_slug }}.runtime.log_stream import BatchedStreamHandler

from .asgi_calls import http_scope
from .conftest import WrittenLines


async def test_response_carries_a_new_request_id() -> None:
    response = await AsyncClient().get("/api/health")

    assert len(response["X-Request-ID"]) == 32


async def test_a_sane_incoming_request_id_is_kept() -> None:
    response = await AsyncClient().get("/api/health", headers={"X-Request-ID": "edge-42.a:b"})

    assert response["X-Request-ID"] == "edge-42.a:b"


@pytest.mark.parametrize("incoming", ["has space", "x" * 129, "new\nline", ""])
async def test_an_odd_incoming_request_id_is_replaced(incoming: str) -> None:
    response = await AsyncClient().get("/api/health", headers={"X-Request-ID": incoming})

    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


async def test_one_access_line_per_request(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="access"):
        await AsyncClient().get("/api/probe/async?delay=0")

    (line,) = [record for record in caplog.records if record.name == "access"]
    assert line.getMessage() == "GET /api/probe/async 200"
    assert (line.method, line.path, line.status) == ("GET", "/api/probe/async", 200)  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]


async def test_written_access_line_carries_the_request_id(written_lines: WrittenLines) -> None:
    await AsyncClient().get("/api/probe/async?delay=0", headers={"X-Request-ID": "trace-me-42"})

    (line,) = [line for line in written_lines() if "GET /api/probe/async 200" in line]
    assert "trace-me-42" in line


def test_json_lines_carry_the_request_id_and_access_fields() -> None:
    record = logging.LogRecord("access", logging.INFO, __file__, 1, "GET / 200", None, None)
    record.status = 200
    token = request_log.request_id.set("abc123")
    try:
        request_log.RequestIdFilter().filter(record)
    finally:
        request_log.request_id.reset(token)

    entry = json.loads(request_log.JsonFormatter().format(record))

    assert entry["request_id"] == "abc123"
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "access", "GET / 200")
    assert entry["status"] == 200
    assert entry["time"].endswith("+00:00")


async def test_an_abandoned_request_still_gets_its_access_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The client goes away mid-request: Django cancels the view, the line says 499."""
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await messages.put({"type": "http.request", "body": b"", "more_body": False})

    async def send(message: Mapping[str, Any]) -> None:
        raise AssertionError(f"nothing may be sent to a client that left: {message}")

    scope = http_scope("/api/probe/async", b"delay=5")
    with caplog.at_level(logging.INFO, logger="access"):
        request = asyncio.create_task(ASGIHandler()(scope, messages.get, send))
        await asyncio.sleep(0.3)
        await messages.put({"type": "http.disconnect"})
        await asyncio.wait_for(request, timeout=5)

    (line,) = [record for record in caplog.records if record.name == "access"]
    assert (line.method, line.path, line.status) == ("GET", "/api/probe/async", 499)  # type: ignore[attr-defined]
    assert 100 <= line.duration_ms < 5000  # type: ignore[attr-defined]  # until it left


async def test_djangos_own_lines_carry_the_request_id(written_lines: WrittenLines) -> None:
    response = await AsyncClient().get("/api/no-such-thing")

    (not_found,) = [line for line in written_lines() if "Not Found" in line]
    assert response["X-Request-ID"] in not_found


FORGED = "\n2026-01-01 00:00:00 INFO access [x] GET /forged 200"


@pytest.fixture(params=["console", "json"])
def lines_in_format(
    request: pytest.FixtureRequest, written_lines: WrittenLines
) -> Iterator[WrittenLines]:
    """The lines the configured handler writes, in each of the two formats of LOGGING."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, BatchedStreamHandler)]
    formatters: dict[str, dict[str, Any]] = settings.LOGGING["formatters"]  # type: ignore[assignment]
    config = dict(formatters[request.param])
    factory = import_string(config.pop("()"))
    previous = handler.formatter
    handler.setFormatter(factory(config.get("format")))
    yield written_lines
    handler.setFormatter(previous)


async def test_no_client_value_can_forge_a_log_line(lines_in_format: WrittenLines) -> None:
    """Every line that logs a client's value (the path, here) stays one line, in both
    formats: the access line, Django's "Not Found", the body limit, the error handlers."""
    forged_path = f"/api/probe/async{quote(FORGED)}"
    await AsyncClient().get(forged_path)  # the access line
    await AsyncClient().get(f"/api/nothing-here{quote(FORGED)}")  # Django's "Not Found"
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        too_large = {"Content-Length": str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}
        await client.post(forged_path, headers=too_large)  # the body limit
    request = RequestFactory().get(f"/api/probe/me{FORGED}")
    api.on_exception(request, OperationalError("database is locked"))  # the database's 503

    lines = lines_in_format()

    assert len(lines) >= 4, lines
    assert not [line for line in lines if line.startswith("2026-01-01")], lines
