from django.apps import AppConfig
from django.conf import settings


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from blog.signals import posts_changed

        from .indexing import enqueue_changes

        posts_changed.connect(enqueue_changes, dispatch_uid="search.enqueue_changes")

    @property
    def ready_required(self) -> bool:
        """Whether GET /api/ready answers 503 while the cluster is down (it is shown anyway)."""
        return bool(settings.READY_REQUIRES_SEARCH)

    async def ready_check(self) -> None:
        """Part of GET /api/ready: the cluster answers."""
        from .client import request_client

        async with request_client() as client:
            await client.info()
