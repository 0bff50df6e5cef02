"""The OpenAPI docs page in headless Chromium, offline: "Try it out" on say-async, and a post
created with a token given to the page's "Authorize" dialog, and one created with the
session of a user signed in at /admin/ (the page sends the CSRF token). And allauth's browser
client: sign-up and login from the page's own origin, with the session cookie and CSRF."""

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
def docs_page(
    server: Server, screenshot: Path, sign_in: tuple[str, str] | None = None
) -> Iterator[Page]:
    """The docs page, loaded with every request to another host aborted; fails the test if
    the page asked for any (works offline means: needs nothing from a CDN, fonts, ...).
    With `sign_in` (username, password), signed in at /admin/ first."""
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
        if sign_in:
            page.goto(f"{server.url}/admin/login/?next=/api/docs")
            page.locator("input[name=username]").fill(sign_in[0])
            page.locator("input[name=password]").fill(sign_in[1])
            page.locator("input[type=submit]").click()
            page.wait_for_url(f"{server.url}/api/docs")
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


def create_a_post(page: Page, author: str) -> None:
    """Press "Try it out" on POST /api/blog/posts; the answer names the author."""
    create = page.locator('.opblock-post:has(.opblock-summary-path[data-path="/api/blog/posts"])')
    create.locator(".opblock-summary").click()
    create.get_by_role("button", name="Try it out").click()
    create.locator("textarea.body-param__text").fill('{"title": "from the docs page"}')
    create.get_by_role("button", name="Execute").click()
    body = create.locator(".live-responses-table .response-col_description pre").first
    expect(body).to_contain_text(f'"author": "{author}"', timeout=15_000)


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
        create_a_post(page, "docs-page-user")


def test_docs_page_creates_a_post_with_the_admin_session(
    default_project: BakedProject, uvicorn_server: Server, tmp_path: Path
) -> None:
    make_staff = (
        "from django.contrib.auth import get_user_model; "
        "get_user_model().objects.create_user("
        "'docs-admin', password='a-long-docs-password', is_staff=True)"
    )
    default_project.uv_run("python", "manage.py", "shell", "-c", make_staff)

    sign_in = ("docs-admin", "a-long-docs-password")
    with docs_page(uvicorn_server, tmp_path / "api-docs-session.png", sign_in) as page:
        create_a_post(page, "docs-admin")


# fetch() from the page: a POST with JSON, and the CSRF token from Django's cookie unless told
# not to. Answers the status and the body (JSON, or text: Django's CSRF refusal is a page).
POST_FROM_THE_PAGE = """async ([path, body, withCsrf]) => {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
  const headers = {"Content-Type": "application/json"};
  if (withCsrf) headers["X-CSRFToken"] = cookie.split("=")[1];
  const answer = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
  const text = await answer.text();
  try { return {status: answer.status, body: JSON.parse(text)}; }
  catch { return {status: answer.status, body: text}; }
}"""
BROWSER_CLIENT = "/_allauth/browser/v1"


def test_a_browser_signs_up_and_logs_in_with_its_session_and_csrf(
    default_project: BakedProject, uvicorn_server: Server, tmp_path: Path
) -> None:
    """allauth's browser client, driven from the docs page: a sign-up without the CSRF token
    is refused, one with it is pending verification; once verified (the emailed link is the
    baked suite's test), a login gives the page a session that "Try it out" uses on /api/me."""
    signup = {"email": "bo@example.com", "username": "bo", "password": "a long browser passphrase"}
    login = {"username": "bo", "password": signup["password"]}
    verify = (
        "from allauth.account.models import EmailAddress; "
        "EmailAddress.objects.filter(email='bo@example.com').update(verified=True)"
    )

    with docs_page(uvicorn_server, tmp_path / "api-docs-account.png") as page:

        def post(path: str, body: dict[str, str], with_csrf: bool = True) -> dict[str, Any]:
            answer: dict[str, Any] = page.evaluate(POST_FROM_THE_PAGE, [path, body, with_csrf])
            return answer

        forged = post(f"{BROWSER_CLIENT}/auth/signup", signup, with_csrf=False)
        signed_up = post(f"{BROWSER_CLIENT}/auth/signup", signup)
        default_project.uv_run("python", "manage.py", "shell", "-c", verify)
        logged_in = post(f"{BROWSER_CLIENT}/auth/login", login)

        me = page.locator('.opblock-get:has(.opblock-summary-path[data-path="/api/me"])')
        me.locator(".opblock-summary").click()
        me.get_by_role("button", name="Try it out").click()
        me.get_by_role("button", name="Execute").click()
        answer = me.locator(".live-responses-table .response-col_description pre").first
        expect(answer).to_contain_text('"username": "bo"', timeout=15_000)

    assert forged["status"] == 403  # Django's CSRF check: not allauth's answer shape
    assert signed_up["status"] == 401, signed_up
    pending = [flow["id"] for flow in signed_up["body"]["data"]["flows"] if flow.get("is_pending")]
    assert pending == ["verify_email"]
    assert logged_in["status"] == 200, logged_in
    assert logged_in["body"]["data"]["user"]["username"] == "bo"
