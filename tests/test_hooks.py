"""The hooks: bad answers stop the bake with a reason; good ones finish the project."""

from pathlib import Path

import post_gen_project
import pre_gen_project
import pytest


@pytest.mark.parametrize(
    ("slug", "reason"),
    [
        ("1abc", "not a lowercase Python identifier"),
        ("class", "is a Python keyword"),
        ("my-project", "not a lowercase Python identifier"),
        ("django", "would shadow the module 'django'"),
        ("accounts", "would shadow the module 'accounts'"),
        ("asyncio", "would shadow the standard library module"),
        ("MyProject", "not a lowercase Python identifier"),
    ],
)
def test_bad_slug_stops_the_bake_and_leaves_nothing(
    cookies, capfd: pytest.CaptureFixture[str], tmp_path: Path, slug: str, reason: str
) -> None:
    result = cookies.bake(extra_context={"project_slug": slug})

    assert result.exit_code != 0
    assert reason in capfd.readouterr().err
    assert [p for p in (tmp_path / "cookies").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ({"author_email": "not-an-email"}, "is not an email address"),
        ({"project_name": "   "}, "project_name must not be empty"),
        ({"description": 'say "hi"'}, "description must not contain double quotes"),
        ({"author_name": "back\\slash"}, "author_name must not contain"),
        ({"project_name": "It's ''' odd"}, None),
        ({"use_blog": "no"}, "use_blog=no needs use_elasticsearch=no and use_webhooks=no"),
        ({"use_blog": "no", "use_elasticsearch": "no"}, "use_blog=no needs use_webhooks=no"),
        ({"use_blog": "no", "use_elasticsearch": "no", "use_webhooks": "no"}, None),
        ({"project_slug": "s" * 56}, "project_slug is 56 characters long: at most 55"),
        ({"project_slug": "s" * 56, "use_docker": "no"}, None),
        ({"project_slug": "s" * 55}, None),
    ],
)
def test_free_text_answers_are_checked(
    cookies, capfd: pytest.CaptureFixture[str], answers: dict[str, str], reason: str | None
) -> None:
    result = cookies.bake(extra_context={"project_slug": "fine_slug"} | answers)

    if reason is None:  # awkward but harmless text must not break the hook itself
        assert result.exit_code == 0, result.exception
    else:
        assert result.exit_code != 0
        assert reason in capfd.readouterr().err


@pytest.mark.parametrize("slug", ["my_async_api", "shop", "_private", "api_v2"])
def test_good_slugs_pass(slug: str) -> None:
    assert pre_gen_project.slug_problem(slug) is None


def test_slug_is_derived_from_the_project_name(cookies) -> None:
    result = cookies.bake(extra_context={"project_name": "Order Tracker-Pro"})

    assert result.exit_code == 0, result.exception
    assert result.project_path.name == "order_tracker_pro"


def test_env_file_gets_a_fresh_secret_key(tmp_path: Path) -> None:
    (tmp_path / ".env.example").write_text("DEBUG=true\nSECRET_KEY=change-me\nOTHER=1\n")

    post_gen_project.write_env_file(tmp_path)
    lines = (tmp_path / ".env").read_text().splitlines()

    assert lines[0] == "DEBUG=true" and lines[2] == "OTHER=1"
    key = lines[1].removeprefix("SECRET_KEY=")
    assert len(key) >= 50 and "change-me" not in key


def test_two_bakes_get_different_secret_keys(cookies) -> None:
    keys = []
    for _ in range(2):
        result = cookies.bake()
        assert result.exit_code == 0, result.exception
        env = (result.project_path / ".env").read_text()
        keys.append(next(line for line in env.splitlines() if line.startswith("SECRET_KEY=")))

    assert keys[0] != keys[1]


def test_remove_paths_removes_files_and_folders(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "inside.py").write_text("")
    (tmp_path / "file.py").write_text("")
    (tmp_path / "kept.py").write_text("")

    post_gen_project.remove_paths(tmp_path, ["folder", "file.py", "missing.py"])

    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.py"]


def test_every_top_level_module_of_a_bake_is_reserved(cookies) -> None:
    """A slug named like one of the project's own packages would shadow it."""
    result = cookies.bake(extra_context={"cache": "redis"})
    project = result.project_path

    modules = {path.parent.name for path in project.glob("*/__init__.py")}
    modules |= {path.stem for path in project.glob("*.py")}
    modules -= {result.context["project_slug"]}

    assert modules - pre_gen_project.RESERVED_NAMES == set()
