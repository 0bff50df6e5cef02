"""What tasks cost: `python -m bench.tasks` (part of `make bench`).

On a scratch database (a temporary SQLite file, or BENCH_DATABASE_URL), in this process:
- enqueue: CPU and wall time of `task.enqueue()` inside a transaction, as a view does it
  (one row written with the change);
- throughput: TASKS tasks enqueued, then run by one worker (TaskWorker) at its default
  concurrency, async tasks and sync ones: tasks per second, each claimed, run and finished.
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

SCRATCH = Path(tempfile.mkdtemp(prefix="bench-tasks-")) / "tasks.sqlite3"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{SCRATCH}")
os.environ["LOG_LEVEL"] = "WARNING"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from outbox.compat import task  # noqa: E402
from outbox.models import QueuedTask  # noqa: E402
from outbox.worker import TaskWorker  # noqa: E402


@task
async def async_noop() -> None:
    return None


@task
def sync_noop() -> None:
    return None


def enqueue_cost(count: int) -> tuple[float, float]:
    """Microseconds of CPU and of wall time per enqueue, each in a transaction of its own."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(count):
        with transaction.atomic():
            async_noop.enqueue()
    return (
        (time.process_time() - cpu) / count * 1e6,
        (time.perf_counter() - wall) / count * 1e6,
    )


def throughput(kind: str, count: int) -> float:
    """Tasks per second through one worker, from enqueued to finished."""
    QueuedTask.objects.all().delete()
    noop = async_noop if kind == "async" else sync_noop
    with transaction.atomic():
        for _ in range(count):
            noop.enqueue()
    started = time.perf_counter()
    asyncio.run(TaskWorker().run_until_idle())
    elapsed = time.perf_counter() - started
    assert QueuedTask.objects.filter(status="SUCCESSFUL").count() == count
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000, help="tasks per measurement")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    cpu, wall = enqueue_cost(args.tasks)
    print(f"tasks ({os.environ['DATABASE_URL'].split(':', 1)[0]}, one worker):")
    print(f"  enqueue in a transaction: {cpu:.0f} us CPU, {wall:.0f} us wall per task")
    for kind in ("async", "sync"):
        rate = throughput(kind, args.tasks)
        print(f"  {kind} tasks through the worker: {rate:.0f} tasks/s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
