"""The NDJSON export of posts: it streams as it goes, keeps memory flat, and stops at once
when the client goes away."""

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest
from django.test import AsyncClient

from accounts.models import User
from blog import queries
from blog.models import Post

from .asgi_calls import Stream, content_of
from .conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)


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
