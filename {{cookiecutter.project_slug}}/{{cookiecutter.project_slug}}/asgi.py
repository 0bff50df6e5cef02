"""ASGI entry point: `uvicorn {{ cookiecutter.project_slug }}.asgi:application`.

Django's ASGI app, wrapped so that the server's lifespan startup/shutdown
events reach us (see lifespan.py).
https://docs.djangoproject.com/en/stable/howto/deployment/asgi/
"""

import os

from django.core.asgi import get_asgi_application

from .lifespan import Lifespan, app_shutdown_hooks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")

django_application = get_asgi_application()

application = Lifespan(django_application, on_shutdown=app_shutdown_hooks())
