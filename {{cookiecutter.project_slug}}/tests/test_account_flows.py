"""The account flows of allauth's headless API, for an app client, with their emails sent by
the task worker to a real SMTP server (aiosmtpd on a free port) and read from what arrived."""

import email
import re
import socket
import urllib.parse
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from typing import Any

import django
import httpx
import pytest
from aiosmtpd.controller import Controller
from allauth.account.models import EmailAddress
from django.conf import LazySettings
from django.test import AsyncClient

from accounts.models import ApiToken, User
from outbox.models import QueuedTask
from outbox.worker import TaskWorker

from {{ cookiecutter.project_slug }}.asgi import application

from .conftest import WrittenLines

pytestmark = pytest.mark.django_db(transaction=True)

APP = "/_allauth/app/v1"
PASSWORD = "a long and rare passphrase"


class Inbox:
    """aiosmtpd's handler: every message that arrives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def key_for(self, address: str) -> str:
        """The key in the link of the last message to `address` (its plain text)."""
        (message, *_) = [m for m in reversed(self.messages) if m["To"] == address]
        text = message.get_body(("plain",)).get_content()
        found = re.search(r"/(?:key|verify-email)/(\S+)", text)
        assert found, text
        return urllib.parse.unquote(found.group(1))  # as the front end reads it from its URL


@pytest.fixture
def inbox(settings: LazySettings) -> Iterator[Inbox]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    smtp = "django.core.mail.backends.smtp.EmailBackend"
    if django.VERSION >= (6, 1):
        options = {"host": "127.0.0.1", "port": port, "timeout": 10}
        settings.MAILERS = {"default": {"BACKEND": smtp, "OPTIONS": options}}
    else:
        settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT = smtp, "127.0.0.1", port
    try:
        yield handler
    finally:
        controller.stop()


async def send_emails() -> None:
    await TaskWorker().run_until_idle()


async def call(
    client: AsyncClient, method: str, path: str, body: object = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    data = () if body is None else (body,)
    response = await getattr(client, method)(
        path, *data, content_type="application/json", headers=headers
    )
    return response.status_code, response.json() if response.content else {}


async def test_sign_up_verify_login_write_logout(inbox: Inbox) -> None:
    client = AsyncClient()
    signup = {"email": "ada@example.com", "username": "ada", "password": PASSWORD}

    status, answer = await call(client, "post", f"{APP}/auth/signup", signup)
    assert status == 401  # signed up, not in yet: the address is to be verified
    session = answer["meta"]["session_token"]
    assert [f["id"] for f in answer["data"]["flows"] if f.get("is_pending")] == ["verify_email"]
    assert inbox.messages == []  # not sent in the request: by the task worker
    await send_emails()
    (message,) = inbox.messages
    assert message["To"] == "ada@example.com"
    assert message.get_body(("html",)) is not None  # plain text and HTML

    key = inbox.key_for("ada@example.com")
    status, answer = await call(
        client, "post", f"{APP}/auth/email/verify", {"key": key}, X_Session_Token=session
    )
    assert status == 401, answer  # verified; logging in is the next step
    assert await EmailAddress.objects.filter(email="ada@example.com", verified=True).aexists()

    status, answer = await call(
        client, "post", f"{APP}/auth/login", {"email": "ada@example.com", "password": PASSWORD}
    )
    assert status == 200, answer
    token, session = answer["meta"]["access_token"], answer["meta"]["session_token"]
    bearer = {"Authorization": f"Bearer {token}"}

    status, me = await call(client, "get", "/api/probe/me", **bearer)
    assert (status, me) == (200, {"username": "ada"})
    status, _ = await call(client, "post", "/api/probe/groups", {"name": "ada's"}, **bearer)
    assert status == 201  # a write

    status, _ = await call(client, "delete", f"{APP}/auth/session", X_Session_Token=session)
    assert status == 401, _  # logged out
    status, _ = await call(client, "post", "/api/probe/groups", {"name": "again"}, **bearer)
    assert status == 401  # the login's token went with the session


async def test_reset_by_the_emailed_key_once(inbox: Inbox, settings: LazySettings) -> None:
    bea = await User.objects.acreate_user("bea", "bea@example.com", "an old passphrase")
    await EmailAddress.objects.acreate(user=bea, email=bea.email, verified=True, primary=True)
    client = AsyncClient()

    status, _ = await call(
        client, "post", f"{APP}/auth/password/request", {"email": "bea@example.com"}
    )
    assert status == 200
    await send_emails()
    reset = {"key": inbox.key_for("bea@example.com"), "password": PASSWORD}

    status, answer = await call(client, "post", f"{APP}/auth/password/reset", reset)
    assert status in (200, 401), answer
    status, answer = await call(AsyncClient(), "post", f"{APP}/auth/password/reset", reset)
    assert status == 400, answer  # a key works once

    status, answer = await call(
        AsyncClient(), "post", f"{APP}/auth/login", {"username": "bea", "password": PASSWORD}
    )
    assert status == 200, answer


async def test_a_reset_key_past_password_reset_timeout_is_refused(
    inbox: Inbox, settings: LazySettings
) -> None:
    """Django's reset tokens carry their time: one older than PASSWORD_RESET_TIMEOUT (3 days
    by default) is refused. Here the timeout is set below the key's age of 0 s."""
    await verified_user("eve")
    await call(AsyncClient(), "post", f"{APP}/auth/password/request", {"email": "eve@example.com"})
    await send_emails()
    reset = {"key": inbox.key_for("eve@example.com"), "password": "a new and rare passphrase"}
    settings.PASSWORD_RESET_TIMEOUT = -1

    status, answer = await call(AsyncClient(), "post", f"{APP}/auth/password/reset", reset)

    assert status == 400, answer
    assert [error["code"] for error in answer["errors"]] == ["invalid_password_reset"], answer


async def test_keys_and_tokens_never_reach_the_logs(
    inbox: Inbox, written_lines: WrittenLines
) -> None:
    """Sign-up, verification, login and reset, with every request's log line: none of them
    holds an emailed key, a session token or an access token."""
    client = AsyncClient()
    signup = {"email": "fay@example.com", "username": "fay", "password": PASSWORD}
    _, answer = await call(client, "post", f"{APP}/auth/signup", signup)
    session = answer["meta"]["session_token"]
    await send_emails()
    key = inbox.key_for("fay@example.com")
    await call(client, "post", f"{APP}/auth/email/verify", {"key": key}, X_Session_Token=session)
    access, session_after_login = await login(client, "fay", PASSWORD)
    await call(client, "post", f"{APP}/auth/password/request", {"email": "fay@example.com"})
    await send_emails()
    reset_key = inbox.key_for("fay@example.com")
    reset = {"key": reset_key, "password": "a new and rare passphrase"}
    status, _ = await call(client, "post", f"{APP}/auth/password/reset", reset)
    secrets = [key, session, access, session_after_login, reset_key]

    lines = written_lines()
    assert status in (200, 401) and len(lines) >= 6, lines  # the calls were logged
    assert [line for line in lines if any(secret in line for secret in secrets)] == []


async def test_a_reset_key_without_its_user_part_is_a_400_not_a_500() -> None:
    """A key that starts with "-" made allauth 65.x fail with a TypeError (accounts/reset_keys.py).
    Checking it (GET, the key in a header) and using it (POST) are both refused like any
    wrong key."""
    await verified_user("hex")
    reset = {"key": "-a1b2c3", "password": "a new and rare passphrase"}

    checked = await AsyncClient().get(
        f"{APP}/auth/password/reset", headers={"X-Password-Reset-Key": "-a1b2c3"}
    )
    used, answer = await call(AsyncClient(), "post", f"{APP}/auth/password/reset", reset)

    assert (checked.status_code, used) == (400, 400), answer
    assert [error["code"] for error in answer["errors"]] == ["invalid_password_reset"]
    assert [error["code"] for error in checked.json()["errors"]] == ["invalid_password_reset"]


async def test_an_emailed_key_is_never_stored_in_clear(inbox: Inbox) -> None:
    await call(AsyncClient(), "post", f"{APP}/auth/password/request", {"email": "x@example.com"})
    signup = {"email": "cy@example.com", "username": "cy", "password": PASSWORD}
    await call(AsyncClient(), "post", f"{APP}/auth/signup", signup)
    rows = [str(row.args) async for row in QueuedTask.objects.all()]
    await send_emails()

    assert len(inbox.messages) == 2
    assert "verify-email" not in " ".join(rows)
    assert inbox.key_for("cy@example.com") not in " ".join(rows)
    assert not await ApiToken.objects.aexists()


async def login(client: AsyncClient, username: str, password: str) -> tuple[str, str]:
    """A login's (access token, session token)."""
    status, answer = await call(
        client, "post", f"{APP}/auth/login", {"username": username, "password": password}
    )
    assert status == 200, answer
    return answer["meta"]["access_token"], answer["meta"]["session_token"]


async def test_a_new_password_revokes_every_other_token(inbox: Inbox) -> None:
    dee = await User.objects.acreate_user("dee", "dee@example.com", "the first passphrase")
    await EmailAddress.objects.acreate(user=dee, email=dee.email, verified=True, primary=True)
    other_device, _ = await login(AsyncClient(), "dee", "the first passphrase")
    this_device, session = await login(AsyncClient(), "dee", "the first passphrase")
    change = {"current_password": "the first passphrase", "new_password": PASSWORD}

    status, answer = await call(
        AsyncClient(), "post", f"{APP}/account/password/change", change, X_Session_Token=session
    )
    assert status == 200, answer

    async def me(token: str) -> int:
        bearer = {"Authorization": f"Bearer {token}"}
        return (await call(AsyncClient(), "get", "/api/probe/me", **bearer))[0]

    assert await me(this_device) == 200  # kept: the session that changed it
    assert await me(other_device) == 401


async def test_a_new_password_ends_the_users_other_sessions() -> None:
    """A browser's session (its cookie) ends when the password changes elsewhere: Django
    keeps a hash of the password in the session and refuses a session whose hash is old."""
    await verified_user("gil")
    browser = AsyncClient()
    await browser.aforce_login(await User.objects.aget(username="gil"))
    assert (await browser.get("/api/probe/me")).json() == {"username": "gil"}
    _, session = await login(AsyncClient(), "gil", PASSWORD)
    change = {"current_password": PASSWORD, "new_password": "a new and rare passphrase"}

    status, answer = await call(
        AsyncClient(), "post", f"{APP}/account/password/change", change, X_Session_Token=session
    )

    assert status == 200, answer
    assert (await browser.get("/api/probe/me")).json() == {"username": ""}  # anonymous now


async def test_the_account_flows_have_their_own_openapi_document() -> None:
    response = await AsyncClient().get("/_allauth/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {"/_allauth/{client}/v1/auth/login", "/_allauth/{client}/v1/auth/signup"} <= set(paths)


async def verified_user(name: str, password: str = PASSWORD) -> User:
    user = await User.objects.acreate_user(name, f"{name}@example.com", password)
    await EmailAddress.objects.acreate(user=user, email=user.email, verified=True, primary=True)
    return user


def without_session(answer: dict[str, Any]) -> dict[str, Any]:
    """An answer less what differs between any two calls (the session token)."""
    return {
        **answer,
        "meta": {k: v for k, v in answer.get("meta", {}).items() if k != "session_token"},
    }


async def test_no_answer_tells_whether_an_address_has_an_account(inbox: Inbox) -> None:
    await verified_user("eve")

    async def ask(path: str, body: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, answer = await call(AsyncClient(), "post", f"{APP}{path}", body)
        return status, without_session(answer)

    known = await ask("/auth/password/request", {"email": "eve@example.com"})
    unknown = await ask("/auth/password/request", {"email": "nobody@example.com"})
    taken = await ask(
        "/auth/signup", {"email": "eve@example.com", "username": "eve2", "password": PASSWORD}
    )
    free = await ask(
        "/auth/signup", {"email": "fay@example.com", "username": "fay", "password": PASSWORD}
    )

    assert known == unknown and known[0] == 200
    assert taken == free and taken[0] == 401
    await send_emails()  # what differs goes by email, to the address's owner
    assert sorted(m["To"] for m in inbox.messages) == [
        "eve@example.com",  # the reset link
        "eve@example.com",  # "you already have an account"
        "fay@example.com",  # the verification link
        "nobody@example.com",  # "there is no account with this address"
    ]


async def test_weak_passwords_are_refused_by_djangos_validators() -> None:
    for password in ("short1", "password123", "12345678901"):
        signup = {"email": "gus@example.com", "username": "gus", "password": password}
        status, answer = await call(AsyncClient(), "post", f"{APP}/auth/signup", signup)

        assert status == 400, password
        assert {error["param"] for error in answer["errors"]} == {"password"}, answer
    assert not await User.objects.filter(username="gus").aexists()


async def test_failed_logins_are_limited_per_account() -> None:
    """allauth's login_failed limit, in Django's cache: after 5 wrong passwords for one account
    in 5 minutes, even the right one is refused (allauth answers 400, not 429)."""
    await verified_user("hal")

    async def login_as_hal(password: str) -> list[str]:
        body = {"email": "hal@example.com", "password": password}
        status, answer = await call(AsyncClient(), "post", f"{APP}/auth/login", body)
        return [error["code"] for error in answer.get("errors", [])] if status == 400 else []

    wrong = [await login_as_hal(f"guess {n}") for n in range(5)]

    assert wrong == [["email_password_mismatch"]] * 5
    assert await login_as_hal("guess 6") == ["too_many_login_attempts"]
    assert await login_as_hal(PASSWORD) == ["too_many_login_attempts"]


async def test_failed_logins_count_for_the_account_whatever_the_host_port() -> None:
    """The port in the Host header is the client's to choose (ALLOWED_HOSTS ignores it), and
    allauth's count was per host and port: five ports, five guesses each. Now one count per
    login (accounts/adapter.py)."""
    await verified_user("jon")

    async def login_as_jon(password: str, port: int) -> list[str]:
        transport = httpx.ASGITransport(app=application)  # the Host header: 127.0.0.1:<port>
        async with httpx.AsyncClient(transport=transport, base_url=f"http://127.0.0.1:{port}") as c:
            body = {"username": "jon", "password": password}
            answer = (await c.post(f"{APP}/auth/login", json=body)).json()
        return [error["code"] for error in answer.get("errors", [])]

    wrong = [await login_as_jon(f"guess {n}", 8001 + n) for n in range(5)]

    assert wrong == [["username_password_mismatch"]] * 5
    assert await login_as_jon(PASSWORD, 8006) == ["too_many_login_attempts"]


async def test_reset_requests_are_limited_per_address(inbox: Inbox) -> None:
    """allauth's reset_password limit: 5 requests a minute for one address, then 429."""
    await verified_user("ida")
    body = {"email": "ida@example.com"}

    statuses = [
        (await call(AsyncClient(), "post", f"{APP}/auth/password/request", body))[0]
        for _ in range(6)
    ]

    assert statuses == [200] * 5 + [429]


METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "HEAD")


async def test_no_route_of_allauths_document_answers_a_server_error(
    settings: LazySettings,
) -> None:
    """Every path of allauth's document, for both clients, with every method, anonymous and
    signed in: never a 5xx (allauth 65.x answered 500 on /account/phone: accounts/urls.py)."""
    # Without allauth's limits: they would answer 429 before the views run, and use up the
    # counts the other tests of this process share (Django's cache outlives a test).
    settings.ACCOUNT_RATE_LIMITS = False
    await verified_user("ivy")
    _, session = await login(AsyncClient(), "ivy", PASSWORD)
    document = (await AsyncClient().get("/_allauth/openapi.json")).json()
    paths = [
        path.replace("{client}", client)
        for path in document["paths"]
        for client in ("app", "browser")
        if "{client}" in path or f"/{client}/" in path
    ]
    answers = {}
    for path in paths:
        for method in METHODS:
            for headers in ({}, {"X-Session-Token": session}):
                response = await AsyncClient().generic(method, path, headers=headers)
                answers[method, path, bool(headers)] = response.status_code

    assert len(paths) >= 30
    assert {call: status for call, status in answers.items() if status >= 500} == {}
