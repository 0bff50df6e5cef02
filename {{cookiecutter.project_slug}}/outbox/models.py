import uuid

from django.db import models
from django.utils import timezone

from .compat import TaskResultStatus


def new_task_id() -> str:
    return uuid.uuid4().hex


class QueuedTask(models.Model):
    """A Tasks-framework task (outbox/backend.py) and its result: written in the transaction
    of the change that enqueued it, so it exists if and only if that change committed. A
    worker (outbox/worker.py) claims it under a lease, runs it, and writes the outcome
    here, where get_result() reads it."""

    Status = TaskResultStatus

    id = models.CharField(primary_key=True, max_length=32, default=new_task_id, editable=False)
    # The task's dotted path (a module-level function made a task by @task).
    task_path = models.CharField(max_length=255)
    backend = models.CharField(max_length=64, default="default")
    queue_name = models.CharField(max_length=64, default="default")
    priority = models.SmallIntegerField(default=0)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.READY)
    enqueued_at = models.DateTimeField(default=timezone.now)
    # Not before then: run_after, then each retry's backoff.
    due_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # One entry per attempt: the worker that made it.
    worker_ids = models.JSONField(default=list, blank=True)
    return_value = models.JSONField(null=True, blank=True)
    # One {"exception_class_path", "traceback"} per failed attempt.
    errors = models.JSONField(default=list, blank=True)
    max_attempts = models.PositiveIntegerField(default=5)
    timeout = models.FloatField(default=60.0)  # seconds an attempt may take
    # A running task's worker holds it until then; a worker that died lets it go then.
    lease_until = models.DateTimeField(null=True, blank=True)
    # Whose attempt it is ("<worker id>:<attempt>"): only that attempt writes its outcome.
    lease_token = models.CharField(max_length=64, blank=True)
    # The W3C traceparent of the request that enqueued it (tracing on): its run links to it.
    traceparent = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["status", "queue_name", "due_at"], name="outbox_task_due"),
            models.Index(fields=["finished_at"], name="outbox_task_finished_at"),
        ]

    def __str__(self) -> str:
        return f"{self.task_path} {self.id} ({self.status})"
