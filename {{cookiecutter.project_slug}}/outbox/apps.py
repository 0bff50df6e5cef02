from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "outbox"
    verbose_name = "Outbox"

    async def startup(self) -> None:
        """Called by the ASGI lifespan wrapper: start this process's task worker."""
        from .worker import start_worker

        start_worker()

    async def shutdown(self) -> None:
        """Called by the ASGI lifespan wrapper: stop the worker, handing back what it runs."""
        from .worker import stop_worker

        await stop_worker()
