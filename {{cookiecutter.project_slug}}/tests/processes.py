"""A command run in the project's folder as a server or a script runs there: in a process of
its own, with the environment it is given (so the project's settings read that, not the test
suite's)."""

import subprocess

from django.conf import settings


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
