"""The say-after endpoints: answers, validation, and the four ways to call them."""

import time
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import AsyncClient, Client
from ninja.testing import TestAsyncClient, TestClient

from {{ cookiecutter.project_slug }} import api as say_after
from {{ cookiecutter.project_slug }}.api import SAY_ASYNC_THROTTLES, SAY_SYNC_THROTTLES, api
from {{ cookiecutter.project_slug }}.asgi import application

from .asgi_calls import thread_hops

sync_client = TestClient(api)
async_client = TestAsyncClient(api)


def test_say_sync_answers_with_the_word() -> None:
    response = sync_client.get("/say-sync?delay=0&word=hi")

    assert response.status_code == 200
    assert response.json() == {"saying": "hi"}


async def test_say_async_answers_with_the_word() -> None:
    response = await async_client.get("/say-async?delay=0&word=hi")

    assert response.status_code == 200
    assert response.json() == {"saying": "hi"}


def test_say_sync_defaults_to_hello_without_delay() -> None:
    response = sync_client.get("/say-sync")

    assert response.json() == {"saying": "hello"}


async def test_say_async_waits_at_least_the_delay() -> None:
    started = time.perf_counter()
    response = await async_client.get("/say-async?delay=0.2&word=later")

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_say_sync_through_url_routing_and_middleware() -> None:
    response = Client().get("/api/say-sync", {"delay": "0", "word": "routed"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"saying": "routed"}


async def test_say_async_through_url_routing_and_middleware() -> None:
    response = await AsyncClient().get("/api/say-async", {"delay": "0", "word": "routed"})

    assert response.status_code == 200
    assert response.json() == {"saying": "routed"}


MAX_DELAY = settings.SAY_AFTER_MAX_DELAY


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The delays the endpoints sleep, recorded instead of slept (no 10 s tests)."""
    delays: list[float] = []

    async def async_sleep(delay: float) -> None:
        delays.append(delay)

    # Only the API module's names: the event loop and Django keep the real ones.
    monkeypatch.setattr(say_after, "asyncio", SimpleNamespace(sleep=async_sleep))
    monkeypatch.setattr(say_after, "time", SimpleNamespace(sleep=delays.append))
    return delays


@pytest.mark.parametrize("path", ["/api/say-sync", "/api/say-async"])
@pytest.mark.parametrize("delay", [0, MAX_DELAY], ids=["zero", "max"])
async def test_delay_bounds_are_inclusive(path: str, delay: float, slept: list[float]) -> None:
    response = await AsyncClient().get(path, {"delay": str(delay)})

    assert response.status_code == 200
    assert delay in slept


BAD_QUERIES = [
    pytest.param({"delay": "-0.001"}, "delay", id="negative-delay"),
    pytest.param({"delay": str(MAX_DELAY + 0.001)}, "delay", id="delay-over-max"),
    pytest.param({"delay": "soon"}, "delay", id="delay-not-a-number"),
    pytest.param({"delay": "nan"}, "delay", id="delay-nan"),
    pytest.param({"delay": "inf"}, "delay", id="delay-infinite"),
    pytest.param({"word": ""}, "word", id="empty-word"),
    pytest.param({"word": "x" * 101}, "word", id="word-too-long"),
]


@pytest.mark.parametrize("path", ["/api/say-sync", "/api/say-async"])
@pytest.mark.parametrize(("query", "field"), BAD_QUERIES)
async def test_bad_query_is_a_422_naming_the_field(
    path: str, query: dict[str, str], field: str
) -> None:
    response = await AsyncClient().get(path, query)

    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [error["loc"] for error in errors] == [["query", field]]
    assert errors[0]["msg"]


async def test_say_after_is_throttled_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    for throttle in (*SAY_ASYNC_THROTTLES, *SAY_SYNC_THROTTLES):
        monkeypatch.setattr(throttle, "limit", 2)

    statuses = [(await AsyncClient().get("/api/say-async")).status_code for _ in range(2)]
    throttled = await AsyncClient().get("/api/say-async")
    other_endpoint = await AsyncClient().get("/api/say-sync")

    assert statuses == [200, 200]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    # SAY_AFTER_RATE is per endpoint: say-async's budget spent leaves say-sync's whole.
    assert other_endpoint.status_code == 200


async def test_say_async_sends_no_work_to_a_thread() -> None:
    # It may cost what Django costs any async view (health), and not one hop more.
    health_hops = await thread_hops(application, "/api/health")
    say_async_hops = await thread_hops(application, "/api/say-async?delay=0.01")

    assert len(say_async_hops) == len(health_hops), say_async_hops
