"""WSGI entry point, for sync-only servers (gunicorn's default workers).

The project is meant to run under ASGI (see asgi.py); this stays for tools that
need WSGI. https://docs.djangoproject.com/en/stable/howto/deployment/wsgi/
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")

application = get_wsgi_application()
