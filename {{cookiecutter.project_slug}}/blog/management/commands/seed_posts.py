"""`manage.py seed_posts --count 100 [--author NAME]`: sample posts for the demo and load tests.

Every post has an author, so someone other than staff can edit it: the user named by
`--author`, else the first superuser, else a user `demo-author` made for the purpose (no
password: `create_api_token demo-author` gives it a token).
"""

import random
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from blog.models import Post

WORDS = [
    *("async", "django", "ninja", "event", "loop", "thread", "await", "coroutine", "query"),
    *("index", "search", "worker", "request", "response", "latency", "elastic", "postgres"),
    *("pool", "connection", "schema", "router", "uvicorn", "lifespan"),
]
DEMO_AUTHOR = "demo-author"


def seed_author(username: str | None) -> User:
    """The named user, else the first superuser, else the demo author (made if missing)."""
    if username is not None:
        try:
            return User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(
                f"No user {username!r}: leave out --author to use the first superuser "
                f"(or {DEMO_AUTHOR!r}, made for the purpose)"
            ) from None
    superuser = User.objects.filter(is_superuser=True).order_by("pk").first()
    if superuser is not None:
        return superuser
    author, created = User.objects.get_or_create(username=DEMO_AUTHOR)
    if created:
        author.set_unusable_password()
        author.save(update_fields=["password"])
    return author


class Command(BaseCommand):
    help = "Create sample blog posts (about two in three published)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=100, help="How many posts (default 100).")
        parser.add_argument("--seed", type=int, default=0, help="Random seed, for repeatable text.")
        parser.add_argument(
            "--author",
            help=f"The posts' author (default: the first superuser, else {DEMO_AUTHOR}).",
        )

    def handle(self, *args: Any, count: int, seed: int, author: str | None, **options: Any) -> None:
        if count < 1:
            raise CommandError("--count must be at least 1")
        user = seed_author(author)
        rng = random.Random(seed)
        posts = [
            Post(
                title=" ".join(rng.choices(WORDS, k=4)).capitalize(),
                body=" ".join(rng.choices(WORDS, k=60)),
                published=rng.random() < 2 / 3,
                author=user,
            )
            for _ in range(count)
        ]
        Post.objects.bulk_create(posts, batch_size=1000)
        self.stdout.write(self.style.SUCCESS(f"Created {count} posts by {user.get_username()}."))
