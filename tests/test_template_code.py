"""The template's own code (hooks, scripts, tests) is held to the same linters as baked code."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE_DIR

RUFF = str(Path(sys.executable).with_name("ruff"))


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_template_code_passes_ruff(command: list[str]) -> None:
    result = subprocess.run(
        [RUFF, *command, "hooks", "scripts", "tests"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
