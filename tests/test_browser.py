"""The OpenAPI docs page in headless Chromium, offline: "Try it out" on say-async, and a post
created with a token given to the page's "Authorize" dialog."""

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BakedProject, Server
from playwright.sync_api import Page, Route, expect, sync_playwright

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


@contextlib.contextmanager
def docs_page(server: Server, screenshot: Path) -> Iterator[Page]:
    """The docs page, loaded with every request to another host aborted; fails the test if
    the page asked for any (works offline means: needs nothing from a CDN, fonts, ...)."""
    elsewhere: list[str] = []

    def only_the_served_project(route: Route) -> None:
        if route.request.url.startswith(f"{server.url}/"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/*", only_the_served_project)
        page.goto(f"{server.url}/api/docs", wait_until="networkidle")
        assert elsewhere == [], "the docs page asks other hosts"
        expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
        try:
            yield page
        finally:
            page.screenshot(path=screenshot, full_page=True)
            print(f"\nscreenshot: {screenshot}")
            browser.close()
    assert elsewhere == []


def test_docs_page_runs_say_async_in_a_browser(uvicorn_server: Server, tmp_path: Path) -> None:
    with docs_page(uvicorn_server, tmp_path / "api-docs.png") as page:
        operation = page.locator(".opblock", has_text="/api/say-async")
        expect(operation).to_be_visible()
        expect(page.locator(".opblock", has_text="/api/say-sync")).to_be_visible()
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        operation.locator("input[placeholder='word']").fill("from-the-browser")
        operation.get_by_role("button", name="Execute").click()
        body = operation.locator(".live-responses-table .response-col_description pre").first
        expect(body).to_contain_text('"saying": "from-the-browser"', timeout=15_000)


def test_docs_page_creates_a_post_with_an_authorized_token(
    default_project: BakedProject, uvicorn_server: Server, tmp_path: Path
) -> None:
    token = default_project.api_token("docs-page-user")

    with docs_page(uvicorn_server, tmp_path / "api-docs-authorized.png") as page:
        page.locator("button.authorize").first.click()
        bearer = page.locator(".modal-ux .auth-container", has_text="BearerToken")
        bearer.locator("input").fill(token)
        bearer.get_by_role("button", name="Apply credentials").click()
        page.locator(".modal-ux .close-modal").click()
        create = page.locator(
            '.opblock-post:has(.opblock-summary-path[data-path="/api/blog/posts"])'
        )
        create.locator(".opblock-summary").click()
        create.get_by_role("button", name="Try it out").click()
        create.locator("textarea.body-param__text").fill('{"title": "from the docs page"}')
        create.get_by_role("button", name="Execute").click()
        body = create.locator(".live-responses-table .response-col_description pre").first
        expect(body).to_contain_text('"author": "docs-page-user"', timeout=15_000)
