"""The server-sent say-stream: it streams as it goes, keeps the connection alive, and stops
at once when the client goes away."""

import asyncio
import json
from typing import Any

import pytest
from django.conf import LazySettings
from django.test import AsyncClient

from {{ cookiecutter.project_slug }}.api import SAY_STREAM_THROTTLES

from .asgi_calls import Stream, content_of, pending_timers

pytestmark = pytest.mark.django_db(transaction=True)


async def test_say_stream_sends_its_events_with_the_headers_proxies_need() -> None:
    query = {"word": "hi", "count": "3", "interval": "0"}
    response = await AsyncClient().get("/api/say-stream", query)
    body = await content_of(response)

    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-cache"
    assert response["X-Accel-Buffering"] == "no"
    assert not response.has_header("Content-Length")
    assert events == [{"saying": "hi", "n": n} for n in (1, 2, 3)]
    assert body.startswith(": keep-alive\n\n")


async def test_a_long_wait_keeps_the_stream_alive(settings: LazySettings) -> None:
    settings.SAY_STREAM_KEEP_ALIVE = 0.05
    response = await AsyncClient().get("/api/say-stream", {"count": "2", "interval": "0.5"})
    body = await content_of(response)

    between = body.split("data: ")[1]  # after the first event, before the second
    assert between.count(": keep-alive") >= 2  # about 9; fewer on a busy machine, never 0


@pytest.mark.parametrize(
    "query",
    [{"count": 0}, {"count": 101}, {"interval": -1}, {"interval": 10.5}, {"word": ""}],
)
async def test_out_of_bounds_parameters_are_a_422(query: dict[str, Any]) -> None:
    response = await AsyncClient().get("/api/say-stream", query)

    assert response.status_code == 422


async def test_say_stream_is_throttled_like_say_after(monkeypatch: pytest.MonkeyPatch) -> None:
    for throttle in SAY_STREAM_THROTTLES:
        monkeypatch.setattr(throttle, "limit", 1)

    first = await AsyncClient().get("/api/say-stream", {"count": 1})
    second = await AsyncClient().get("/api/say-stream", {"count": 1})

    assert (first.status_code, second.status_code) == (200, 429)
    assert int(second["Retry-After"]) > 0


async def test_a_client_that_goes_away_leaves_nothing_running() -> None:
    await asyncio.sleep(0)
    tasks_before, timers_before = len(asyncio.all_tasks()), pending_timers()
    stream = Stream("/api/say-stream", b"count=100&interval=5")

    def go_away_after_the_first_event(current: Stream) -> None:
        if b"data:" in b"".join(current.first_chunks):
            current.gone.set()

    stream.on_chunk = go_away_after_the_first_event
    await asyncio.wait_for(stream.run(), timeout=5)  # not 495 s

    def nothing_left() -> bool:
        return len(asyncio.all_tasks()) == tasks_before and pending_timers() == timers_before

    for _ in range(100):  # a second at most; at once, in practice (the wait was 5 s)
        if nothing_left():
            break
        await asyncio.sleep(0.01)

    assert stream.status == 200
    assert nothing_left()
