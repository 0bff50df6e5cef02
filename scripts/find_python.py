"""Print the path of a Python interpreter of a given version (e.g. 3.12), or nothing.

uv downloads interpreters it cannot find; on machines without network access to
python.org (like CI here) it must be pointed at one. We ask uv first, then look
in pyenv's versions folder, whose shims refuse to run unless pyenv activates them.
Usage: python3 scripts/find_python.py 3.12
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name))


def from_uv(version: str) -> str | None:
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    try:
        result = subprocess.run(
            [uv, "python", "find", "--no-python-downloads", version],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return None
    found = result.stdout.strip()
    return found if result.returncode == 0 and found else None


def from_pyenv(version: str) -> str | None:
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = sorted(
        Path(root, "versions").glob(f"{version}.*/bin/python{version}"),
        key=lambda p: version_key(p.parents[1]),
    )
    return str(candidates[-1]) if candidates else None


def find_python(version: str) -> str | None:
    if sys.version_info[:2] == tuple(int(x) for x in version.split(".")):
        return getattr(sys, "_base_executable", sys.executable)
    return from_uv(version) or from_pyenv(version)


if __name__ == "__main__":
    print(find_python(sys.argv[1]) or "")
