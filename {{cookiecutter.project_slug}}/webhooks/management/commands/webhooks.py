"""`manage.py webhooks`: deliveries by state; `--retry-failed` sends the failed ones again;
`--new-secret` prints a fresh WEBHOOK_SECRET."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from outbox import store
from outbox.models import Message
from webhooks import signing
from webhooks.delivery import TOPIC


class Command(BaseCommand):
    help = "Show webhook deliveries by state; --retry-failed makes the failed ones pending again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retry-failed", action="store_true", help="Requeue failures.")
        parser.add_argument(
            "--new-secret", action="store_true", help="Print a fresh WEBHOOK_SECRET and stop."
        )

    def handle(self, *args: Any, retry_failed: bool, new_secret: bool, **options: Any) -> None:
        if new_secret:
            self.stdout.write(signing.new_secret())
            return
        if retry_failed:
            count = store.retry_failed(TOPIC)
            self.stdout.write(f"Requeued {count} failed deliveries.")
        states = dict(
            Message.objects.filter(topic=TOPIC)
            .values_list("state")
            .annotate(count=Count("id"))
            .values_list("state", "count")
        )
        shown = ", ".join(f"{state}: {states.get(state, 0)}" for state in Message.State.values)
        self.stdout.write(f"Webhook deliveries: {shown}.")
