"""The baked `make fuzz`: Schemathesis reads the served default project's OpenAPI schema and
finds no 5xx, no undocumented status, no answer off its schema, no invalid input accepted."""

import os
import re
import time
from pathlib import Path

import pytest
from conftest import BakedProject, uv_executable

pytestmark = pytest.mark.slow

FUZZ_SECONDS = 60


def test_make_fuzz_finds_nothing(default_project: BakedProject) -> None:
    path = f"{Path(uv_executable()).parent}{os.pathsep}{os.environ['PATH']}"
    started = time.monotonic()
    result = default_project.run(
        "make", "fuzz", f"FUZZ_SECONDS={FUZZ_SECONDS}", env={"PATH": path}, timeout=900
    )
    print(f"\nmake fuzz: {time.monotonic() - started:.0f} s\n{result.stdout[-1500:]}")

    operations = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", result.stdout)
    assert operations, result.stdout
    selected, total, tested = map(int, operations.groups())
    assert selected == total == tested >= 9  # every operation, none skipped
    assert re.search(r"(\d+) generated, \1 passed", result.stdout), result.stdout
    assert "Failures:" not in result.stdout
    # The one warning allowed: Schemathesis has no reader for the export's NDJSON lines (the
    # baked tests check them); any other warning is a finding.
    warnings = re.search(r"Warnings:\n(.*?)\n\n", result.stdout, re.S)
    if warnings:
        lines = warnings[1].strip().splitlines()
        assert all("application/x-ndjson" in line for line in lines), warnings[1]
