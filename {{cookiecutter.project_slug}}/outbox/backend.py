"""The outbox as a backend of Django's Tasks framework (TASKS in settings).

Django ships only backends for development (they run a task at once, or never). This one
writes each task as a row of the caller's database, in the caller's transaction: a task
exists if and only if the change that asked for it committed, and none is lost to a crash
between the commit and the enqueue (the risk of the `transaction.on_commit(task.enqueue)`
that Django's docs advise). Workers (worker.py) run the rows; results stay in them.

Options of a task, beside Django's (`@task(max_attempts=3, timeout=10)`): attempts before
it is given up on (failed), and seconds an attempt may take. A task that raises GiveUp fails
at once, whatever attempts it has left.
"""

from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.utils import timezone

from observability.tracing import current_traceparent

from .compat import (
    AnyResult,
    AnyTask,
    BaseTaskBackend,
    InvalidTask,
    Task,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
    task_enqueued,
)
from .models import QueuedTask
from .wakeup import wake

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT = 60.0


class GiveUp(Exception):
    """Raised by a task to fail now, without the retries left (retrying will not mend it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxTask(AnyTask):
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout: float = DEFAULT_TIMEOUT


class OutboxBackend(BaseTaskBackend):
    task_class = OutboxTask
    supports_defer = True
    supports_async_task = True
    supports_get_result = True
    supports_priority = True
    # The task's row is written in the caller's transaction (outbox/transactional.py).
    enqueues_in_transaction = True

    def validate_task(self, task: AnyTask) -> None:
        super().validate_task(task)
        max_attempts = getattr(task, "max_attempts", DEFAULT_MAX_ATTEMPTS)
        timeout = getattr(task, "timeout", DEFAULT_TIMEOUT)
        if not isinstance(max_attempts, int) or not 1 <= max_attempts <= 100_000:
            raise InvalidTask(
                f"max_attempts must be a whole number from 1 to 100000: {max_attempts!r}"
            )
        if not isinstance(timeout, int | float) or not 0 < timeout <= 86400:
            raise InvalidTask(f"timeout must be seconds, above 0 and at most a day: {timeout!r}")

    def enqueue(self, task: AnyTask, args: Any, kwargs: Any) -> AnyResult:
        """The task's row, in the current transaction; this process's worker is woken once
        that commits (others see it at their next poll)."""
        self.validate_task(task)
        now = timezone.now()
        row = QueuedTask(
            task_path=task.module_path,
            backend=self.alias,
            queue_name=task.queue_name,
            priority=task.priority,
            args=list(args),
            kwargs=dict(kwargs),
            enqueued_at=now,
            due_at=task.run_after or now,
            max_attempts=getattr(task, "max_attempts", DEFAULT_MAX_ATTEMPTS),
            timeout=getattr(task, "timeout", DEFAULT_TIMEOUT),
            traceparent=current_traceparent(),
        )
        # Before the write: it refuses arguments that do not survive a JSON round trip.
        result = result_of(row, task)
        row.args, row.kwargs = result.args, result.kwargs
        row.save(force_insert=True)
        transaction.on_commit(wake)
        task_enqueued.send(type(self), task_result=result)
        return result

    async def aenqueue(self, task: AnyTask, args: Any, kwargs: Any) -> AnyResult:
        # In the request's own thread, so in the transaction it may have open there.
        return await sync_to_async(self.enqueue)(task, args, kwargs)

    def get_result(self, result_id: str) -> AnyResult:
        try:
            row = QueuedTask.objects.get(pk=result_id, backend=self.alias)
        except QueuedTask.DoesNotExist:
            raise TaskResultDoesNotExist(result_id) from None
        return result_of(row)

    async def aget_result(self, result_id: str) -> AnyResult:
        try:
            row = await QueuedTask.objects.aget(pk=result_id, backend=self.alias)
        except QueuedTask.DoesNotExist:
            raise TaskResultDoesNotExist(result_id) from None
        return result_of(row)


def task_of(row: QueuedTask) -> AnyTask:
    """The Task its row names, with the row's own priority, queue and due time."""
    from django.utils.module_loading import import_string

    found = import_string(row.task_path)
    if not isinstance(found, Task):
        raise TypeError(f"{row.task_path} is not a task (decorate it with @task)")
    return found.using(priority=row.priority, queue_name=row.queue_name, backend=row.backend)


def result_of(row: QueuedTask, task: AnyTask | None = None) -> AnyResult:
    """The row as a TaskResult (of `task` when the caller has it; else the one it names)."""
    result: AnyResult = TaskResult(
        task=task or task_of(row),
        id=row.id,
        status=TaskResultStatus(row.status),
        enqueued_at=row.enqueued_at,
        started_at=row.started_at,
        last_attempted_at=row.last_attempted_at,
        finished_at=row.finished_at,
        args=row.args,
        kwargs=row.kwargs,
        backend=row.backend,
        errors=[TaskError(**error) for error in row.errors],
        worker_ids=list(row.worker_ids),
    )
    object.__setattr__(result, "_return_value", row.return_value)
    return result
