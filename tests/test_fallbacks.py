"""The stock fallbacks (baked docs/stock-fallbacks.md): with every one on, the baked suite
passes, and the tests of the parts put aside skip saying which setting is on."""

import pytest
from conftest import BakedProject

pytestmark = pytest.mark.slow

FALLBACKS = {
    "STOCK_ASGI_HANDLER": "runtime/handler.py",
    "STOCK_MIDDLEWARE": "runtime/middleware.py",
    "STOCK_SQLITE_BACKEND": "runtime/sqlite",
}


def test_the_suite_passes_with_every_stock_fallback_on(default_project: BakedProject) -> None:
    result = default_project.uv_run(
        "pytest",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        env=dict.fromkeys(FALLBACKS, "true"),
        timeout=1200,
    )

    for setting, part in FALLBACKS.items():
        assert f"{setting} is on: Django's" in result.stdout, setting
        assert part in result.stdout, part


def test_the_fallbacks_are_documented_in_the_bake(default_project: BakedProject) -> None:
    guide = (default_project.path / "docs/stock-fallbacks.md").read_text()
    settings = (default_project.path / default_project.slug / "settings.py").read_text()

    for setting in FALLBACKS:
        assert f"`{setting}=true`" in guide
        assert f'env.bool("{setting}", default=False)' in settings
