from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package as an app, so that its system checks are registered."""

    name = "{{ cookiecutter.project_slug }}"

    def ready(self) -> None:
        from .runtime import checks, handler  # noqa: F401  (registers the checks)
