"""Bake every option set, then lint, type-check and run each baked project's own suite."""

import re
from pathlib import Path

import pytest
from conftest import BLOG_WORDS, DEFAULTS, OPTION_SETS, SAY_AFTER_WORDS, BakedProject

UNRENDERED = re.compile(r"\{\{\s*cookiecutter|\{%-?\s*(if|for|endif|endfor|raw)\b|cookiecutter\.")


def test_every_choice_is_in_the_matrix() -> None:
    for name, default in DEFAULTS.items():
        if isinstance(default, list) and not name.startswith("_"):  # "_": cookiecutter's own
            covered = {p.values[0].get(name, default[0]) for p in OPTION_SETS}
            assert covered == set(default), f"{name}: {set(default) - covered} never baked"


def test_default_bake_has_the_expected_files(cookies) -> None:
    result = cookies.bake()

    assert result.exit_code == 0, result.exception
    slug = result.context["project_slug"]
    expected = [
        "README.md",
        "pyproject.toml",
        "manage.py",
        "Makefile",
        ".env",
        ".env.example",
        ".gitignore",
        ".python-version",
        f"{slug}/settings.py",
        f"{slug}/urls.py",
        f"{slug}/asgi.py",
        f"{slug}/wsgi.py",
        f"{slug}/api.py",
        f"{slug}/runtime/lifespan.py",
        f"{slug}/runtime/middleware.py",
        f"{slug}/runtime/checks.py",
        "blog/queries.py",
        "blog/permissions.py",
        "accounts/models.py",
        "accounts/auth.py",
        "accounts/tokens.py",
        "accounts/migrations/0001_initial.py",
        "accounts/management/commands/create_api_token.py",
        "blog/migrations/0001_initial.py",
        "bench/__main__.py",
        "scripts/serve",
        f"{slug}/runtime/request_log.py",
        f"{slug}/health.py",
        "Dockerfile",
        ".dockerignore",
        "compose.yaml",
        ".github/workflows/ci.yml",
        ".pre-commit-config.yaml",
        "docs/bench.png",
        "tests/test_say_after.py",
        "search/client.py",
        "search/api.py",
        "search/management/commands/search_index.py",
        "tests/search/test_search_api.py",
    ]
    missing = [name for name in expected if not (result.project_path / name).is_file()]
    assert missing == []


def mentions(project: Path, pattern: str, flags: int = re.I) -> list[str]:
    """The files that name what `pattern` matches (the removal guide names every option)."""
    return [
        str(path.relative_to(project))
        for path in project.rglob("*")
        if path.is_file()
        and path.name != "removing-examples.md"
        and re.search(pattern, path.read_text(errors="ignore"), flags)
    ]


def test_without_search_nothing_of_it_is_left(cookies) -> None:
    result = cookies.bake(extra_context={"use_elasticsearch": "no"})

    assert result.exit_code == 0, result.exception
    assert not (result.project_path / "search").exists()
    assert mentions(result.project_path, r"elasticsearch|search\.") == []


def test_without_webhooks_nothing_of_them_is_left(cookies) -> None:
    result = cookies.bake(extra_context={"use_webhooks": "no"})

    assert result.exit_code == 0, result.exception
    assert not (result.project_path / "webhooks").exists()
    assert mentions(result.project_path, r"webhook") == []


def test_without_the_blog_nothing_of_it_is_left(cookies) -> None:
    result = cookies.bake(
        extra_context={"use_blog": "no", "use_elasticsearch": "no", "use_webhooks": "no"}
    )

    assert result.exit_code == 0, result.exception
    assert not (result.project_path / "blog").exists()
    assert not (result.project_path / "bench").exists()  # it measures on the blog too
    assert mentions(result.project_path, BLOG_WORDS, flags=0) == []  # POST is not a post


def test_without_say_after_nothing_of_it_is_left(cookies) -> None:
    result = cookies.bake(extra_context={"use_say_after": "no"})

    assert result.exit_code == 0, result.exception
    assert not (result.project_path / "bench").exists()
    assert mentions(result.project_path, SAY_AFTER_WORDS) == []


def test_the_local_cache_bake_has_nothing_of_redis(cookies) -> None:
    result = cookies.bake()

    assert result.exit_code == 0, result.exception
    project = result.project_path
    imports = [
        str(path.relative_to(project))
        for path in project.rglob("*.py")
        if re.search(r"^\s*(import|from) redis\b|REDIS_", path.read_text(), re.M)
    ]
    assert imports == []
    assert not (project / "keyvalue/redis_store.py").exists()
    assert "redis" not in (project / "pyproject.toml").read_text()
    assert "REDIS_URL" not in (project / ".env.example").read_text()


def test_the_redis_bake_depends_on_redis_py_with_hiredis(cookies) -> None:
    result = cookies.bake(extra_context={"cache": "redis"})

    assert result.exit_code == 0, result.exception
    assert '"redis[hiredis]>=' in (result.project_path / "pyproject.toml").read_text()
    assert (result.project_path / "keyvalue/redis_store.py").is_file()
    assert (result.project_path / "tests/test_redis.py").is_file()


@pytest.mark.parametrize("major", ["8", "9"])
def test_client_major_is_pinned_to_the_server_major(cookies, major: str) -> None:
    result = cookies.bake(extra_context={"elasticsearch_version": major})

    pyproject = (result.project_path / "pyproject.toml").read_text()
    assert f'"elasticsearch[async]>={major},<{int(major) + 1}"' in pyproject


def test_env_file_is_git_ignored(cookies) -> None:
    result = cookies.bake()

    assert ".env" in (result.project_path / ".gitignore").read_text().splitlines()


@pytest.mark.slow
def test_no_template_syntax_is_left(project: BakedProject) -> None:
    leftovers = [
        str(path.relative_to(project.path))
        for path in project.path.rglob("*")
        if path.is_file()
        and ".venv" not in path.parts
        and UNRENDERED.search(path.read_text(errors="ignore"))
    ]
    assert leftovers == []


@pytest.mark.slow
def test_ruff_check_passes(project: BakedProject) -> None:
    project.uv_run("ruff", "check", ".")


@pytest.mark.slow
def test_ruff_format_check_passes(project: BakedProject) -> None:
    project.uv_run("ruff", "format", "--check", ".")


@pytest.mark.slow
def test_mypy_passes(project: BakedProject) -> None:
    project.uv_run("mypy", ".")


@pytest.mark.slow
def test_migrations_are_complete(project: BakedProject) -> None:
    project.uv_run("python", "manage.py", "makemigrations", "--check", "--dry-run")


# What a production deployment sets (documented in the baked .env.example).
PRODUCTION_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": "production-" + "k3y" * 20,
    "ALLOWED_HOSTS": "api.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://api.example.com",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
}


@pytest.mark.slow
def test_check_deploy_has_no_warnings_in_production(project: BakedProject) -> None:
    result = project.uv_run(
        "python", "manage.py", "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV
    )

    assert "System check identified no issues" in result.stdout


# The least a production deployment sets: the deploy check is clean with it already
# (HSTS defaults on, with subdomains and the preload flag, with DEBUG off).
MINIMAL_PRODUCTION_ENV = {k: PRODUCTION_ENV[k] for k in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS")}


@pytest.mark.slow
def test_check_deploy_is_clean_with_the_minimal_production_environment(
    project: BakedProject,
) -> None:
    result = project.uv_run(
        "python",
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env=MINIMAL_PRODUCTION_ENV,
    )
    reported = result.stdout + result.stderr  # Django writes warnings to stderr

    assert "System check identified no issues" in reported, reported


@pytest.mark.slow
def test_baked_test_suite_passes(project: BakedProject) -> None:
    result = project.uv_run("pytest", "-q", "-p", "no:cacheprovider")

    assert re.search(r"\d+ passed", result.stdout)
    assert "failed" not in result.stdout.splitlines()[-1]
