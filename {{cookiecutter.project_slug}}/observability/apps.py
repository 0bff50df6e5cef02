from django.apps import AppConfig
from django.conf import settings


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        from . import tracing

        if settings.TRACING:
            tracing.start_tracing()

    async def startup(self) -> None:
        """Called by the ASGI lifespan wrapper: the gauges' sampler, Sentry on the loop."""
        from .error_tracking import start_asyncio_integration
        from .sampler import start_sampling

        start_sampling()
        if settings.SENTRY_DSN:
            start_asyncio_integration()

    async def shutdown(self) -> None:
        """Called by the ASGI lifespan wrapper: the last spans sent, this worker's gauges out."""
        from . import metrics, tracing
        from .sampler import stop_sampling

        await stop_sampling()
        tracing.stop_tracing()
        metrics.process_ended()
