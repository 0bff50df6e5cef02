"""Each bake's CI workflow, run here the way GitHub runs it on the first push.

The steps come from the baked .github/workflows/ci.yml, in order, with the job's
environment, on a fresh bake without the .env the bake writes (it is git-ignored, so a
pushed repo has none) and with DEBUG unset. The workflow's services are replaced by this
machine's: its PostgreSQL (a fresh database), its Redis (the same address, 127.0.0.1:6379;
the baked tests use a key prefix of their own) and, for search, the in-memory engine the
baked tests start themselves.
"""

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import DEFAULTS, OPTION_SETS, bake, cached_find_python, uv_executable

pytestmark = pytest.mark.slow

WORKFLOW = Path(".github/workflows/ci.yml")
# What each action does on GitHub, and what stands for it here.
ACTIONS = {
    "actions/checkout": "the bake is the checkout",
    "astral-sh/setup-uv": "uv is on PATH; UV_PYTHON points at the asked Python",
}
SERVICES = {"postgres", "elasticsearch", "redis"}
SETTING = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def with_workflow(option_set: Any) -> bool:
    return option_set.values[0].get("ci", DEFAULTS["ci"][0]) == "github"


def clean_environment(project_dir: Path) -> dict[str, str]:
    """This process's environment without anything the project reads as a setting."""
    settings = set(SETTING.findall((project_dir / ".env.example").read_text()))
    return {
        name: value
        for name, value in os.environ.items()
        if name not in settings and not name.startswith("VIRTUAL_ENV")
    }


def job_environment(job: dict[str, Any], fresh_database: Callable[[], str]) -> dict[str, str]:
    """The job's env, with its service addresses pointed at this machine's stand-ins."""
    assert set(job.get("services", {})) <= SERVICES, "teach this test the new service"
    environment = {name: str(value) for name, value in job.get("env", {}).items()}
    if "DATABASE_URL" in environment:
        environment["DATABASE_URL"] = fresh_database()
    # No cluster here: without this variable the search tests start the in-memory engine.
    environment.pop("ELASTICSEARCH_TEST_URL", None)
    return environment


def run_step(step: dict[str, Any], cwd: Path, environment: dict[str, str]) -> None:
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        cwd=cwd,
        env={**environment, **{k: str(v) for k, v in step.get("env", {}).items()}},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, (
        f"step `{step['run']}` exited {result.returncode}\n"
        f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
    )


@pytest.mark.parametrize("options", [p for p in OPTION_SETS if with_workflow(p)])
def test_workflow_steps_pass_without_the_env_file(
    cookies, options: dict[str, str], postgres_databases: Callable[[], str]
) -> None:
    project = bake(cookies, **options)
    (project.path / ".env").unlink()
    job = yaml.safe_load((project.path / WORKFLOW).read_text())["jobs"]["test"]
    environment = {
        **clean_environment(project.path),
        "CI": "true",
        "PATH": f"{Path(uv_executable()).parent}{os.pathsep}{os.environ['PATH']}",
        **job_environment(job, postgres_databases),
    }

    for step in job["steps"]:
        if "uses" in step:
            action = step["uses"].split("@")[0]
            assert action in ACTIONS, f"teach this test what {action} does"
            python = step.get("with", {}).get("python-version")
            if python and (found := cached_find_python(str(python))):
                environment["UV_PYTHON"] = found
            continue
        run_step(step, project.path, environment)
