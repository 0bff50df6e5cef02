"""`manage.py seed_posts --count 100`: sample posts for the demo and for load tests."""

import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from blog.models import Post

WORDS = [
    *("async", "django", "ninja", "event", "loop", "thread", "await", "coroutine", "query"),
    *("index", "search", "worker", "request", "response", "latency", "elastic", "postgres"),
    *("pool", "connection", "schema", "router", "uvicorn", "lifespan"),
]


class Command(BaseCommand):
    help = "Create sample blog posts (about two in three published)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=100, help="How many posts (default 100).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed, for repeatable text.")

    def handle(self, *args: Any, count: int, seed: int, **options: Any) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1")
        rng = random.Random(seed)
        posts = [
            Post(
                title=" ".join(rng.choices(WORDS, k=4)).capitalize(),
                body=" ".join(rng.choices(WORDS, k=60)),
                published=rng.random() < 2 / 3,
            )
            for _ in range(count)
        ]
        Post.objects.bulk_create(posts, batch_size=1000)
        self.stdout.write(self.style.SUCCESS(f"Created {count} posts."))
