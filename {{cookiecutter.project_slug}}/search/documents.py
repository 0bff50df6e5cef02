"""What a post looks like in the search index, and how posts get there."""

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from elasticsearch import ApiError, TransportError, helpers

from blog.models import Post

from .client import get_client

logger = logging.getLogger(__name__)

MAPPINGS: dict[str, Any] = {
    "properties": {
        "title": {"type": "text"},
        "body": {"type": "text"},
        "published": {"type": "boolean"},
        "created_at": {"type": "date"},
    }
}
SEARCHED_FIELDS = ["title^2", "body"]


def index_name() -> str:
    return str(settings.ELASTICSEARCH_INDEX)


def post_document(post: Post) -> dict[str, Any]:
    return {
        "title": post.title,
        "body": post.body,
        "published": post.published,
        "created_at": post.created_at.isoformat(),
    }


async def index_post(post: Post, *, refresh: bool = False) -> None:
    await get_client().index(
        index=index_name(), id=str(post.pk), document=post_document(post), refresh=refresh
    )


async def index_new_post(sender: type[Post], post: Post, **kwargs: Any) -> None:
    """Receiver of blog's post_created: the post is saved already, so a failure here only
    leaves it out of search until the next `manage.py search_index`; it is logged, not raised."""
    try:
        await index_post(post)
    except (ApiError, TransportError):
        logger.exception("Post %s was saved but not indexed; run manage.py search_index", post.pk)


async def create_index(*, recreate: bool = False) -> None:
    client = get_client()
    if recreate:
        await client.indices.delete(index=index_name(), ignore_unavailable=True)
    elif await client.indices.exists(index=index_name()):
        return
    await client.indices.create(index=index_name(), mappings=MAPPINGS)


@dataclass
class BulkSummary:
    total: int
    indexed: int = 0
    failed: int = 0


async def index_all_posts(
    *, recreate: bool = False, chunk_size: int = 500, progress: Callable[[BulkSummary], None]
) -> BulkSummary:
    """Stream every post from the database into the index, reporting progress per post."""
    await create_index(recreate=recreate)
    summary = BulkSummary(total=await Post.objects.acount())

    async def actions() -> AsyncIterator[dict[str, Any]]:
        async for post in Post.objects.order_by("pk").aiterator(chunk_size=chunk_size):
            yield {"_index": index_name(), "_id": str(post.pk), "_source": post_document(post)}

    async for ok, item in helpers.async_streaming_bulk(
        get_client(), actions(), chunk_size=chunk_size, raise_on_error=False, max_retries=2
    ):
        if ok:
            summary.indexed += 1
        else:
            summary.failed += 1
            logger.error("Could not index %s", item)
        progress(summary)
    await get_client().indices.refresh(index=index_name())
    return summary
