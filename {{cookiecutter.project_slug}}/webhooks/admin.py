from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from outbox.admin import MessageAdmin
from outbox.models import Message

from .delivery import TOPIC
from .models import Delivery, StoppedReceiver


@admin.register(Delivery)
class DeliveryAdmin(MessageAdmin):
    list_display = ["id", "receiver", "state", "attempts", "last_error", "created_at", "done_at"]
    list_filter = ["state"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).filter(topic=TOPIC)

    @admin.display(description="receiver")
    def receiver(self, delivery: Message) -> str:
        return str(delivery.payload.get("url", ""))


@admin.register(StoppedReceiver)
class StoppedReceiverAdmin(admin.ModelAdmin[StoppedReceiver]):
    """Receivers that answered 410 Gone; delete one to send to it again."""

    list_display = ["url", "stopped_at"]
