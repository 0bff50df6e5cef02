from django.db import models
from django.utils import timezone


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
