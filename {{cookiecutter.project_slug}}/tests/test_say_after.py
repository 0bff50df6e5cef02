"""The say-after endpoints: answers, validation, and the four ways to call them."""

import time

import pytest
from django.test import AsyncClient, Client
from ninja.testing import TestAsyncClient, TestClient

from {{ cookiecutter.project_slug }}.api import api

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


BAD_QUERIES = [
    pytest.param({"delay": "-1"}, "delay", id="negative-delay"),
    pytest.param({"delay": "10.5"}, "delay", id="delay-over-max"),
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
