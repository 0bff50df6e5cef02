"""The OpenAPI docs page works offline: headless Chromium runs "Try it out" on say-async."""

import shutil
from pathlib import Path

import pytest
from conftest import Server
from playwright.sync_api import Route, expect, sync_playwright

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# No network here: keep Chromium from phoning home (and failing, slowly) at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_docs_page_runs_say_async_in_a_browser(uvicorn_server: Server, tmp_path: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        # Works offline means: asks nothing of any other host (a CDN, fonts, telemetry).
        elsewhere: list[str] = []

        def only_the_served_project(route: Route) -> None:
            if route.request.url.startswith(f"{uvicorn_server.url}/"):
                route.continue_()
            else:
                elsewhere.append(route.request.url)
                route.abort()

        page.route("**/*", only_the_served_project)
        page.goto(f"{uvicorn_server.url}/api/docs")

        operation = page.locator(".opblock", has_text="/api/say-async")
        expect(operation).to_be_visible(timeout=15_000)
        expect(page.locator(".opblock", has_text="/api/say-sync")).to_be_visible()
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("input[placeholder='word']").fill("from-the-browser")
        operation.get_by_role("button", name="Execute").click()
        body = operation.locator(".live-responses-table .response-col_description pre").first
        expect(body).to_contain_text('"saying": "from-the-browser"', timeout=15_000)

        page.screenshot(path=tmp_path / "api-docs.png", full_page=True)
        print(f"\nscreenshot: {tmp_path / 'api-docs.png'}")
        browser.close()

    assert elsewhere == []
