"""`manage.py tasks`: the queue; `--drain` runs what is due; `--work` runs a worker;
`--retry-failed` makes the failed tasks due again; `--forget PATH` deletes the tasks of a
function that is no task any more (an app removed)."""

import asyncio
import contextlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from outbox import store
from outbox.compat import Task
from outbox.models import QueuedTask
from outbox.worker import TaskWorker


class Command(BaseCommand):
    help = (
        "Show the task queue. --drain runs every due task and exits; --work runs a worker "
        "until stopped (for servers without an ASGI lifespan, such as gunicorn WSGI)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--drain", action="store_true", help="Run what is due, then exit.")
        group.add_argument("--work", action="store_true", help="Run a worker until stopped.")
        group.add_argument(
            "--retry-failed", action="store_true", help="Make every failed task due again."
        )
        parser.add_argument(
            "--queue", action="append", default=[], help="A queue to work on (repeatable)."
        )
        parser.add_argument(
            "--forget",
            action="append",
            default=[],
            metavar="PATH",
            help="Delete the tasks of PATH, which is no task any more (repeatable).",
        )

    def handle(
        self,
        *args: Any,
        drain: bool,
        work: bool,
        retry_failed: bool,
        queue: list[str],
        forget: list[str],
        **_: Any,
    ) -> None:
        queues = queue or ["default"]
        if still := sorted(path for path in set(forget) if is_task(path)):
            raise CommandError(f"Still tasks, not forgotten: {', '.join(still)}")
        if forget:
            deleted = QueuedTask.objects.filter(task_path__in=forget).delete()[0]
            self.stdout.write(f"Forgot {deleted} tasks of {', '.join(sorted(set(forget)))}.")
        if retry_failed:
            self.stdout.write(f"{store.retry_failed()} failed tasks are due again.")
        elif drain:
            started = asyncio.run(TaskWorker(queues).run_until_idle())
            self.stdout.write(f"Ran {started} attempts.")
        elif work:
            self.stdout.write(f"Working on the queues {', '.join(queues)} (Ctrl-C stops).")
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(TaskWorker(queues).run())
        state = store.queue_state()
        oldest = state.oldest_due_seconds
        self.stdout.write(
            f"Due: {state.due}"
            + (f" (oldest waited {oldest:.1f} s)" if oldest is not None else "")
            + f"; failed: {state.failed}"
        )


def is_task(path: str) -> bool:
    try:
        return isinstance(import_string(path), Task)
    except ImportError:
        return False
