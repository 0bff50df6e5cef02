"""Streaming answers: the NDJSON export of posts and the server-sent say-stream. Both stream
as they go, keep memory flat, and stop at once when the client goes away."""

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.conf import LazySettings, settings
from django.http import StreamingHttpResponse
from django.test import AsyncClient
from django.utils.module_loading import import_string

from accounts.models import User
from bench.hotpath import http_scope
from blog import queries
from blog.models import Post

from {{ cookiecutter.project_slug }}.api import SAY_STREAM_THROTTLES

from .conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


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


# Server-sent events ----------------------------------------------------------------------


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


# NDJSON export -----------------------------------------------------------------------------


async def export(**headers: str) -> tuple[Any, list[dict[str, Any]]]:
    response = await AsyncClient().get("/api/blog/posts/export", headers=headers)
    body = await content_of(response)
    return response, [json.loads(line) for line in body.splitlines()]


async def test_the_export_streams_the_posts_the_caller_may_read(alice: User, bob: User) -> None:
    published = await Post.objects.acreate(title="out", author=bob, published=True)
    draft = await Post.objects.acreate(title="alice's draft", author=alice)
    await Post.objects.acreate(title="bob's draft", author=bob)

    anonymous, anonymous_lines = await export()
    _, alices_lines = await export(**(await bearer(alice)))

    assert anonymous.status_code == 200
    assert anonymous["Content-Type"] == "application/x-ndjson"
    assert not anonymous.has_header("Content-Length")
    assert [line["id"] for line in anonymous_lines] == [published.pk]
    assert [line["id"] for line in alices_lines] == [published.pk, draft.pk]
    assert set(anonymous_lines[0]) == {
        "id", "title", "body", "published", "author", "created_at", "updated_at",
    }  # fmt: skip


def export_peak_memory(posts: int) -> int:
    """Peak bytes allocated while `posts` published posts are exported (counted, not kept)."""
    Post.objects.all().delete()
    Post.objects.bulk_create(
        Post(title=f"post {n}", body="word " * 40, published=True) for n in range(posts)
    )
    stream = Stream("/api/blog/posts/export")
    tracemalloc.start()
    try:
        asyncio.run(stream.run())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stream.bytes > posts * 200  # every post went out
    return peak


def test_the_exports_memory_stays_flat_whatever_the_count() -> None:
    small, large = export_peak_memory(2_000), export_peak_memory(20_000)

    # Ten times the posts: not ten times the memory (a list of them would be).
    assert large < small * 1.5 + 1_000_000, (small, large)


async def test_a_client_that_goes_away_stops_the_export(monkeypatch: pytest.MonkeyPatch) -> None:
    await Post.objects.abulk_create(Post(title=f"p{n}", published=True) for n in range(3000))
    monkeypatch.setattr(queries, "EXPORT_CHUNK", 100)
    read: list[int] = []
    real_export = queries.export_posts

    async def counted(**kwargs: Any) -> AsyncIterator[Post]:
        async for post in real_export(**kwargs):
            read.append(post.pk)
            yield post

    monkeypatch.setattr(queries, "export_posts", counted)
    stream = Stream("/api/blog/posts/export")
    stream.on_chunk = lambda current: current.gone.set()

    await asyncio.wait_for(stream.run(), timeout=30)

    assert stream.status == 200
    assert 0 < len(read) < 1000  # stopped within a few chunks, not after 3000 posts
