"""`manage.py webhooks`: deliveries by state; `--retry-failed` sends the failed ones again."""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count

from outbox import store
from outbox.models import Message
from webhooks.delivery import TOPIC


class Command(BaseCommand):
    help = "Show webhook deliveries by state; --retry-failed makes the failed ones pending again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--retry-failed", action="store_true", help="Requeue failures.")

    def handle(self, *args: Any, retry_failed: bool, **options: Any) -> None:
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
