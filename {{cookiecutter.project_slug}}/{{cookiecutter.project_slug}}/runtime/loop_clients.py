"""One network client per running event loop, each closed on its own loop at shutdown.

An asyncio client (an aiohttp session, redis.asyncio's connections, an httpx.AsyncClient) is
bound to the event loop of its first request; used from another loop it fails ("Event loop
is closed", "attached to a different loop"). uvicorn runs one loop per worker, but
management commands, Django's test client and pytest-asyncio each run their own. A
LoopClients hands every loop its own client; close_every_client() closes them all (the
lifespan calls it at shutdown).

Under WSGI (gunicorn, runserver) Django runs each async view on a new event loop, and
nothing would close a client kept for it: one leaked client, and its sockets, per request
(measured: 1 113 open files after 1 100 searches). So per-request code uses
`for_request()`: the loop's own client where the lifespan has marked the loop long-lived
(uvicorn), elsewhere a client of its own, closed when the request is done with it.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

C = TypeVar("C")

_long_lived_loops: set[asyncio.AbstractEventLoop] = set()
_registries: list["LoopClients[object]"] = []


async def mark_loop_long_lived() -> None:
    """Called at lifespan startup: this loop serves requests until the lifespan's shutdown."""
    _long_lived_loops.add(asyncio.get_running_loop())


def loop_is_long_lived() -> bool:
    return asyncio.get_running_loop() in _long_lived_loops


class LoopClients(Generic[C]):
    """The clients `build()` makes, one per event loop; `close(client)` closes one."""

    def __init__(self, build: Callable[[], C], close: Callable[[C], Awaitable[object]]) -> None:
        self.build = build
        self.close = close
        self.clients: dict[asyncio.AbstractEventLoop, C] = {}
        _registries.append(self)  # type: ignore[arg-type]

    def get(self) -> C:
        """The client of the running event loop (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self.clients.get(loop)
        if client is None:
            client = self.clients[loop] = self.build()
        return client

    @contextlib.asynccontextmanager
    async def for_request(self) -> AsyncIterator[C]:
        """The loop's own client if the loop is long-lived, else one closed on exit."""
        if loop_is_long_lived():
            yield self.get()
            return
        client = self.build()
        try:
            yield client
        finally:
            await self.close(client)

    async def close_all(self) -> None:
        """Close every client: this loop's here, the others on their own loop."""
        current = asyncio.get_running_loop()
        for loop, client in list(self.clients.items()):
            del self.clients[loop]
            if loop is current:
                await self.close(client)
            elif loop.is_closed():
                logger.warning("A %s outlived its event loop; it cannot be closed", type(client))
            elif loop.is_running():  # another thread's loop
                closing = asyncio.run_coroutine_threadsafe(self._close(client), loop)
                await asyncio.wrap_future(closing)
            else:  # a loop that is idle: run it just long enough to close the client
                await asyncio.to_thread(loop.run_until_complete, self._close(client))

    async def _close(self, client: C) -> None:
        await self.close(client)


async def close_every_client() -> None:
    """Lifespan shutdown: close the clients of every LoopClients; this loop is done serving."""
    _long_lived_loops.discard(asyncio.get_running_loop())
    for registry in _registries:
        await registry.close_all()
