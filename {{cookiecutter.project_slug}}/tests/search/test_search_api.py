"""GET /api/search end to end (URL routing, middleware, view, engine), and its failures."""

import itertools
import logging
from typing import Any

import pytest
from django.conf import LazySettings
from django.test import AsyncClient

from accounts.models import User
from blog.models import Post
from outbox.models import QueuedTask
from outbox.worker import TaskWorker
from search.client import get_client
from search.documents import index_name

from {{ cookiecutter.project_slug }}.runtime.request_log import ConsoleFormatter

from ..conftest import bearer
from .conftest import CannedAnswer, IndexPosts, SilentServer

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db(transaction=True)]


async def search(**params: Any) -> Any:
    return await AsyncClient().get("/api/search", params)


async def test_search_finds_published_posts_with_highlights(index_posts: IndexPosts) -> None:
    match, _draft, _other = await index_posts(
        ("Async Django tips", True), ("Async draft", False), ("Cooking pasta", True)
    )

    response = await search(q="async")

    assert response.status_code == 200
    results = response.json()
    assert results["total"] == 1
    assert [hit["id"] for hit in results["hits"]] == [match.pk]
    assert results["hits"][0]["title"] == "Async Django tips"
    assert "<em>Async</em>" in results["hits"][0]["highlight"]["title"][0]


async def test_a_draft_left_in_the_index_never_shows(index_posts: IndexPosts) -> None:
    """Indexes made by older versions held drafts too: the query filters them out."""
    await index_posts(("published kiwi", True))
    draft = {"title": "draft kiwi", "body": "", "published": False, "created_at": "2026-01-01"}
    await get_client().index(index=index_name(), id="999", document=draft, refresh=True)

    hits = (await search(q="kiwi")).json()["hits"]

    assert [hit["title"] for hit in hits] == ["published kiwi"]


async def test_search_pages_through_hits(index_posts: IndexPosts) -> None:
    posts = await index_posts(*((f"django post {n}", True) for n in range(5)))

    first = (await search(q="django", size=2)).json()
    second = (await search(q="django", size=2, **{"from": 2})).json()
    last = (await search(q="django", size=2, **{"from": 4})).json()

    assert first["total"] == second["total"] == 5
    pages = [[hit["id"] for hit in page["hits"]] for page in (first, second, last)]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(itertools.chain(*pages)) == sorted(post.pk for post in posts)


async def test_query_string_syntax_works(index_posts: IndexPosts) -> None:
    await index_posts(("async views", True), ("async tasks", True), ("sync views", True))

    response = await search(q='title:async AND "views"')

    assert [hit["title"] for hit in response.json()["hits"]] == ["async views"]


@pytest.mark.parametrize(
    "query", ["title:(unclosed", "*leading", "/.*orn.*/", "title:/a.*/", "a \\\\/b/"]
)
async def test_malformed_or_expensive_query_is_a_400(index_posts: IndexPosts, query: str) -> None:
    await index_posts(("anything", True))

    response = await search(q=query)

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Malformed query: ")


async def test_a_malformed_query_is_not_answered_with_the_engines_reason(
    index_posts: IndexPosts,
) -> None:
    await index_posts(("anything", True))

    response = await search(q="title:(unclosed")

    assert response.status_code == 400
    assert "unclosed" not in response.json()["detail"]
    assert "parse" not in response.json()["detail"].lower()


async def test_a_query_cannot_forge_a_log_line(
    index_posts: IndexPosts, caplog: pytest.LogCaptureFixture
) -> None:
    """The refused query's reason is logged; a newline in the query stays in its line."""
    await index_posts(("anything", True))
    with caplog.at_level(logging.INFO, logger="search.errors"):
        await search(q="title:(\n2026-01-01 00:00:00 INFO access [x] GET forged 200")

    console = ConsoleFormatter("%(levelname)s %(name)s %(message)s")
    lines = [console.format(r) for r in caplog.records if r.name == "search.errors"]
    assert lines and not [line for line in lines if "\n" in line]


async def test_a_slash_in_a_quoted_phrase_is_a_plain_character(index_posts: IndexPosts) -> None:
    await index_posts(("either/or", True), ("neither", True))

    response = await search(q='"either/or"')

    assert response.status_code == 200
    assert [hit["title"] for hit in response.json()["hits"]] == ["either/or"]


async def test_an_escaped_slash_is_a_plain_character(index_posts: IndexPosts) -> None:
    await index_posts(("either/or", True))

    response = await search(q="either\\/or")

    assert response.status_code == 200


async def test_highlights_are_html_escaped(index_posts: IndexPosts) -> None:
    await index_posts(("quokkafest <script>alert(1)</script>", True))

    response = await search(q="quokkafest")

    (highlight,) = response.json()["hits"][0]["highlight"]["title"]
    assert "<script>" not in highlight
    assert "&lt;script&gt;" in highlight
    assert "<em>quokkafest</em>" in highlight


async def test_missing_index_gives_no_hits() -> None:
    response = await search(q="anything")

    assert response.status_code == 200
    assert response.json() == {"total": 0, "hits": []}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": ""},
        {"q": "x" * 257},
        {"q": "a", "size": 0},
        {"q": "a", "size": 51},
        {"q": "a", "from": -1},
    ],
)
async def test_bad_parameters_are_a_422(params: dict[str, Any]) -> None:
    response = await search(**params)

    assert response.status_code == 422


async def test_engine_down_is_a_503(settings: LazySettings, closed_port: int) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{closed_port}"]

    response = await search(q="anything")

    assert response.status_code == 503
    assert response.json() == {"detail": "The search engine is unavailable"}


async def test_engine_that_never_answers_is_a_504_after_one_try(
    settings: LazySettings, silent_server: SilentServer
) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{silent_server.port}"]
    settings.ELASTICSEARCH_TIMEOUT = 0.5

    response = await search(q="anything")

    assert response.status_code == 504
    assert response.json() == {"detail": "The search engine timed out"}
    # A slow engine is not asked again (each retry would add a whole timeout to the wait).
    assert silent_server.connections() == 1


JSON = {"content-type": "application/json"}
FROM_ELASTICSEARCH = {**JSON, "x-elastic-product": "Elasticsearch"}
ERROR = b'{"error": {"type": "internal", "reason": "secret internals"}, "status": 0}'
REFUSED = "The search engine refused our credentials"
# What the engine answers, and the 502 detail the caller gets instead.
ENGINE_FAILURES = {
    "unauthenticated": (401, FROM_ELASTICSEARCH, ERROR, REFUSED),
    "unauthorized": (403, FROM_ELASTICSEARCH, ERROR, REFUSED),
    "not-elasticsearch": (200, JSON, b"{}", "The search server is not Elasticsearch"),
    "engine-error": (500, FROM_ELASTICSEARCH, ERROR, "The search engine answered with an error"),
    "unreadable": (200, FROM_ELASTICSEARCH, b"{not json", "The search engine could not be read"),
}


@pytest.mark.parametrize(
    ("status", "headers", "body", "detail"), ENGINE_FAILURES.values(), ids=ENGINE_FAILURES
)
async def test_engine_failures_are_a_502_without_internals(
    settings: LazySettings,
    canned_answer: CannedAnswer,
    status: int,
    headers: dict[str, str],
    body: bytes,
    detail: str,
) -> None:
    settings.ELASTICSEARCH_URL = [canned_answer(status, headers, body)]

    response = await search(q="anything")

    assert response.status_code == 502
    assert response.json() == {"detail": detail}


async def test_creating_a_post_with_the_engine_down_keeps_the_post(
    settings: LazySettings, closed_port: int, caplog: pytest.LogCaptureFixture, alice: User
) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{closed_port}"]

    created = await AsyncClient().post(
        "/api/blog/posts",
        {"title": "kept"},
        content_type="application/json",
        headers=await bearer(alice),
    )

    assert created.status_code == 201
    assert await Post.objects.filter(pk=created.json()["id"]).aexists()
    await TaskWorker().run_until_idle()  # the worker cannot index it ...
    assert "tasks: search.indexing.index_posts is failing: ConnectionError" in caplog.text
    # ... and keeps it for later (test_indexing.py: it is indexed once the engine is back).
    task = await QueuedTask.objects.aget(task_path="search.indexing.index_posts")
    assert (task.status, len(task.errors)) == ("READY", 1)
