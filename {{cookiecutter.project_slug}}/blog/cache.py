"""A short-lived cache of the post list for anonymous readers, in the key-value store.

Why this path: GET /api/blog/posts is the read every visitor makes and the dearest one (two
queries, the page and the count, then 20 posts rendered), and every anonymous caller sees
the same pages, so one copy serves them all. Signed-in callers may see drafts: they skip it.
The rendered bytes are kept for POST_LIST_CACHE_SECONDS: a change reaches anonymous readers
at most that late (no invalidation: short-lived is simpler than exact, and is what a public
list needs). bench/hotpath.py --list measures it.

With the redis store the copy is shared by every worker; a Redis that fails or is slow
reads as a miss (keyvalue/redis_store.py bounds each call), never an error.
"""

import contextlib
from collections.abc import Awaitable, Callable

from django.conf import settings

from keyvalue import StoreUnavailable, get_store

# Only these pages are kept: the first few at the default page size. Offsets and limits are
# the caller's choice; a key per choice would let anonymous callers fill the store with
# pages (and, sharing it, push the rate-limit counts out of an LRU).
CACHED_PAGE_SIZE = 20
CACHED_PAGES = 5


def page_key(*, published: bool | None, offset: int, limit: int) -> str | None:
    """The page's key in the store, or None for a page that is not kept."""
    if limit != CACHED_PAGE_SIZE or offset % limit or offset >= CACHED_PAGES * limit:
        return None
    return f"blog:posts:anonymous:{published}:{offset}:{limit}"


async def cached(key: str, render: Callable[[], Awaitable[bytes]]) -> bytes:
    """The bytes kept under `key`, or render() kept for POST_LIST_CACHE_SECONDS."""
    store = get_store()
    try:
        body = await store.aget(key)
    except StoreUnavailable:
        body = None
    if body is not None:
        return body
    body = await render()
    # Failing: served uncached (the rate limits' log line says the store is failing).
    with contextlib.suppress(StoreUnavailable):
        await store.aset(key, body, settings.POST_LIST_CACHE_SECONDS)
    return body
