"""`search_index --rebuild`: a new index version from the database, with no downtime.

1. Make a new version and stream every published post into it, each with its revision.
2. Swap the alias to it in one step (searches never see a half-built index), and delete
   the older versions.
3. Reconcile: tasks that ran during the build wrote to the old version. Every post whose
   document in the new version is missing, older than its revision, or of a post no longer
   published (or gone) gets an index_posts task, which brings it up to date.
"""

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone
from elasticsearch import helpers

from blog.models import Post

from .client import get_client
from .documents import MAPPINGS, index_name, post_document, version_name, versions_behind_alias
from .indexing import enqueue_changes

logger = logging.getLogger(__name__)


@dataclass
class BulkSummary:
    total: int
    indexed: int = 0
    failed: int = 0
    version: str = ""
    reconciled: int = 0


async def rebuild_index(
    *, chunk_size: int = 500, progress: Callable[[BulkSummary], None]
) -> BulkSummary:
    started = timezone.now()
    client = get_client()
    published = Post.objects.filter(published=True).order_by("pk")
    new = version_name(f"v{started:%Y%m%d%H%M%S%f}")
    summary = BulkSummary(total=await published.acount(), version=new)
    await client.indices.create(index=new, mappings=MAPPINGS)

    async def actions() -> AsyncIterator[dict[str, Any]]:
        async for post in published.aiterator(chunk_size=chunk_size):
            yield {
                "_index": new,
                "_id": str(post.pk),
                "_source": post_document(post),
                "version": post.revision,  # as the tasks write it (indexing.py)
                "version_type": "external_gte",
            }

    try:
        async for ok, item in helpers.async_streaming_bulk(
            client, actions(), chunk_size=chunk_size, raise_on_error=False, max_retries=2
        ):
            summary.indexed += ok
            summary.failed += not ok
            if not ok:
                logger.error("Could not index %s", item)
            progress(summary)
        if summary.failed:
            raise RebuildFailed(summary)
        await client.indices.refresh(index=new)
        await swap_alias(new)
    except BaseException:
        await client.indices.delete(index=new, ignore_unavailable=True)
        raise
    summary.reconciled = await reconcile(new, chunk_size)
    return summary


async def reconcile(version: str, chunk_size: int) -> int:
    """Enqueue index_posts for every post the new version does not show as the database
    has it now; returns how many. One pass over the index and the published posts."""
    indexed: dict[int, int] = {}
    async for hit in helpers.async_scan(
        get_client(),
        index=version,
        query={"query": {"match_all": {}}},
        _source=False,
        version=True,
        size=chunk_size,
    ):
        indexed[int(hit["_id"])] = hit["_version"]
    stale = []
    # Posts, not values_list(): Django's aiterator() of a values_list() queries in the loop.
    published = Post.objects.filter(published=True).only("revision")
    async for post in published.aiterator(chunk_size=chunk_size):
        if indexed.pop(post.pk, 0) < post.revision:
            stale.append(post.pk)
    stale += indexed  # in the index, but a draft now, or gone
    await sync_to_async(enqueue_changes)(Post, stale)
    return len(stale)


async def swap_alias(new: str) -> None:
    client = get_client()
    alias = index_name()
    old = await versions_behind_alias()
    if not old and await client.indices.exists(index=alias):
        # An index named like the alias, from before versions: it must go before the alias
        # can take its name. Searches find nothing for that moment, once.
        await client.indices.delete(index=alias)
    await client.indices.update_aliases(
        actions=[
            *({"remove": {"index": name, "alias": alias}} for name in old),
            {"add": {"index": new, "alias": alias}},
        ]
    )
    # Older versions go; a newer one (a rebuild started after this one) stays.
    versions = await client.indices.get(index=f"{alias}-v*")
    if stale := [name for name in versions if name < new]:
        await client.indices.delete(index=",".join(stale))


class RebuildFailed(Exception):
    def __init__(self, summary: BulkSummary) -> None:
        super().__init__(f"{summary.failed} of {summary.total} posts could not be indexed")
        self.summary = summary
