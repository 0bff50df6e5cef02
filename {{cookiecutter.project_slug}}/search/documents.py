"""What a post looks like in the search index, and the index itself.

ELASTICSEARCH_INDEX ("posts") is an alias. It points at one versioned index
("posts-v20261129103000123456"); a rebuild fills a new version, then swaps the alias in
one step, so searches see either the old index whole or the new one whole. Only
published posts are in the index.
"""

from typing import Any

from django.conf import settings
from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError

from blog.models import Post

from .client import get_client

MAPPINGS: dict[str, Any] = {
    "properties": {
        "title": {"type": "text"},
        "body": {"type": "text"},
        "published": {"type": "boolean"},
        "created_at": {"type": "date"},
    }
}
SEARCHED_FIELDS = ["title^2", "body"]
# The version that ensure_index() makes when there is none: a fixed name, so that two
# workers making it at once make one index, not two behind the alias.
FIRST_VERSION = "v0"


def index_name() -> str:
    """The alias that every read and write goes through."""
    return str(settings.ELASTICSEARCH_INDEX)


def version_name(version: str) -> str:
    return f"{index_name()}-{version}"


def post_document(post: Post) -> dict[str, Any]:
    return {
        "title": post.title,
        "body": post.body,
        "published": post.published,
        "created_at": post.created_at.isoformat(),
    }


async def ensure_index(client: AsyncElasticsearch | None = None) -> None:
    """Make the first version and its alias unless the alias (or an index of that name,
    from before aliases) exists. Writing to a missing alias would create an index with
    guessed mappings instead."""
    client = client or get_client()
    if await client.indices.exists(index=index_name()):
        return
    try:
        await client.indices.create(
            index=version_name(FIRST_VERSION), mappings=MAPPINGS, aliases={index_name(): {}}
        )
    except BadRequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


async def versions_behind_alias() -> list[str]:
    try:
        found = await get_client().indices.get_alias(name=index_name())
    except NotFoundError:
        return []
    return sorted(found.keys())
