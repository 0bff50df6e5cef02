"""`search_index --rebuild`: a new index version from the database, with no downtime.

1. Note the time, make a new version and stream every published post into it.
2. Swap the alias to it in one step (searches never see a half-built index), and delete
   the older versions.
3. Changes the worker applied to the old version during the build are recorded again
   (from the outbox's done messages since step 1): the worker applies them to the new one.
"""

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.utils import timezone
from elasticsearch import helpers

from blog.models import Post
from outbox import store

from .client import get_client
from .documents import MAPPINGS, index_name, post_document, version_name, versions_behind_alias
from .indexing import TOPIC

logger = logging.getLogger(__name__)

# Changes committed up to this long before the rebuild started may still have been
# applied after it started: they are applied again, which is harmless.
REQUEUE_MARGIN = timedelta(seconds=60)


@dataclass
class BulkSummary:
    total: int
    indexed: int = 0
    failed: int = 0
    version: str = ""
    requeued: int = 0


async def rebuild_index(
    *, chunk_size: int = 500, progress: Callable[[BulkSummary], None]
) -> BulkSummary:
    started = timezone.now()
    client = get_client()
    published = Post.objects.filter(published=True).order_by("pk")
    new = version_name(f"v{started:%Y%m%d%H%M%S%f}")
    summary = BulkSummary(total=await published.acount(), version=new)
    await client.indices.create(index=new, mappings=MAPPINGS)

    # The worker's writes carry their post's newest outbox message id as a version
    # (indexing.py): the rebuild's read is newer than every message recorded before it.
    version = await sync_to_async(store.last_message_id)()

    async def actions() -> AsyncIterator[dict[str, Any]]:
        async for post in published.aiterator(chunk_size=chunk_size):
            yield {
                "_index": new,
                "_id": str(post.pk),
                "_source": post_document(post),
                "version": version,
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
    summary.requeued = await sync_to_async(store.requeue_done_since)(
        TOPIC, started - REQUEUE_MARGIN
    )
    return summary


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
