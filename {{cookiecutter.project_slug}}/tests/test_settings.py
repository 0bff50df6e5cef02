"""settings.py read as a server reads it: from the environment, in a process of its own."""

import json
import os
import sys

from .processes import run_in_project

PROJECT_SETTINGS = "{{ cookiecutter.project_slug }}.settings"
SHOW_DATABASE = (
    "import json; from {{ cookiecutter.project_slug }} import settings as s; "
    "print(json.dumps(s.DATABASES['default'], default=str))"
)


def database_settings(url: str) -> dict[str, object]:
    environment = {**os.environ, "DATABASE_URL": url, "DEBUG": "true", "SECRET_KEY": "k" * 50}
    result = run_in_project(
        [sys.executable, "-c", SHOW_DATABASE],
        {**environment, "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS},
    )
    assert result.returncode == 0, result.stderr
    database: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return database


def test_a_postgresql_urls_own_options_are_kept() -> None:
    """sslmode=require from a managed service's URL must reach libpq: dropped, libpq falls
    back to `prefer`, a plaintext downgrade."""
    url = "postgres://app:secret@db.example.com:5432/app?sslmode=require&application_name=api"

    options = database_settings(url)["OPTIONS"]

    assert isinstance(options, dict)
    assert (options.get("sslmode"), options.get("application_name")) == ("require", "api")
    # SQLite's options would make psycopg refuse to connect.
    assert not {"init_command", "transaction_mode"} & set(options)


def test_a_sqlite_urls_own_options_are_kept() -> None:
    database = database_settings("sqlite:////tmp/app.sqlite3?timeout=3")
    options = database["OPTIONS"]

    assert isinstance(options, dict)
    assert options["timeout"] == 3
    # PostgreSQL's pool would make SQLite refuse to connect.
    assert "pool" not in options
