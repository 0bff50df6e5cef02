"""GET /api/search: query_string search over the published posts."""

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from elasticsearch import NotFoundError
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError

from .client import request_client
from .documents import SEARCHED_FIELDS, index_name
from .errors import SEARCH_ERRORS

router = Router(tags=["search"])


class SearchParams(Schema):
    q: str = Field(
        min_length=1,
        max_length=settings.SEARCH_MAX_QUERY_LENGTH,
        description="Lucene query_string syntax: words, AND/OR, quotes, field:value, trailing *.",
    )
    size: int = Field(10, ge=1, le=settings.SEARCH_MAX_SIZE, description="Hits per page.")
    from_: int = Field(0, ge=0, le=1000, alias="from", description="Hits to skip.")


class SearchHit(Schema):
    id: int
    score: float | None
    title: str
    body: str
    created_at: datetime
    highlight: dict[str, list[str]]


class SearchResults(Schema):
    total: int
    hits: list[SearchHit]


def has_regular_expression(query: str) -> bool:
    """An unescaped "/" starts a regular expression in query_string syntax, except inside a
    quoted phrase ("either/or"), where it is a plain character."""
    escaped = quoted = False
    for character in query:
        if not escaped:
            if character == '"':
                quoted = not quoted
            elif character == "/" and not quoted:
                return True
        escaped = character == "\\" and not escaped
    return False


@router.get("", response={200: SearchResults, **SEARCH_ERRORS})
async def search(request: HttpRequest, params: Query[SearchParams]) -> SearchResults:
    """Search published posts. An index that does not exist yet gives no hits, not an error
    (the first indexing task makes it). Highlights are HTML-encoded: `<em>` marks
    the matches, and everything else in them is escaped text."""
    if has_regular_expression(params.q):
        # Like a leading wildcard, a regular expression scans every term in the index.
        raise HttpError(
            400,
            "Malformed query: regular expressions (/.../) are not allowed; escape a slash as \\/",
        )
    try:
        async with request_client() as client:
            found = await client.search(
                index=index_name(),
                query={
                    "bool": {
                        "must": {
                            "query_string": {
                                "query": params.q,
                                "fields": SEARCHED_FIELDS,
                                # A leading wildcard scans every term in the index: refuse it.
                                "allow_leading_wildcard": False,
                            }
                        },
                        "filter": {"term": {"published": True}},
                    }
                },
                # Stored text is escaped in highlights: clients may insert them as HTML.
                highlight={"encoder": "html", "fields": {"title": {}, "body": {}}},
                size=params.size,
                from_=params.from_,
                track_total_hits=True,
            )
    except NotFoundError:
        return SearchResults(total=0, hits=[])
    return SearchResults(
        total=found["hits"]["total"]["value"],
        hits=[
            SearchHit(
                id=int(hit["_id"]),
                score=hit.get("_score"),
                highlight=hit.get("highlight", {}),
                **{key: hit["_source"][key] for key in ("title", "body", "created_at")},
            )
            for hit in found["hits"]["hits"]
        ],
    )
