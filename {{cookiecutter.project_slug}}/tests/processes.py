"""A command run in the project's folder as a server or a script runs there: in a process of
its own, with the environment it is given (so the project's settings read that, not the test
suite's); the test database's URL, for such a process to work on it; and its end."""

import subprocess
from typing import Any

from django.conf import settings
from django.db import connection


def run_in_project(
    args: list[str], environment: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=environment,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


def database_url() -> str:
    found = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{found['NAME']}"
    password = f":{found['PASSWORD']}" if found.get("PASSWORD") else ""
    return f"postgres://{found['USER']}{password}@{found['HOST']}:{found['PORT']}/{found['NAME']}"


def stop(process: subprocess.Popen[Any], grace: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not ended after `grace` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
