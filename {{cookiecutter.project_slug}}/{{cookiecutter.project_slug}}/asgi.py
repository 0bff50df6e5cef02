"""ASGI entry point: `uvicorn {{ cookiecutter.project_slug }}.asgi:application`.

Django's ASGI app with its handler swapped for one that starts no thread per request
(runtime/handler.py; STOCK_ASGI_HANDLER puts Django's back), wrapped so that the server's
lifespan startup/shutdown events reach us (runtime/lifespan.py), with a few per-request
costs taken out, and traced when tracing is on (observability/tracing.py).
https://docs.djangoproject.com/en/stable/howto/deployment/asgi/
"""

import gc
import os
from typing import Any

import django
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler as StockASGIHandler
from django.core.signals import request_started
from django.db import close_old_connections, reset_queries

from .runtime.body_limit import BodyLimit
from .runtime.lifespan import Lifespan, app_hooks
from .runtime.log_stream import flush_logs
from .runtime.loop_clients import close_every_client, mark_loop_long_lived

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")

# What django.core.asgi.get_asgi_application() does, with the handler of runtime/.
django.setup(set_prefix=False)
django_application: StockASGIHandler
if settings.STOCK_ASGI_HANDLER:
    django_application = StockASGIHandler()
else:
    from .runtime.handler import ASGIHandler

    django_application = ASGIHandler()
    # Django sends request_started to these two receivers through a hop to the request's
    # thread, before anything in the request could have opened a database connection: they
    # have nothing to do, and the hop alone would take a thread for every request. The
    # request's connections are still closed by request_finished, in the thread that
    # opened them. (WSGI does not load this module.)
    request_started.disconnect(reset_queries)
    request_started.disconnect(close_old_connections)

served: Any = BodyLimit(
    django_application,
    max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE,
    larger={"/admin/": settings.ADMIN_UPLOAD_MAX_BYTES},
)
if settings.TRACING:
    from observability.tracing import traced

    served = traced(served)  # a server span around all of it
if settings.SENTRY_DSN:
    from observability.error_tracking import tracked

    served = tracked(served)  # the request on every error event
if settings.METRICS_TOKEN and not settings.STOCK_ASGI_HANDLER:
    from observability import sampler

    sampler.thread_pools.append(django_application.threads)  # type: ignore[attr-defined]

# Everything loaded so far lives as long as the process: keep it out of the garbage
# collector's full passes, which would otherwise walk all of it every few thousand requests.
gc.collect()
gc.freeze()

application = Lifespan(
    served,
    on_startup=[mark_loop_long_lived, *app_hooks("startup")],
    on_shutdown=[*app_hooks("shutdown"), close_every_client, flush_logs],
)
