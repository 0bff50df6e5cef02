"""The OpenAPI docs page in headless Chromium, offline: "Try it out" on say-async, and a post
created with a token given to the page's "Authorize" dialog, and one created with the
session of a user signed in at /admin/ (the page sends the CSRF token). And allauth's
document on the same page: a person signs up and logs in there with allauth's browser client
(the session cookie and CSRF), then calls the API."""

import contextlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BakedProject, Server
from playwright.sync_api import Locator, Page, Route, expect, sync_playwright

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


def try_it_out(
    page: Page, method: str, path: str, body: object = None, client: str | None = None
) -> Locator:
    """Press "Try it out" on one operation, fill it in and execute it; the answer's body."""
    operation = page.locator(f'.opblock-{method}:has(.opblock-summary-path[data-path="{path}"])')
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    if client:  # allauth's paths name the client: app or browser
        operation.locator('tr[data-param-name="client"] select').select_option(client)
    if body is not None:
        operation.locator("textarea.body-param__text").fill(json.dumps(body))
    operation.get_by_role("button", name="Execute").click()
    return operation.locator(".live-responses-table .response-col_description pre").first


def create_a_post(page: Page, author: str) -> None:
    """Press "Try it out" on POST /api/blog/posts; the answer names the author."""
    answer = try_it_out(page, "post", "/api/blog/posts", {"title": "from the docs page"})
    expect(answer).to_contain_text(f'"author": "{author}"', timeout=15_000)


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


# fetch() from the page: a POST with JSON and without the CSRF token, as another site's page
# would send it with the user's cookies. Answers the status.
POST_WITHOUT_CSRF = """async ([path, body]) => {
  const headers = {"Content-Type": "application/json"};
  const answer = await fetch(path, {method: "POST", headers, body: JSON.stringify(body)});
  return answer.status;
}"""
ACCOUNTS = "Accounts: django-allauth's headless API (/_allauth/)"
SIGNUP, LOGIN = "/_allauth/{client}/v1/auth/signup", "/_allauth/{client}/v1/auth/login"


def test_a_person_signs_up_and_logs_in_on_the_docs_page(
    default_project: BakedProject, uvicorn_server: Server, tmp_path: Path
) -> None:
    """allauth's document on the docs page (a link at its top), with allauth's browser
    client: the sign-up waits for the address to be verified; once it is (the emailed link is
    the baked suite's test), the login gives the page a session, which "Try it out" then uses
    on GET /api/me. A sign-up posted from the page without the CSRF token is refused."""
    signup = {"email": "bo@example.com", "username": "bo", "password": "a long browser passphrase"}
    login = {"username": "bo", "password": signup["password"]}
    verify = (
        "from allauth.account.models import EmailAddress; "
        "EmailAddress.objects.filter(email='bo@example.com').update(verified=True)"
    )

    with docs_page(uvicorn_server, tmp_path / "api-docs-account.png") as page:
        forged = page.evaluate(POST_WITHOUT_CSRF, ["/_allauth/browser/v1/auth/signup", signup])
        page.get_by_role("link", name=ACCOUNTS).click()
        signed_up = try_it_out(page, "post", SIGNUP, signup, client="browser")
        pending = re.compile(r'"id": "verify_email",\s+"is_pending": true')
        expect(signed_up).to_contain_text(pending, timeout=15_000)
        default_project.uv_run("python", "manage.py", "shell", "-c", verify)
        logged_in = try_it_out(page, "post", LOGIN, login, client="browser")
        expect(logged_in).to_contain_text('"username": "bo"', timeout=15_000)

        page.locator("nav.documents a").click()  # back to the API's own document
        me = try_it_out(page, "get", "/api/me")
        expect(me).to_contain_text('"username": "bo"', timeout=15_000)

    assert forged == 403  # Django's CSRF check
