from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from blog.signals import post_created

        from .documents import index_new_post

        post_created.connect(index_new_post, dispatch_uid="search.index_new_post")

    async def ready_check(self) -> None:
        """Part of GET /api/ready: the cluster answers."""
        from .client import get_client

        await get_client().info()

    async def shutdown(self) -> None:
        """Called by the ASGI lifespan wrapper when the server stops."""
        from .client import close_all

        await close_all()
