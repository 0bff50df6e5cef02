"""cruft (cookiecutter plus updates) can create from the template and check the project.

cruft clones the template repository, so this reads the last commit, not the working tree.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TEMPLATE_DIR

pytestmark = pytest.mark.slow

CRUFT = str(Path(sys.executable).with_name("cruft"))


def run(*args: str, cwd: Path) -> None:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}\n{result.stderr}"


def test_cruft_creates_a_linked_project_that_is_up_to_date(tmp_path: Path) -> None:
    run(
        CRUFT,
        "create",
        str(TEMPLATE_DIR),
        "--no-input",
        "--output-dir",
        str(tmp_path),
        cwd=tmp_path,
    )
    project = tmp_path / "my_async_api"

    assert (project / ".cruft.json").is_file()
    assert (project / ".env").is_file()  # the hooks ran
    run(CRUFT, "check", cwd=project)
