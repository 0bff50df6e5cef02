"""ASGI entry point: `uvicorn {{ cookiecutter.project_slug }}.asgi:application`.

Django's ASGI app, wrapped so that the server's lifespan startup/shutdown
events reach us (see runtime/lifespan.py), with two per-request costs taken out.
https://docs.djangoproject.com/en/stable/howto/deployment/asgi/
"""

import gc
import os

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.signals import request_started
from django.db import close_old_connections, reset_queries

from .runtime.body_limit import BodyLimit
from .runtime.lifespan import Lifespan, app_hooks
from .runtime.log_stream import flush_logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")

django_application = get_asgi_application()

# Under ASGI, Django sends request_started to these two receivers in a thread made for
# the request, before anything in it could have opened a database connection: they have
# nothing to do, yet the hop to that thread is a sixth of an API call's CPU. The request's
# connections are still closed by request_finished, in that same thread. (WSGI, which
# reuses threads across requests, does not load this module.)
request_started.disconnect(reset_queries)
request_started.disconnect(close_old_connections)

# Everything loaded so far lives as long as the process: keep it out of the garbage
# collector's full passes, which would otherwise walk all of it every few thousand requests.
gc.collect()
gc.freeze()

application = Lifespan(
    BodyLimit(django_application, max_bytes=settings.DATA_UPLOAD_MAX_MEMORY_SIZE),
    on_startup=app_hooks("startup"),
    on_shutdown=[*app_hooks("shutdown"), flush_logs],
)
