"""The OpenAPI document of every bake, as client tooling reads it: clean under Redocly's
`recommended` rules and Spectral's `spectral:oas` (tests/openapi/ holds their configuration
and the two exceptions that keep the document honest)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import TEMPLATE_DIR, BakedProject

pytestmark = pytest.mark.slow

CONFIG = TEMPLATE_DIR / "tests" / "openapi"
# make test installs both from npm.
LINTERS = TEMPLATE_DIR / ".venv" / "openapi-lint" / "node_modules" / ".bin"


@pytest.fixture
def schema(project: BakedProject, tmp_path: Path) -> Path:
    """The document as the project serves it, beside the linters' configuration."""
    shutil.copytree(CONFIG, tmp_path, dirs_exist_ok=True)
    document = tmp_path / "openapi.json"
    project.uv_run("python", "manage.py", "export_openapi_schema", "--output", str(document))
    return document


def lint(linter: str, schema: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [str(LINTERS / linter), "lint", schema.name, *options]
    return subprocess.run(
        command, cwd=schema.parent, capture_output=True, text=True, timeout=300, check=False
    )


def test_redocly_recommended_finds_nothing(schema: Path) -> None:
    result = lint("redocly", schema, "--config", "redocly.yaml", "--format", "json")

    totals = json.loads(result.stdout)["totals"]
    assert (totals["errors"], totals["warnings"]) == (0, 0), result.stdout[-4000:]


def test_spectral_oas_finds_nothing(schema: Path) -> None:
    result = lint("spectral", schema, "--fail-severity", "warn")

    assert result.returncode == 0, result.stdout[-4000:]
