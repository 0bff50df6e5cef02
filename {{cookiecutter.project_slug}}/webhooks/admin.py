from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from outbox.admin import QueuedTaskAdmin
from outbox.models import QueuedTask

from .models import Delivery, StoppedReceiver, deliveries


@admin.register(Delivery)
class DeliveryAdmin(QueuedTaskAdmin):
    list_display = ["id", "receiver", "status", "attempts", "last_error", "enqueued_at"]
    list_filter = ["status"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[QueuedTask]:
        return deliveries()

    @admin.display(description="receiver")
    def receiver(self, delivery: Delivery) -> str:
        return str(delivery.args[1]) if len(delivery.args) > 1 else ""

    @admin.display(description="attempts")
    def attempts(self, delivery: Delivery) -> int:
        return len(delivery.worker_ids)

    @admin.display(description="last error")
    def last_error(self, delivery: Delivery) -> str:
        return delivery.errors[-1]["traceback"].strip().splitlines()[-1] if delivery.errors else ""


@admin.register(StoppedReceiver)
class StoppedReceiverAdmin(admin.ModelAdmin[StoppedReceiver]):
    """Receivers that answered 410 Gone; delete one to send to it again."""

    list_display = ["url", "stopped_at"]
