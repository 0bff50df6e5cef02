from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks"

    def ready(self) -> None:
        from blog.signals import posts_changed

        from .recording import record_publishes

        posts_changed.connect(record_publishes, dispatch_uid="webhooks.record_publishes")
