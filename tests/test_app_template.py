"""`make app NAME=...` (the baked scripts/app_template and scripts/mount_app.py) on a fresh
default bake: the new app is mounted at /api/<name>, its own tests run and pass, and the
whole project still passes its suite, ruff, mypy and the migrations check."""

import subprocess
from collections.abc import Callable

import pytest
from conftest import bake, bake_and_install, newcomer_environment

pytestmark = pytest.mark.slow


def test_make_app_grows_a_project_that_still_passes_everything(
    cookies, postgres_databases: Callable[[], str]
) -> None:
    project = bake_and_install(cookies, postgres_databases)
    project.run("make", "app", "NAME=field_notes", env=newcomer_environment({}))

    api = (project.path / project.slug / "api.py").read_text()
    assert 'api.add_router("/field_notes", "field_notes.api.router")' in api
    assert (project.path / "field_notes/migrations/0001_initial.py").is_file()
    own = project.uv_run("pytest", "-q", "-p", "no:cacheprovider", "tests/test_field_notes.py")
    assert "4 passed" in own.stdout, own.stdout
    project.uv_run("python", "manage.py", "makemigrations", "--check", "--dry-run")
    project.uv_run("ruff", "check", ".")
    project.uv_run("ruff", "format", "--check", ".")
    project.uv_run("mypy", ".")
    project.uv_run("pytest", "-q", "-p", "no:cacheprovider", timeout=1200)


def test_make_app_without_a_name_says_how(cookies) -> None:
    project = bake(cookies)
    result = subprocess.run(
        ["make", "app"], cwd=project.path, capture_output=True, text=True, check=False
    )

    assert result.returncode != 0
    assert "usage: make app NAME=notes" in result.stdout + result.stderr
