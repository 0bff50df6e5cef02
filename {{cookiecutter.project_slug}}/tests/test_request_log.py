"""Request ids, the access-log line, the JSON log format, and the say-after throttle."""

import json
import logging

import pytest
from django.core.cache import cache
from django.test import AsyncClient

from {{ cookiecutter.project_slug }} import request_log
from {{ cookiecutter.project_slug }}.api import say_after_throttles

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
        await AsyncClient().get("/api/say-async?delay=0")

    (line,) = [record for record in caplog.records if record.name == "access"]
    assert line.getMessage() == "GET /api/say-async 200"
    assert (line.method, line.path, line.status) == ("GET", "/api/say-async", 200)  # type: ignore[attr-defined]
    assert line.duration_ms >= 0  # type: ignore[attr-defined]


async def test_written_access_line_carries_the_request_id(written_lines: WrittenLines) -> None:
    await AsyncClient().get("/api/say-async?delay=0", headers={"X-Request-ID": "trace-me-42"})

    (line,) = [line for line in written_lines() if "GET /api/say-async 200" in line]
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


async def test_say_after_is_throttled_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    (throttle,) = say_after_throttles
    monkeypatch.setattr(throttle, "num_requests", 2)
    cache.clear()

    statuses = [(await AsyncClient().get("/api/say-async")).status_code for _ in range(2)]
    throttled = await AsyncClient().get("/api/say-async")
    cache.clear()

    assert statuses == [200, 200]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
