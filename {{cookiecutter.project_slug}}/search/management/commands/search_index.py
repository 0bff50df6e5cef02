"""`manage.py search_index`: the index's state; `--rebuild`: a new version from the database."""

import asyncio
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from elasticsearch import ApiError, TransportError

from search.client import close_all, get_client
from search.documents import index_name, versions_behind_alias
from search.rebuild import BulkSummary, RebuildFailed, rebuild_index

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Show which index version serves searches. --rebuild builds a new version from the "
        "database and swaps it in with no downtime (changes meanwhile are not lost)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="Build a new index version and swap to it."
        )
        parser.add_argument("--chunk-size", type=int, default=500, help="Posts per bulk request.")

    def handle(self, *args: Any, rebuild: bool, chunk_size: int, **options: Any) -> None:
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        try:
            if rebuild:
                summary = asyncio.run(self.rebuild(chunk_size))
            else:
                self.stdout.write(asyncio.run(self.describe()))
                return
        except RebuildFailed as exc:
            raise CommandError(f"{exc}; searches still use the old version (see the log)") from exc
        except (ApiError, TransportError) as exc:
            raise CommandError(f"Elasticsearch failed: {exc}") from exc
        self.stdout.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"Indexed {summary.indexed} published posts into {summary.version!r}, now behind "
                f"{index_name()!r}; {summary.reconciled} posts changed meanwhile are queued again."
            )
        )

    async def rebuild(self, chunk_size: int) -> BulkSummary:
        try:
            return await rebuild_index(chunk_size=chunk_size, progress=self.show_progress)
        finally:
            await close_all()

    async def describe(self) -> str:
        try:
            versions = await versions_behind_alias()
            if not versions:
                return f"No index behind {index_name()!r} yet: run search_index --rebuild."
            count = await get_client().count(index=index_name())
            return f"{index_name()!r} -> {', '.join(versions)}: {count['count']} documents."
        finally:
            await close_all()

    def show_progress(self, summary: BulkSummary) -> None:
        done = summary.indexed + summary.failed
        if done % 100 and done != summary.total:
            return  # redraw every 100 posts
        filled = BAR_WIDTH * done // max(summary.total, 1)
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        end = "\r" if sys.stdout.isatty() else "\n"
        self.stdout.write(f"[{bar}] {done}/{summary.total}", ending=end)
