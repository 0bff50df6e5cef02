"""The queued tasks' rows (models.QueuedTask), all sync (the task worker runs these in its
database thread).

claim() leases due tasks to one worker: claims are serialized as the outbox's are
(PostgreSQL: an advisory lock; SQLite: its one write lock), so a task is run by one worker
at a time, however many there are. A worker that dies leaves its tasks RUNNING under a
lease; when the lease ends, the next claim takes them again, counting the lost attempt.
finish() writes an attempt's outcome only while that attempt holds the task.
"""

import random
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet
from django.utils import timezone

from .models import QueuedTask
from .store import _serialize_claims

READY, RUNNING = QueuedTask.Status.READY, QueuedTask.Status.RUNNING
FAILED, SUCCESSFUL = QueuedTask.Status.FAILED, QueuedTask.Status.SUCCESSFUL
MAX_TRACEBACK = 4000


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
        QueuedTask.objects.bulk_update([*claimed, *lost], fields)
    return claimed


def retry_delay(attempt: int) -> float:
    """Seconds before the next attempt: doubling from 1 s, at most OUTBOX_MAX_RETRY_DELAY,
    with jitter so that tasks failed together do not all come back together."""
    ceiling: float = settings.OUTBOX_MAX_RETRY_DELAY
    return min(ceiling, 2.0 ** (attempt - 1)) * random.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Outcome:
    return_value: Any = None
    error: dict[str, str] | None = None
    final: bool = False  # a failure not to retry (the task raised GiveUp)


def finish(row: QueuedTask, outcome: Outcome) -> bool:
    """Write the outcome of the attempt `row` was claimed for (`row` takes it too), in one
    UPDATE that matches only while that attempt holds the task. False: it no longer does
    (its lease ended and another worker took the task): nothing is written."""
    now = timezone.now()
    attempt = len(row.worker_ids)
    held = QueuedTask.objects.filter(pk=row.pk, status=RUNNING, lease_token=row.lease_token)
    row.lease_until, row.lease_token = None, ""
    if outcome.error is None:
        row.status, row.finished_at, row.return_value = SUCCESSFUL, now, outcome.return_value
    else:
        row.errors = [*row.errors, outcome.error]
        if outcome.final or attempt >= row.max_attempts:
            row.status, row.finished_at = FAILED, now
        else:
            row.status, row.due_at = READY, now + timedelta(seconds=retry_delay(attempt))
    fields = ["status", "finished_at", "return_value", "errors", "due_at", "lease_until"]
    return held.update(**{name: getattr(row, name) for name in [*fields, "lease_token"]}) == 1


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
