"""The READMEs render as Markdown should: no table cut in two, no template tag left over."""

import itertools
import re
from pathlib import Path

import pytest
from conftest import OPTION_SETS, TEMPLATE_DIR
from markdown_it import MarkdownIt

MARKDOWN = MarkdownIt("commonmark").enable("table")
TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


def rendering_problems(text: str) -> list[str]:
    """Rows that fell out of their table (a blank line ends a table: what follows renders as
    a paragraph of pipes), and template tags that reach the rendered page."""
    problems = []
    tokens = MARKDOWN.parse(text)
    for opening, inline in itertools.pairwise(tokens):
        if opening.type != "paragraph_open" or not opening.map:
            continue
        for offset, line in enumerate(inline.content.splitlines()):
            if line.lstrip().startswith("|"):
                problems.append(f"line {opening.map[0] + offset + 1}: a row outside a table")
    for tag in TEMPLATE_TAG.findall(MARKDOWN.render(text)):
        problems.append(f"template tag left over: {tag}")
    return problems


def test_the_checker_finds_a_table_cut_in_two() -> None:
    cut = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"

    assert rendering_problems(cut) == ["line 5: a row outside a table"]
    assert rendering_problems(cut.replace("\n\n", "\n")) == []


def test_root_readme_renders() -> None:
    assert rendering_problems((TEMPLATE_DIR / "README.md").read_text()) == []


@pytest.mark.parametrize("options", OPTION_SETS)
def test_baked_readme_renders(cookies, options: dict[str, str]) -> None:
    result = cookies.bake(extra_context=options)
    assert result.exit_code == 0, result.exception

    assert rendering_problems(Path(result.project_path, "README.md").read_text()) == []
