from django.contrib import admin

from .models import Message


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    """Read-only: the worker writes messages; the list shows what is pending or failed."""

    list_display = ["id", "topic", "key", "state", "attempts", "created_at", "done_at"]
    list_filter = ["state", "topic"]
    search_fields = ["key"]
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: Message | None = None) -> bool:
        return False
