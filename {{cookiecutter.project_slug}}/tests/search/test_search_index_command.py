"""`manage.py search_index`: the index's state, and --rebuild (progress and a summary)."""

import asyncio
from io import StringIO

import pytest
from django.conf import LazySettings
from django.core.management import CommandError, call_command
from django.db import connection

from blog.models import Post
from search.client import close_all, get_client
from search.documents import index_name

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db(transaction=True)]


async def count_indexed() -> int:
    try:
        return int((await get_client().count(index=index_name()))["count"])
    finally:
        await close_all()


def test_rebuild_indexes_every_published_post_and_reports(db: None) -> None:
    call_command("seed_posts", "--count", "250")
    published = Post.objects.filter(published=True).count()
    out = StringIO()

    call_command("search_index", "--rebuild", "--chunk-size", "100", stdout=out)

    assert f"[##############################] {published}/{published}" in out.getvalue()
    assert f"Indexed {published} published posts into '{index_name()}-v" in out.getvalue()
    assert asyncio.run(count_indexed()) == published
    out = StringIO()
    call_command("search_index", stdout=out)
    assert f"{published} documents" in out.getvalue()


def test_rebuild_drops_documents_of_posts_deleted_behind_the_outbox_back(db: None) -> None:
    """Even rows deleted with raw SQL, which no signal sees, leave the index at a rebuild."""
    call_command("seed_posts", "--count", "10")
    Post.objects.update(published=True)
    call_command("search_index", "--rebuild", stdout=StringIO())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM blog_post WHERE id IN (SELECT id FROM blog_post LIMIT 4)")

    call_command("search_index", "--rebuild", stdout=StringIO())

    assert asyncio.run(count_indexed()) == 6


def test_no_index_yet_says_how_to_build_it(db: None) -> None:
    out = StringIO()
    call_command("search_index", stdout=out)
    assert "No index behind" in out.getvalue()


def test_engine_down_is_a_command_error(db: None, settings: LazySettings, closed_port: int) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{closed_port}"]

    with pytest.raises(CommandError, match="Elasticsearch failed"):
        call_command("search_index", stdout=StringIO())
