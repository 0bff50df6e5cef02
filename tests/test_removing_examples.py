"""The baked docs/removing-examples.md, followed literally: on a project cruft made from the
template (migrated, with posts, committed), every command of its `sh` block runs in order and
succeeds, the block's own checks included (the suite, ruff, mypy, makemigrations --check);
what is left has nothing of say-after, the blog, search or webhooks, as a bake without them.

cruft clones the template repository: this reads its last commit, not the working tree.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import (
    BLOG_WORDS,
    SAY_AFTER_WORDS,
    TEMPLATE_DIR,
    BakedProject,
    cached_find_python,
    default_python_version,
    newcomer_environment,
    run_in_shell,
)

pytestmark = pytest.mark.slow

CRUFT = str(Path(sys.executable).with_name("cruft"))
# Not the project's code: tools' caches, the data, the guide itself, the .env the team owns.
NOT_CODE = {".venv", ".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"} | {
    ".cruft.json",
    ".env",
    "removing-examples.md",
    "uv.lock",
}
GUIDE_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def guide_commands(guide: str) -> list[str]:
    found = GUIDE_BLOCK.search(guide)
    assert found, "the guide has no sh block"
    return [line.split("  #")[0].strip() for line in found[1].splitlines() if line.strip()]


def test_following_the_removal_guide_leaves_a_project_that_passes_everything(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [CRUFT, "create", str(TEMPLATE_DIR), "--no-input", "--output-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    project = BakedProject(tmp_path / "my_async_api", {"project_slug": "my_async_api"})
    python = cached_find_python(default_python_version())
    environment = newcomer_environment(
        {
            **{k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")},
            **({"UV_PYTHON": python} if python else {}),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        }
    )

    def run(command: str) -> None:
        run_in_shell(command, project.path, environment)

    # A project in use: installed, migrated, committed.
    for command in (
        "uv sync",
        "uv run python manage.py migrate",
        "uv run python manage.py seed_posts --count 5",  # rows for `migrate zero` to drop
        "git init -q",
        "git add -A",
    ):
        run(command)
    run("git commit -qm 'the project as baked'")
    for command in guide_commands((project.path / "docs/removing-examples.md").read_text()):
        run(command)

    for removed in ("search", "webhooks", "blog", "bench", "tests/test_say_after.py"):
        assert not (project.path / removed).exists(), removed
    code = [
        path
        for path in project.path.rglob("*")
        if path.is_file()
        and not NOT_CODE & set(path.parts)
        and not path.name.startswith("db.sqlite3")
    ]
    for words, flags in (
        (r"elasticsearch|webhook", re.I),
        (SAY_AFTER_WORDS, re.I),
        (BLOG_WORDS, 0),  # POST is not a post
    ):
        left = [
            str(path.relative_to(project.path))
            for path in code
            if re.search(words, path.read_text(errors="ignore"), flags)
        ]
        assert left == [], words
    assert list(project.path.rglob("*.rej")) == []
