"""The project served by uvicorn in a process of its own, on a free loopback port, with the
environment a test gives it: for what only a running server shows (traces it exports, metrics
across worker processes, errors it reports). Its log lines go to a file the test can read."""

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings

from .processes import database_url, stop

PROJECT_SLUG = "{{ cookiecutter.project_slug }}"


@dataclass
class Server:
    url: str
    log: Path

    def log_lines(self) -> list[str]:
        return self.log.read_text().splitlines()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def served(environment: dict[str, str], log: Path, *, workers: int = 1) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", f"{PROJECT_SLUG}.asgi:application"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    process_environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "LOG_FORMAT": "json",
        "LOG_FLUSH_INTERVAL": "0",
        **environment,
    }
    with log.open("w") as output:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=process_environment,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the server ended:\n{log.read_text()}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{server.url}/api/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the server never answered:\n{log.read_text()}"
            time.sleep(0.1)
        yield server
    finally:
        stop(process)
