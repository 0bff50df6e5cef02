"""`manage.py webhooks`: deliveries by status; `--retry-failed` sends the failed ones again;
`--new-secret` prints a fresh WEBHOOK_SECRET."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from outbox import store
from outbox.models import QueuedTask
from webhooks import signing
from webhooks.models import deliveries


class Command(BaseCommand):
    help = "Show webhook deliveries by status; --retry-failed makes the failed ones due again."

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
            count = store.retry_failed(deliveries())
            self.stdout.write(f"Requeued {count} failed deliveries.")
        by_status = deliveries().values_list("status").annotate(n=Count("id"))
        counts = dict(by_status.values_list("status", "n"))
        shown = ", ".join(f"{s.lower()}: {counts.get(s, 0)}" for s in QueuedTask.Status.values)
        self.stdout.write(f"Webhook deliveries: {shown}.")
