"""One client per event loop, all closed by close_all() and by the lifespan shutdown."""

import asyncio
from typing import Any

import aiohttp
import pytest
from django.conf import settings
from django.utils.module_loading import import_string

from search import client as search_client
from search.client import close_all, get_client

pytestmark = pytest.mark.elasticsearch


async def sessions_after_a_request() -> list[aiohttp.ClientSession]:
    """The aiohttp sessions of this loop's client (a node opens one on its first request)."""
    client = get_client()
    await client.info()
    return [node.session for node in client.transport.node_pool.all()]  # type: ignore[attr-defined]


def test_each_loop_gets_its_own_client_and_close_all_closes_them() -> None:
    first_loop, second_loop = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        first = first_loop.run_until_complete(sessions_after_a_request())
        second = second_loop.run_until_complete(sessions_after_a_request())
        again = first_loop.run_until_complete(sessions_after_a_request())
        assert len(search_client.clients.clients) == 2

        second_loop.run_until_complete(close_all())  # closes first's on its own (idle) loop
    finally:
        first_loop.close()
        second_loop.close()

    assert first != second
    assert again == first
    assert [session.closed for session in first + second] == [True, True]
    assert search_client.clients.clients == {}


async def test_lifespan_shutdown_closes_the_clients() -> None:
    sessions = await sessions_after_a_request()
    incoming = asyncio.Queue[dict[str, Any]]()
    for message_type in ("lifespan.startup", "lifespan.shutdown"):
        incoming.put_nowait({"type": message_type})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    application = import_string(settings.ASGI_APPLICATION)
    await application({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send)

    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
    assert [session.closed for session in sessions] == [True]
    assert search_client.clients.clients == {}
