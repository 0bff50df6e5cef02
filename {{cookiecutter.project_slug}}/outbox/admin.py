from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import store
from .models import QueuedTask


@admin.register(QueuedTask)
class QueuedTaskAdmin(admin.ModelAdmin[QueuedTask]):
    """Read-only but for one action: the workers write tasks; the list shows what waits,
    runs or failed, with each attempt's error."""

    list_display = ["task_path", "status", "queue_name", "priority", "enqueued_at", "finished_at"]
    list_filter = ["status", "queue_name", "task_path"]
    search_fields = ["id", "task_path"]
    readonly_fields = [field.name for field in QueuedTask._meta.fields]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: QueuedTask | None = None) -> bool:
        return False

    @admin.action(description="Retry the selected failed tasks")
    def retry(self, request: HttpRequest, queryset: QuerySet[QueuedTask]) -> None:
        retried = store.retry_failed(queryset)
        self.message_user(request, f"{retried} failed tasks are due again.")
