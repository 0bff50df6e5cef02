"""Fixtures that bake, install and serve projects from the template."""

import asyncio
import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from find_python import find_python

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())


def default_python_version() -> str:
    return DEFAULTS["python_version"][0]


# Each call of find_python may run `uv python find`; the answer does not change in a session.
cached_find_python = functools.cache(find_python)


def uv_executable() -> str:
    beside_python = Path(sys.executable).with_name("uv")
    found = str(beside_python) if beside_python.exists() else shutil.which("uv")
    assert found, "uv is not installed: run `make test`, which installs it"
    return found


@dataclass
class BakedProject:
    path: Path
    context: dict[str, str]
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.context["project_slug"]

    def env(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
        python = cached_find_python(self.context["python_version"])
        if python:
            environment["UV_PYTHON"] = python
        return {**environment, **self.extra_env}

    def run(
        self, *args: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the project; fail the test with its output if it fails."""
        result = subprocess.run(
            args,
            cwd=self.path,
            env={**self.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, (
            f"{' '.join(args)} exited {result.returncode}\n"
            f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
        )
        return result

    def uv_run(
        self, *args: str, timeout: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.run(uv_executable(), "run", "--frozen", *args, timeout=timeout, env=env)

    def api_token(self, username: str, *, staff: bool = False) -> str:
        """A user made with the shell, and a token for it from `manage.py create_api_token`."""
        make_user = (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({username!r}, is_staff={staff})"
        )
        self.uv_run("python", "manage.py", "shell", "-c", make_user)
        created = self.uv_run(
            "python", "manage.py", "create_api_token", username, "--name", "tests"
        )
        return created.stdout.splitlines()[-1]

    def install(self) -> None:
        """What a user does first: `uv sync` (dependencies plus the dev group)."""
        self.run(uv_executable(), "sync", timeout=900)


def newcomer_environment(environment: dict[str, str]) -> dict[str, str]:
    """`environment` with uv on the PATH, as a newcomer's shell has it."""
    uv_folder = Path(uv_executable()).parent
    return {**environment, "PATH": f"{uv_folder}{os.pathsep}{os.environ['PATH']}"}


def run_in_shell(command: str, cwd: Path, environment: dict[str, str]) -> None:
    """One line of a README or guide, run by bash as written; fail the test if it fails."""
    ran = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert ran.returncode == 0, f"{command}\n{ran.stdout[-4000:]}\n{ran.stderr[-4000:]}"


def bake(cookies, **context: str) -> BakedProject:
    result = cookies.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    return BakedProject(result.project_path, result.context)


# PostgreSQL: the machine's server on loopback (trust auth). Each user gets a fresh database.
POSTGRES_ADMIN_URL = os.environ.get(
    "TEMPLATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create an empty database, yield its URL, drop it (and its test_ twin) afterwards."""
    name = f"bake_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            for db in (name, f"test_{name}"):
                admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[Callable[[], str]]:
    """A factory of fresh databases, all dropped at the end of the session."""
    with contextlib.ExitStack() as stack:
        yield lambda: stack.enter_context(fresh_postgres_database())


def bake_and_install(
    cookies, postgres_databases: Callable[[], str], **context: str
) -> BakedProject:
    """Bake, point a PostgreSQL project at a fresh database, then `uv sync`."""
    project = bake(cookies, **context)
    if project.context["database"] == "postgresql":
        project.extra_env["DATABASE_URL"] = postgres_databases()
    project.install()
    return project


@pytest.fixture(scope="session")
def default_project(cookies_session, postgres_databases: Callable[[], str]) -> BakedProject:
    """The project a user gets with every default answer, installed with uv sync."""
    project = bake_and_install(cookies_session, postgres_databases)
    project.uv_run("python", "manage.py", "migrate", "--no-input")
    return project


@pytest.fixture(scope="session")
def redis_project(cookies_session, postgres_databases: Callable[[], str]) -> BakedProject:
    """The defaults with the shared Redis cache, installed (for the guards of its rules)."""
    return bake_and_install(cookies_session, postgres_databases, cache="redis")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


def wait_until_up(url: str, process: subprocess.Popen[str], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail(f"server did not answer within 60 s:\n{log_path.read_text()}")


@contextlib.contextmanager
def running_uvicorn(
    project: BakedProject, log_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """`uvicorn <slug>.asgi:application` on a free port, as the README says to start it."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(project.path / ".venv/bin/uvicorn"),
                f"{project.slug}.asgi:application",
                "--host=127.0.0.1",
                f"--port={port}",
                *args,
            ],
            cwd=project.path,
            env={**project.env(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_up(f"{server.url}/api/say-async?delay=0", process, log_path)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def uvicorn_server(default_project: BakedProject, tmp_path: Path) -> Iterator[Server]:
    with running_uvicorn(default_project, tmp_path / "uvicorn.log") as server:
        yield server


# What names the examples, where one is left out: say-after's paths and settings; the blog's
# app and paths, model, command and words (match it case-sensitively: POST is not a post).
SAY_AFTER_WORDS = r"say[-_](sync|async|after|stream)|say_events|SAY_"
BLOG_WORDS = r"blog|\bPosts?\b|\bposts\b|seed_posts|\ba post\b|POST_LIST"

# Every cookiecutter choice appears in at least one option set.
OPTION_SETS = [
    pytest.param({}, id="defaults"),
    pytest.param({"database": "postgresql", "cache": "redis"}, id="postgresql-redis"),
    pytest.param(
        {
            "python_version": "3.11",
            "database": "postgresql",
            "cache": "redis",
            "elasticsearch_version": "8",
        },
        id="py311-postgresql-redis-es8",
    ),
    pytest.param(
        {
            "python_version": "3.13",
            "project_name": "Inventory and Order Tracking Service",
            "use_say_after": "no",
            "use_blog": "no",
            "use_elasticsearch": "no",
            "use_webhooks": "no",
            "use_docker": "no",
            "ci": "none",
        },
        id="py313-long-name-no-extras",
    ),
    # The bench goes; the blog, and search and webhooks on it, stay. (Its CI workflow is the
    # defaults' own: no need to run it a second time.)
    pytest.param({"use_say_after": "no", "ci": "none"}, id="no-say-after"),
]


@pytest.fixture(scope="session", params=OPTION_SETS)
def project(
    request: pytest.FixtureRequest, cookies_session, postgres_databases: Callable[[], str]
) -> BakedProject:
    return bake_and_install(cookies_session, postgres_databases, **request.param)


@dataclass
class WriteOutcome:
    create_statuses: list[int]
    publish_statuses: list[int]

    def server_errors(self) -> int:
        return sum(s >= 500 for s in self.create_statuses + self.publish_statuses)


async def create_then_publish(url: str, token: str, count: int) -> WriteOutcome:
    """`count` concurrent creates, then `count` concurrent publishes (one id each)."""
    # A connection per request: uvicorn closes idle ones after 5 s, and reusing one it has
    # just closed would be a client-side error, not the server's.
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:
        posts = [{"title": f"post {n}"} for n in range(count)]
        creates = await asyncio.gather(
            *(client.post(f"{url}/api/blog/posts", json=post) for post in posts)
        )
        ids = [r.json()["id"] for r in creates if r.status_code == 201]
        publishes = await asyncio.gather(
            *(client.post(f"{url}/api/blog/posts/publish", json={"ids": [i]}) for i in ids)
        )
    return WriteOutcome([r.status_code for r in creates], [r.status_code for r in publishes])


def count_published_posts(project: BakedProject, username: str) -> int:
    """Counted in the database itself, not through the API under test."""
    count = (
        "from blog.models import Post; "
        f"print(Post.objects.filter(author__username={username!r}, published=True).count())"
    )
    return int(project.uv_run("python", "manage.py", "shell", "-c", count).stdout.split()[-1])


# Writes unthrottled: the tests send far more than WRITE_RATE allows one user.
NO_WRITE_THROTTLE = {"WRITE_RATE": ""}
