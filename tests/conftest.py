"""Fixtures that bake, install and serve projects from the template."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from find_python import find_python

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
DEFAULTS = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())


def default_python_version() -> str:
    return DEFAULTS["python_version"][0]


def uv_executable() -> str:
    beside_python = Path(sys.executable).with_name("uv")
    found = str(beside_python) if beside_python.exists() else shutil.which("uv")
    assert found, "uv is not installed: run `make test`, which installs it"
    return found


@dataclass
class BakedProject:
    path: Path
    context: dict[str, str]

    @property
    def slug(self) -> str:
        return self.context["project_slug"]

    def env(self) -> dict[str, str]:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
        python = find_python(self.context["python_version"])
        if python:
            environment["UV_PYTHON"] = python
        return environment

    def run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run a command in the project; fail the test with its output if it fails."""
        result = subprocess.run(
            args,
            cwd=self.path,
            env=self.env(),
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

    def uv_run(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return self.run(uv_executable(), "run", "--frozen", *args, timeout=timeout)

    def install(self) -> None:
        """What a user does first: `uv sync` (dependencies plus the dev group)."""
        self.run(uv_executable(), "sync", timeout=900)


def bake(cookies, **context: str) -> BakedProject:
    result = cookies.bake(extra_context=context)
    assert result.exit_code == 0, result.exception
    return BakedProject(result.project_path, result.context)


@pytest.fixture(scope="session")
def default_project(cookies_session) -> BakedProject:
    """The project a user gets with every default answer, installed with uv sync."""
    project = bake(cookies_session)
    project.install()
    project.uv_run("python", "manage.py", "migrate", "--no-input")
    return project


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


@pytest.fixture
def uvicorn_server(default_project: BakedProject, tmp_path: Path) -> Iterator[Server]:
    """`uvicorn <slug>.asgi:application` on a free port, as the README says to start it."""
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(default_project.path / ".venv/bin/uvicorn"),
                f"{default_project.slug}.asgi:application",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            cwd=default_project.path,
            env=default_project.env(),
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
