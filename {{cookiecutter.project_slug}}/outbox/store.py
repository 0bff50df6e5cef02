"""The queued tasks' rows (models.QueuedTask), all sync (the worker runs these in its
database thread).

claim() leases due tasks to one worker: claims are serialized (PostgreSQL: an advisory
lock; SQLite: its one write lock, taken at BEGIN IMMEDIATE), so a task is run by one worker
at a time, however many workers and replicas there are. A worker that dies leaves its
tasks RUNNING under a lease; when the lease ends, the next claim takes them again, counting
the lost attempt.
finish() writes an attempt's outcome only while that attempt holds the task.
"""

import json
import random
import traceback
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from .models import QueuedTask

READY, RUNNING = QueuedTask.Status.READY, QueuedTask.Status.RUNNING
FAILED, SUCCESSFUL = QueuedTask.Status.FAILED, QueuedTask.Status.SUCCESSFUL
MAX_TRACEBACK = 4000
# Any constant: the key of PostgreSQL's advisory lock that serializes claims.
CLAIM_LOCK = 0x0B7B0C5


def _serialize_claims() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])


class WorkerLost(Exception):
    """The worker running the attempt stopped (killed, or its host went away) before it
    could write the outcome: its lease ended."""


def error_of(exc: BaseException) -> dict[str, str]:
    kind = type(exc)
    text = "".join(traceback.format_exception(exc))
    return {
        "exception_class_path": f"{kind.__module__}.{kind.__qualname__}",
        "traceback": text[-MAX_TRACEBACK:],
    }


def _due(now: Any, queues: list[str]) -> Any:
    lapsed = Q(status=RUNNING, lease_until__lte=now)
    return QueuedTask.objects.filter(
        Q(status=READY, due_at__lte=now) | lapsed, queue_name__in=queues
    )


def claim(worker_id: str, queues: list[str], limit: int) -> list[QueuedTask]:
    """Lease up to `limit` due tasks to the worker, highest priority first, then oldest due.
    A task whose worker was lost is taken again, or given up on if that was its last
    attempt."""
    now = timezone.now()
    if limit < 1 or not _due(now, queues).exists():  # a read: no lock taken when idle
        return []
    with transaction.atomic():
        _serialize_claims()
        rows = list(_due(now, queues).order_by("-priority", "due_at")[:limit])
        claimed, lost = [], []
        for row in rows:
            if row.status == RUNNING:  # its worker was lost mid-attempt
                row.errors = [*row.errors, error_of(WorkerLost())]
                if len(row.worker_ids) >= row.max_attempts:
                    row.status, row.finished_at, row.lease_until = FAILED, now, None
                    lost.append(row)
                    continue
            row.status = RUNNING
            row.started_at = row.started_at or now
            row.last_attempted_at = now
            row.worker_ids = [*row.worker_ids, worker_id]
            row.lease_token = f"{worker_id}:{len(row.worker_ids)}"
            margin = settings.TASKS_LEASE_MARGIN
            row.lease_until = now + timedelta(seconds=row.timeout + margin)
            claimed.append(row)
        fields = [
            "status",
            "started_at",
            "last_attempted_at",
            "worker_ids",
            "lease_until",
            "lease_token",
            "errors",
            "finished_at",
        ]
        update_alike([*claimed, *lost], fields)
    return claimed


def update_alike(rows: list[QueuedTask], fields: list[str]) -> None:
    """Write `fields` of `rows`: one UPDATE per set of equal values (tasks claimed together
    mostly differ in nothing but their id). bulk_update()'s CASE per row and field took
    2 ms of CPU per task."""
    alike: dict[str, list[QueuedTask]] = defaultdict(list)
    for row in rows:
        alike[json.dumps([getattr(row, name) for name in fields], default=str)].append(row)
    for group in alike.values():
        values = {name: getattr(group[0], name) for name in fields}
        QueuedTask.objects.filter(pk__in=[row.pk for row in group]).update(**values)


def retry_delay(attempt: int) -> float:
    """Seconds before the next attempt: doubling from 1 s, at most OUTBOX_MAX_RETRY_DELAY,
    with jitter so that tasks failed together do not all come back together."""
    ceiling: float = settings.OUTBOX_MAX_RETRY_DELAY
    return min(ceiling, 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Outcome:
    return_value: Any = None
    error: dict[str, str] | None = None
    reason: str = ""  # the error in a line, for the log
    final: bool = False  # a failure not to retry (the task raised GiveUp)


def finish(row: QueuedTask, outcome: Outcome) -> bool:
    """Write the outcome of the attempt `row` was claimed for (`row` takes it too), only
    while that attempt holds the task. False: it no longer does (its lease ended and another
    worker took the task): nothing is written."""
    return finish_all([(row, outcome)])[0]


SUCCEEDED_FIELDS = ["status", "finished_at", "return_value", "lease_until", "lease_token"]
FAILED_FIELDS = ["status", "finished_at", "errors", "due_at", "lease_until", "lease_token"]


def finish_all(outcomes: list[tuple[QueuedTask, Outcome]]) -> list[bool]:
    """finish() each, in one transaction: one commit, and one UPDATE per set of equal
    values (the successes of a batch), for a batch of tasks."""
    now = timezone.now()
    with transaction.atomic():
        claimed = QueuedTask.objects.select_for_update().filter(
            pk__in=[row.pk for row, _ in outcomes], status=RUNNING
        )
        held = set(claimed.values_list("pk", "lease_token"))
        succeeded: list[QueuedTask] = []
        failed: list[QueuedTask] = []
        written: list[bool] = []
        for row, outcome in outcomes:
            if (row.pk, row.lease_token) not in held:
                written.append(False)
                continue
            written.append(True)
            _take_outcome(row, outcome, now)
            (succeeded if outcome.error is None else failed).append(row)
        update_alike(succeeded, SUCCEEDED_FIELDS)
        update_alike(failed, FAILED_FIELDS)
    return written


def _take_outcome(row: QueuedTask, outcome: Outcome, now: datetime) -> None:
    attempt = len(row.worker_ids)
    row.lease_until, row.lease_token = None, ""
    if outcome.error is None:
        row.status, row.finished_at, row.return_value = SUCCESSFUL, now, outcome.return_value
        return
    row.errors = [*row.errors, outcome.error]
    if outcome.final or attempt >= row.max_attempts:
        row.status, row.finished_at = FAILED, now
    else:
        row.status, row.due_at = READY, now + timedelta(seconds=retry_delay(attempt))


def release(worker_id: str) -> int:
    """A stopping worker hands back what it runs: ready again at once, the attempt not
    counted."""
    with transaction.atomic():
        _serialize_claims()
        rows = list(
            QueuedTask.objects.filter(status=RUNNING, lease_token__startswith=f"{worker_id}:")
        )
        for row in rows:
            row.status, row.lease_until, row.lease_token = READY, None, ""
            row.worker_ids = row.worker_ids[:-1]
        fields = ["status", "lease_until", "lease_token", "worker_ids"]
        QueuedTask.objects.bulk_update(rows, fields)
    return len(rows)


@dataclass(frozen=True)
class Queue:
    due: int
    oldest_due_seconds: float | None
    failed: int


def queue_state() -> Queue:
    """What /api/ready shows of the tasks: how many are due, the oldest's wait, and failed."""
    now = timezone.now()
    counts = QueuedTask.objects.aggregate(
        due=Count("pk", filter=Q(status=READY, due_at__lte=now)),
        failed=Count("pk", filter=Q(status=FAILED)),
        oldest=Min("due_at", filter=Q(status=READY, due_at__lte=now)),
    )
    oldest = counts["oldest"]
    waited = (now - oldest).total_seconds() if oldest else None
    return Queue(counts["due"], waited, counts["failed"])


def purge(status: str, older_than: timedelta) -> int:
    """Delete finished tasks of `status` that finished longer ago than `older_than`."""
    cutoff = timezone.now() - older_than
    return QueuedTask.objects.filter(status=status, finished_at__lt=cutoff).delete()[0]


def retry_failed(tasks: QuerySet[QueuedTask] | None = None) -> int:
    """The failed tasks (of `tasks`; else all), enqueued again now: their attempts and age
    counted afresh (their errors stay)."""
    failed = (QueuedTask.objects.all() if tasks is None else tasks).filter(status=FAILED)
    now = timezone.now()
    return failed.update(status=READY, enqueued_at=now, due_at=now, finished_at=None, worker_ids=[])
