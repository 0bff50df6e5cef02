import uuid

from django.db import models
from django.utils import timezone

from .compat import TaskResultStatus


class Message(models.Model):
    """Work to do outside the database (tell another service about a change), written in
    the same transaction as the change that calls for it, so that the change and the work
    are saved together or not at all. The worker (worker.py) does it later, retrying until
    it succeeds."""

    class State(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    # What to do (an app's name for it); the handler registered for the topic does it.
    topic = models.CharField(max_length=64)
    # What it is about ("42"): messages of one topic and key are handled in order, by one
    # worker at a time.
    key = models.CharField(max_length=128)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    # Not before then: a failed attempt sets the next one further out.
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # A worker that claims a message holds it until then; a worker that dies mid-way lets
    # it go when the lease ends, and another worker takes it.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["state", "due_at"], name="outbox_pending_due"),
            models.Index(fields=["topic", "key", "state"], name="outbox_topic_key"),
            models.Index(fields=["done_at"], name="outbox_done_at"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.key} ({self.state})"


def new_task_id() -> str:
    return uuid.uuid4().hex


class QueuedTask(models.Model):
    """A Tasks-framework task (outbox/backend.py) and its result: written in the transaction
    of the change that enqueued it, so it exists if and only if that change committed. A
    worker (outbox/task_worker.py) claims it under a lease, runs it, and writes the outcome
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

    class Meta:
        indexes = [
            models.Index(fields=["status", "queue_name", "due_at"], name="outbox_task_due"),
            models.Index(fields=["finished_at"], name="outbox_task_finished_at"),
        ]

    def __str__(self) -> str:
        return f"{self.task_path} {self.id} ({self.status})"
