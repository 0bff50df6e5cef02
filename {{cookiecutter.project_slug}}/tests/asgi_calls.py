"""Requests straight through an ASGI application, as uvicorn sends them: for tests that
watch a stream chunk by chunk or have the client go away mid-request, and for the bench's
in-process measurements."""

import asyncio
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils.module_loading import import_string


def http_scope(
    path: str,
    query: bytes = b"",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    method: str = "GET",
) -> dict[str, Any]:
    """The scope uvicorn gives the ASGI application for `METHOD path?query`."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
    }


async def call(
    app: Any,
    path: str,
    query: bytes,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    *,
    disconnect: asyncio.Event | None = None,
    method: str = "GET",
    body: bytes = b"",
) -> int:
    """One request through the ASGI application; its status. The client goes away once
    `disconnect` is set (never, without one)."""
    request_sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal request_sent
        if not request_sent:
            request_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await (disconnect or asyncio.Event()).wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(http_scope(path, query, headers, method), receive, send)
    return status


async def thread_hops(app: Any, path: str) -> list[str]:
    """What one GET of `path` sends to a thread, after a first request (first-call work is not
    per-request cost). Every hop (sync_to_async, asyncio.to_thread) goes through
    run_in_executor."""
    loop = asyncio.get_running_loop()
    hops: list[str] = []
    real_run_in_executor = loop.run_in_executor

    def counting(executor: Any, func: Any, *args: Any) -> Any:
        hops.append(repr(func))
        return real_run_in_executor(executor, func, *args)

    path, _, query = path.partition("?")
    assert await call(app, path, query.encode()) == 200
    loop.run_in_executor = counting  # type: ignore[method-assign,assignment]
    try:
        assert await call(app, path, query.encode()) == 200
    finally:
        del loop.run_in_executor
    return hops


class Stream:
    """One request through the ASGI application, as uvicorn makes it: the body's chunks as
    they come, and a client that can go away."""

    def __init__(self, path: str, query: bytes = b"") -> None:
        self.scope = http_scope(path, query)
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.chunks = 0
        self.bytes = 0
        self.first_chunks: list[bytes] = []
        self.gone = asyncio.Event()
        self.on_chunk: Any = None

    async def run(self) -> None:
        sent_request = False

        async def receive() -> dict[str, Any]:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                self.status = message["status"]
                self.headers = dict(message["headers"])
            elif message["type"] == "http.response.body" and message.get("body"):
                self.chunks += 1
                self.bytes += len(message["body"])
                if len(self.first_chunks) < 5:
                    self.first_chunks.append(message["body"])
                if self.on_chunk:
                    self.on_chunk(self)

        application = import_string(settings.ASGI_APPLICATION)
        await application(self.scope, receive, send)


async def content_of(response: Any) -> str:
    """The body of a streamed answer of Django's test client."""
    assert isinstance(response, StreamingHttpResponse)
    return b"".join([chunk async for chunk in response]).decode()


def pending_timers() -> int:
    loop = asyncio.get_running_loop()
    return sum(not timer.cancelled() for timer in loop._scheduled)  # type: ignore[attr-defined]
