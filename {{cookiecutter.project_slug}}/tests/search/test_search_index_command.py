"""`manage.py search_index`: bulk indexing from the database, with progress and a summary."""

import asyncio
from io import StringIO

import pytest
from django.conf import LazySettings
from django.core.management import CommandError, call_command

from blog.models import Post
from search.client import close_all, get_client
from search.documents import index_name

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db(transaction=True)]


async def count_indexed() -> int:
    try:
        return int((await get_client().count(index=index_name()))["count"])
    finally:
        await close_all()


def test_rebuild_indexes_every_post_and_reports(db: None) -> None:
    call_command("seed_posts", "--count", "250")
    out = StringIO()

    call_command("search_index", "--rebuild", "--chunk-size", "100", stdout=out)

    assert "[##############################] 250/250" in out.getvalue()
    assert "Indexed 250 of 250 posts" in out.getvalue()
    assert asyncio.run(count_indexed()) == 250


def test_rebuild_drops_documents_of_deleted_posts(db: None) -> None:
    call_command("seed_posts", "--count", "10")
    call_command("search_index", stdout=StringIO())
    Post.objects.filter(pk__in=Post.objects.values_list("pk", flat=True)[:4]).delete()

    call_command("search_index", "--rebuild", stdout=StringIO())

    assert asyncio.run(count_indexed()) == 6


def test_engine_down_is_a_command_error(db: None, settings: LazySettings, closed_port: int) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{closed_port}"]

    with pytest.raises(CommandError, match="Elasticsearch failed"):
        call_command("search_index", stdout=StringIO())
