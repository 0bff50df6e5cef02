"""`manage.py outbox`: the backlog; `--drain` does what is due now; `--work` runs a worker;
`--forget TOPIC` deletes the messages of a topic no app handles any more (an app removed)."""

import asyncio
import contextlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from outbox import store
from outbox.handlers import handlers
from outbox.models import Message
from outbox.worker import Worker


class Command(BaseCommand):
    help = (
        "Show the outbox backlog. --drain handles every due message and exits; --work runs a "
        "worker until stopped (for servers without an ASGI lifespan, such as gunicorn WSGI)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--drain", action="store_true", help="Handle what is due, then exit.")
        group.add_argument("--work", action="store_true", help="Run a worker until stopped.")
        parser.add_argument(
            "--forget",
            action="append",
            default=[],
            metavar="TOPIC",
            help="Delete the messages of TOPIC, which no installed app handles (repeatable).",
        )

    def handle(
        self, *args: Any, drain: bool, work: bool, forget: list[str], **options: Any
    ) -> None:
        if still_handled := sorted(set(forget) & set(handlers)):
            raise CommandError(f"Still handled, not forgotten: {', '.join(still_handled)}")
        if forget:
            deleted = Message.objects.filter(topic__in=forget).delete()[0]
            self.stdout.write(f"Forgot {deleted} messages of {', '.join(sorted(set(forget)))}.")
        if (drain or work) and not handlers:
            raise CommandError("No app registered an outbox handler: there is nothing to do.")
        if drain:
            handled = asyncio.run(self.drain())
            self.stdout.write(f"Handled {handled} messages.")
        elif work:
            self.stdout.write(f"Working on: {', '.join(sorted(handlers))} (Ctrl-C stops).")
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(self.work())
        backlog = store.backlog()
        oldest = backlog.oldest_pending_seconds
        self.stdout.write(
            f"Pending: {backlog.pending}"
            + (f" (oldest {oldest:.1f} s)" if oldest is not None else "")
            + f"; failed: {backlog.failed}"
        )

    async def drain(self) -> int:
        return await Worker().run_until_idle()

    async def work(self) -> None:
        await Worker().run()
