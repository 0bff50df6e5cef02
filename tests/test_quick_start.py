"""Each baked README's quick start, run literally as a newcomer would, on a loaded machine:
every command of its first `sh` block, in order, in a fresh bake; the last one (uvicorn)
left serving while every "Then try" address is fetched. A first run is quiet: no error in
the server's log, and the search cluster that is not running here said once, not per retry.
"""

import contextlib
import multiprocessing
import os
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import (
    POSTGRES_ADMIN_URL,
    bake,
    free_port,
    newcomer_environment,
    run_in_shell,
    wait_until_up,
)

pytestmark = pytest.mark.slow

README_BLOCK = re.compile(r"## Quick start\n.*?```sh\n(.*?)```", re.S)
TRY_LINK = re.compile(r"^- (http://127\.0\.0\.1:8000\S*)", re.M)


def quick_start(readme: str) -> tuple[list[str], list[str]]:
    """The quick start's commands (comments dropped) and its "Then try" addresses."""
    found = README_BLOCK.search(readme)
    assert found, "the README has no quick start"
    commands = [line.split("  #")[0].strip() for line in found[1].splitlines() if line.strip()]
    return commands, TRY_LINK.findall(readme[found.end() :])


def test_the_quick_start_reader_finds_commands_and_addresses() -> None:
    readme = (
        "## Quick start\n\ntext\n\n```sh\nuv sync      # makes .venv\nuv run x\n```\n\n"
        "Then try:\n\n- http://127.0.0.1:8000/api/docs — the docs\n- http://elsewhere/\n"
    )

    assert quick_start(readme) == (["uv sync", "uv run x"], ["http://127.0.0.1:8000/api/docs"])


def burn() -> None:
    while True:
        pass


@contextlib.contextmanager
def loaded_machine() -> Iterator[None]:
    """A busy process per core, for as long as the block runs."""
    cores = os.cpu_count() or 2
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(cores)]
    for burner in burners:
        burner.start()
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.join()


@contextlib.contextmanager
def scratch_database_name() -> Iterator[str]:
    name = f"quick_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"database": "postgresql", "cache": "redis"}, id="postgresql-redis"),
    ],
)
def test_the_readme_quick_start_works_literally(
    cookies, options: dict[str, str], tmp_path: Path
) -> None:
    project = bake(cookies, **options)
    commands, addresses = quick_start((project.path / "README.md").read_text())
    assert commands[-1].startswith("uv run uvicorn "), commands
    port = free_port()
    # The environment a newcomer has: uv on the PATH, a Python uv may use, the port free.
    environment = {**newcomer_environment(project.env()), "UVICORN_PORT": str(port)}
    with contextlib.ExitStack() as stack:
        if options.get("database") == "postgresql":
            # The .env names the slug's database; a run of its own gets a name of its own.
            name = stack.enter_context(scratch_database_name())
            environment["DATABASE_URL"] = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        stack.enter_context(loaded_machine())
        for command in commands[:-1]:
            run_in_shell(command, project.path, environment)
        log = stack.enter_context(serving(commands[-1], project.path, environment, tmp_path))
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/api/health", *log.process_and_path())
        answers = {
            address: httpx.get(
                address.replace("http://127.0.0.1:8000", url), timeout=60, follow_redirects=True
            ).status_code
            for address in addresses
        }
        time.sleep(3)  # the task worker's retries, against a search cluster that is not there

    assert answers and set(answers.values()) == {200}, answers
    written = log.text()
    assert " ERROR " not in written and "Traceback" not in written, written
    if (project.path / "search").exists():
        failing = [line for line in written.splitlines() if "search.indexing.index_posts" in line]
        assert len(failing) == 1 and "is failing" in failing[0], failing


class ServerLog:
    def __init__(self, process: subprocess.Popen[str], path: Path) -> None:
        self.process, self.path = process, path

    def process_and_path(self) -> tuple[subprocess.Popen[str], Path]:
        return self.process, self.path

    def text(self) -> str:
        return self.path.read_text()


@contextlib.contextmanager
def serving(
    command: str, cwd: Path, environment: dict[str, str], tmp_path: Path
) -> Iterator[ServerLog]:
    path = tmp_path / "server.log"
    with path.open("w") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=cwd,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        yield ServerLog(process, path)
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()
            process.wait()
