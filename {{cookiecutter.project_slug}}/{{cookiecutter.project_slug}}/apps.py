from django.apps import AppConfig
from django.conf import settings


class ProjectConfig(AppConfig):
    """The project package as an app, so that its system checks are registered."""

    name = "{{ cookiecutter.project_slug }}"

    def ready(self) -> None:
{%- if cookiecutter.database == "postgresql" %}
        # database_check: one bounded connection before migrate, a clear line if it fails.
        from .runtime import checks, database_check  # noqa: F401  (registers the checks)
{%- else %}
        from .runtime import checks  # noqa: F401  (registers the checks)
{%- endif %}

        if not settings.STOCK_ASGI_HANDLER:
            from .runtime import handler  # noqa: F401  (registers its check)
{%- if cookiecutter.database == "postgresql" %}

    async def startup(self) -> None:
        """A lifespan hook: say at once, in one line, if the database is out of reach."""
        from .runtime.database_check import log_database_problem

        await log_database_problem()
{%- endif %}
