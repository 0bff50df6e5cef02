"""`manage.py create_api_token USERNAME [--new-user] [--name N] [--expires-in-days D]`.

An API client is best a user of its own, with no staff rights and no password: `--new-user`
makes one (it may write what any signed-in user may; grant more with groups in the admin).

Prints the token once, alone on the last line (so `| tail -n 1` captures it): only its
digest is stored, so it cannot be shown again. Revoke it in the admin.
"""

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tokens import issue_token


class Command(BaseCommand):
    help = "Make an API token for a user and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--new-user",
            action="store_true",
            help="Make USERNAME first: a normal user (not staff) without a password.",
        )
        parser.add_argument("--name", default="", help="What the token is for.")
        parser.add_argument(
            "--expires-in-days", type=int, help="Days until it expires (default: never)."
        )

    def handle(
        self,
        *args: Any,
        username: str,
        new_user: bool,
        name: str,
        expires_in_days: int | None,
        **options: Any,
    ) -> None:
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1")
        if len(name) > 100:
            raise CommandError("--name must be at most 100 characters")
        users = get_user_model()._default_manager
        exists = users.filter(**{users.model.USERNAME_FIELD: username}).exists()
        if new_user and exists:
            raise CommandError(f"User {username!r} exists already: leave out --new-user")
        if not new_user and not exists:
            raise CommandError(
                f"No user {username!r}: add --new-user to make one for this API client "
                "(a normal user without a password)"
            )
        if new_user:
            user = users.create_user(**{users.model.USERNAME_FIELD: username})
        else:
            user = users.get_by_natural_key(username)
        expires_in = timedelta(days=expires_in_days) if expires_in_days else None
        record, token = issue_token(user, name=name, expires_in=expires_in)
        expiry = f"expires {record.expires_at:%Y-%m-%d %H:%M} UTC" if expires_in else "no expiry"
        self.stderr.write(f"Token {record.prefix}… for {username} ({expiry}). Shown once:")
        self.stdout.write(token)
