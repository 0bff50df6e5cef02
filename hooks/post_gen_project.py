"""Finish the baked project: drop files of unselected options, write .env, say what next.

Runs inside the new project directory. No network, no installs.
"""

import secrets
import shutil
from pathlib import Path

SECRET_KEY_PLACEHOLDER = "change-me"


def generate_secret_key() -> str:
    # URL-safe characters only: no "$" or "#" for .env parsers to interpolate or cut.
    return secrets.token_urlsafe(50)


# What each option that can be turned off owns, whole files and folders only.
SEARCH_PATHS = ["search", "tests/search", "bench/searchable.py", "docs/search.md"]
WEBHOOK_PATHS = [
    "webhooks",
    "tests/test_webhooks.py",
    "docs/webhooks.md",
    "observability/http_spans.py",
]
SAY_AFTER_PATHS = ["tests/test_say_after.py", "tests/test_say_stream.py"]
# The bench measures the async path on the say-after and blog endpoints: it goes with either.
BENCH_PATHS = ["bench", "docs/bench.png"]
BLOG_PATHS = [
    "blog",
    "tests/test_blog_api.py",
    "tests/test_blog_queries.py",
    "tests/test_blog_cache.py",
    "tests/test_blog_export.py",
    "tests/test_permissions.py",
    "tests/test_tracing_blog.py",
    "docs/trace.png",  # a publish's trace
]
DOCKER_PATHS = ["Dockerfile", ".dockerignore", "compose.yaml", "deploy"]
CI_PATHS = [".github"]
# What only the other database needs: its tests, and the SQLite backend.
OTHER_DATABASE_PATHS = {
    "sqlite": [
        "tests/test_database_postgresql.py",
        "{{ cookiecutter.project_slug }}/management",
        "{{ cookiecutter.project_slug }}/runtime/database_check.py",
    ],
    "postgresql": [
        "tests/test_database_sqlite.py",
        "{{ cookiecutter.project_slug }}/runtime/sqlite",
    ],
}


# What only the redis cache needs.
REDIS_PATHS = [
    "keyvalue/redis_store.py",
    "keyvalue/django_cache.py",
    "tests/test_redis.py",
    "bench/ratelimit.py",
    "tests/latency_proxy.py",
    "tests/test_tasks_rq.py",
    "tests/settings_rq.py",
]


def remove_paths(project: Path, paths: list[str]) -> None:
    for relative in paths:
        target = project / relative
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()


def write_env_file(project: Path) -> None:
    """Copy .env.example to .env with a fresh SECRET_KEY (.env is git-ignored)."""
    lines = (project / ".env.example").read_text().splitlines()
    written = [
        f"SECRET_KEY={generate_secret_key()}"
        if line.startswith(f"SECRET_KEY={SECRET_KEY_PLACEHOLDER}")
        else line
        for line in lines
    ]
    (project / ".env").write_text("\n".join(written) + "\n")


def print_next_steps(project: Path) -> None:
    seed_posts = (
        "uv run python manage.py seed_posts --count 100\n    "
        if "{{ cookiecutter.use_blog }}" == "yes"
        else ""
    )
    create_database = (
        "uv run python manage.py create_database  # once: the database of DATABASE_URL\n    "
        if "{{ cookiecutter.database }}" == "postgresql"
        else ""
    )
    print(
        f"""
Baked {project.name}. Next (README.md, Quick start):

    cd {project}
    uv sync                      # make .venv and uv.lock (commit uv.lock)
    {create_database}uv run python manage.py migrate
    {seed_posts}uv run uvicorn {project.name}.asgi:application

Then open http://127.0.0.1:8000/api/docs. Tests: uv run pytest. Your own app: make app NAME=notes
"""
    )


def main() -> None:
    project = Path.cwd()
    if "{{ cookiecutter.use_say_after }}" != "yes":
        remove_paths(project, SAY_AFTER_PATHS)
    if "{{ cookiecutter.use_blog }}" != "yes":
        remove_paths(project, BLOG_PATHS)
    if "no" in ("{{ cookiecutter.use_say_after }}", "{{ cookiecutter.use_blog }}"):
        remove_paths(project, BENCH_PATHS)
    if "yes" not in ("{{ cookiecutter.use_say_after }}", "{{ cookiecutter.use_blog }}"):
        remove_paths(project, ["docs/streaming.md"])  # what it describes is gone
    if "{{ cookiecutter.use_elasticsearch }}" != "yes":
        remove_paths(project, SEARCH_PATHS)
    if "{{ cookiecutter.use_webhooks }}" != "yes":
        remove_paths(project, WEBHOOK_PATHS)
    if "{{ cookiecutter.use_docker }}" != "yes":
        remove_paths(project, DOCKER_PATHS)
    if "{{ cookiecutter.ci }}" != "github":
        remove_paths(project, CI_PATHS)
    remove_paths(project, OTHER_DATABASE_PATHS["{{ cookiecutter.database }}"])
    if "{{ cookiecutter.cache }}" != "redis":
        remove_paths(project, REDIS_PATHS)
    write_env_file(project)
    print_next_steps(project)


if __name__ == "__main__":
    main()
