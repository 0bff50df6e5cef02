"""`manage.py search_index [--rebuild]`: put every post into the search index."""

import asyncio
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from elasticsearch import ApiError, TransportError

from search.client import close_all
from search.documents import BulkSummary, index_all_posts, index_name

BAR_WIDTH = 30


class Command(BaseCommand):
    help = "Index every post (with --rebuild: drop and recreate the index first)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--rebuild", action="store_true", help="Delete the index and create it anew first."
        )
        parser.add_argument("--chunk-size", type=int, default=500, help="Posts per bulk request.")

    def handle(self, *args: Any, rebuild: bool, chunk_size: int, **options: Any) -> None:
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        try:
            summary = asyncio.run(self.index(rebuild, chunk_size))
        except (ApiError, TransportError) as exc:
            raise CommandError(f"Elasticsearch failed: {exc}") from exc
        self.stdout.write("")
        message = f"Indexed {summary.indexed} of {summary.total} posts into {index_name()!r}"
        if summary.failed:
            raise CommandError(f"{message}; {summary.failed} failed (see the log)")
        self.stdout.write(self.style.SUCCESS(f"{message}, 0 failed."))

    async def index(self, rebuild: bool, chunk_size: int) -> BulkSummary:
        try:
            return await index_all_posts(
                recreate=rebuild, chunk_size=chunk_size, progress=self.show_progress
            )
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
