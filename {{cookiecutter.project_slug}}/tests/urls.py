"""The project's URLs, with the tests' own endpoints (tests/probe.py) under /api/probe/."""

from {{ cookiecutter.project_slug }}.api import api

api.add_router("/probe", "tests.probe.router")

# Imported once the router is added: the project's urls read api.urls.
from {{ cookiecutter.project_slug }}.urls import urlpatterns  # noqa: E402

__all__ = ["urlpatterns"]
