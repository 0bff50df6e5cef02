from django.db import models
from django.utils import timezone

from outbox.models import Message


class Announced(models.Model):
    """A published post the receivers were told about: a post is announced once per
    publish (unpublished, its row goes, and publishing it again announces it again)."""

    post = models.OneToOneField("blog.Post", on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"post {self.post_id}"


class StoppedReceiver(models.Model):
    """A receiver that answered 410 Gone: nothing more is sent to it. Delete the row (admin)
    to send to it again."""

    url = models.URLField(max_length=2000, unique=True)
    stopped_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url


class Delivery(Message):
    """The outbox's webhook messages (topic webhooks.deliver), for the admin's own list."""

    class Meta:
        proxy = True
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
