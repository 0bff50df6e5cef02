"""The post list's cache (blog/cache.py), over the key-value store of this bake (keyvalue/)."""

import pytest
from django.conf import LazySettings
from django.test import AsyncClient

from accounts.models import User
from blog.models import Post
from keyvalue import StoreUnavailable, get_store

from .conftest import MakePost, bearer

pytestmark = pytest.mark.django_db(transaction=True)


async def list_posts(**headers: str) -> tuple[int, bytes]:
    response = await AsyncClient().get("/api/blog/posts", headers=headers)
    assert response.status_code == 200
    return response.json()["count"], response.content


async def test_anonymous_readers_get_the_page_from_the_cache(
    make_post: MakePost, alice: User
) -> None:
    await Post.objects.acreate(title="first", published=True)
    first = await list_posts()
    await Post.objects.acreate(title="second", published=True)

    cached = await list_posts()
    signed_in = await list_posts(**(await bearer(alice)))
    get_store().clear()  # as when POST_LIST_CACHE_SECONDS have passed

    assert first[0] == cached[0] == 1
    assert signed_in[0] == 2  # signed-in readers skip the cache
    assert (await list_posts())[0] == 2


async def test_a_cached_page_is_what_the_api_answers_without_the_cache(
    settings: LazySettings,
) -> None:
    await Post.objects.acreate(title="a post", body="with a body", published=True)
    settings.POST_LIST_CACHE_SECONDS = 0
    uncached = await list_posts()
    settings.POST_LIST_CACHE_SECONDS = 2

    rendered, from_cache = await list_posts(), await list_posts()

    assert rendered == from_cache == uncached


async def test_a_draft_never_reaches_the_cache(alice: User) -> None:
    await Post.objects.acreate(title="secret", author=alice, published=False)
    authors_view = await list_posts(**(await bearer(alice)))

    anonymous = await list_posts()
    anonymous_drafts = await AsyncClient().get("/api/blog/posts", {"published": "false"})

    assert authors_view[0] == 1
    assert anonymous[0] == 0
    assert anonymous_drafts.json()["count"] == 0


async def test_the_page_is_served_when_the_store_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    async def unavailable(*args: object) -> None:
        raise StoreUnavailable("Redis reading failed: TimeoutError")

    monkeypatch.setattr(get_store(), "aget", unavailable)
    monkeypatch.setattr(get_store(), "aset", unavailable)
    await Post.objects.acreate(title="served", published=True)

    assert (await list_posts())[0] == 1


async def test_only_the_first_pages_at_the_default_size_are_cached(
    settings: LazySettings,
) -> None:
    """Anonymous callers choose offset and limit freely: a key per choice would let them fill
    the store with pages. 60 distinct pages keep 5 at most."""
    settings.POST_LIST_CACHE_SECONDS = 600  # none expires while the test runs
    await Post.objects.acreate(title="a post", published=True)
    pages = [(offset, limit) for offset in range(0, 200, 20) for limit in (20, 7, 100)]
    pages += [(offset, 20) for offset in range(1, 11)] + [(1000 + n, 20) for n in range(20)]
    for offset, limit in pages:
        response = await AsyncClient().get("/api/blog/posts", {"offset": offset, "limit": limit})
        assert response.status_code == 200

    kept = []
    for offset, limit in set(pages):
        key = f"blog:posts:anonymous:None:{offset}:{limit}"
        if await get_store().aget(key) is not None:
            kept.append((offset, limit))

    assert sorted(kept) == [(0, 20), (20, 20), (40, 20), (60, 20), (80, 20)]
