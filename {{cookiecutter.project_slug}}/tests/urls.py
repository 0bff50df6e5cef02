"""The project's URLs, with the tests' own endpoints (tests/probe.py) under /api/probe/, and
a page that fails (for the error-tracking test)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from {{ cookiecutter.project_slug }}.api import api

api.add_router("/probe", "tests.probe.router")

# Imported once the router is added: the project's urls read api.urls.
from {{ cookiecutter.project_slug }}.urls import urlpatterns  # noqa: E402


def fail(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug, for the error tracker")


urlpatterns = [*urlpatterns, path("probe-failure", fail)]
