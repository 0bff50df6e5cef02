from django.db import models
from django.utils import timezone

from outbox.models import QueuedTask

# The delivery task's path (webhooks/delivery.py), which its rows carry.
DELIVER = "webhooks.delivery.deliver"


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


class Delivery(QueuedTask):
    """The delivery tasks, for the admin's own list and `manage.py webhooks`: their rows are
    deliveries() (a proxy's rows are all its base's)."""

    class Meta:
        proxy = True
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"


def deliveries() -> models.QuerySet[Delivery]:
    return Delivery.objects.filter(task_path=DELIVER)
