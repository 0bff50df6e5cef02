"""API tokens, sessions, the token command, the admin, and secrets kept out of the logs."""

import asyncio
import hashlib
import re
import threading
from datetime import timedelta
from io import StringIO

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.middleware.csrf import _get_new_csrf_string
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.auth import READ, WRITE
from accounts.models import ApiToken, User
from accounts.tokens import PREFIX_LENGTH, issue_token, user_for_token

from .conftest import WrittenLines, bearer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


async def create(headers: dict[str, str], client: AsyncClient | None = None) -> int:
    # CSRF enforced as for a real caller (Django's test client skips it by default).
    response = await (client or AsyncClient(enforce_csrf_checks=True)).post(
        "/api/probe/groups", {"name": "t"}, content_type="application/json", headers=headers
    )
    return response.status_code


def test_tokens_are_stored_as_a_digest_with_a_public_prefix(alice: User) -> None:
    record, token = issue_token(alice, name="laptop")

    stored = ApiToken.objects.values().get(pk=record.pk)
    assert token not in {str(value) for value in stored.values()}
    assert stored["digest"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored["prefix"] == token[:PREFIX_LENGTH] and token.startswith("tok_")


async def test_a_token_authenticates_its_user_and_records_its_use(alice: User) -> None:
    headers = await bearer(alice)

    assert await create(headers) == 201
    await wait_until(ApiToken.objects.filter(user=alice, last_used_at__isnull=False).aexists)


async def test_noting_a_tokens_use_never_holds_up_a_read(alice: User) -> None:
    """last_used_at is bookkeeping: a read whose write of it would wait behind other writers
    (a held write lock) answers at once, and the note is written when the lock frees."""
    headers = await bearer(alice)
    (token,) = [t async for t in ApiToken.objects.filter(user=alice)]
    release = threading.Event()
    locked = threading.Event()
    holder = threading.Thread(target=hold_the_write_lock, args=(token.pk, locked, release))
    holder.start()
    try:
        locked.wait(10)
        response = await asyncio.wait_for(AsyncClient().get("/api/probe/me", headers=headers), 10)
        noted_while_locked = await ApiToken.objects.filter(last_used_at__isnull=False).aexists()
    finally:
        release.set()
        await asyncio.to_thread(holder.join)

    assert response.status_code == 200
    assert not noted_while_locked


def hold_the_write_lock(token_pk: int, locked: threading.Event, release: threading.Event) -> None:
    """Another writer's open transaction, until `release`: on SQLite any write holds the
    database's one write lock; on PostgreSQL, a lock on the token's row."""
    try:
        with transaction.atomic():
            if connection.vendor == "sqlite":
                Group.objects.create(name="a write in progress")
            else:
                ApiToken.objects.select_for_update().get(pk=token_pk)
            locked.set()
            release.wait(30)
    finally:
        connection.close()


async def test_a_known_prefix_with_a_wrong_secret_is_refused(alice: User) -> None:
    headers = await bearer(alice)
    token = headers["Authorization"].removeprefix("Bearer ")
    forged = token[:PREFIX_LENGTH] + "x" * (len(token) - PREFIX_LENGTH)

    assert await create({"Authorization": f"Bearer {forged}"}) == 401


@pytest.mark.parametrize(
    "token", ["", "x", "tok_", "not a token at all", "tok_0000000_" + "y" * 43]
)
def test_any_bad_token_costs_one_query(alice: User, token: str) -> None:
    # Malformed or unknown, the same work (one lookup): nothing to time them apart by.
    issue_token(alice)
    with CaptureQueriesContext(connection) as queries:
        assert async_to_sync(user_for_token)(token) is None

    assert len(queries) == 1


async def test_expired_and_revoked_tokens_are_refused(alice: User) -> None:
    expired = await bearer(alice, expires_in=timedelta(seconds=-1))
    revoked = await bearer(alice)
    await ApiToken.objects.filter(revoked_at=None, expires_at=None).aupdate(
        revoked_at=timezone.now()
    )

    assert [await create(expired), await create(revoked)] == [401, 401]


async def test_a_deactivated_users_token_is_refused(alice: User) -> None:
    headers = await bearer(alice)
    await User.objects.filter(pk=alice.pk).aupdate(is_active=False)

    assert await create(headers) == 401


def test_every_way_in_is_awaited_on_the_event_loop() -> None:
    # A sync authenticate() would make Ninja hop to a thread for every request.
    assert all(getattr(way, "is_async", False) for way in [*WRITE, *READ])


async def test_a_session_write_needs_the_csrf_token(alice: User) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(alice)
    csrf = _get_new_csrf_string()
    client.cookies["csrftoken"] = csrf

    without = await create({}, client)
    with_token = await create({"X-CSRFToken": csrf}, client)

    assert (without, with_token) == (403, 201)


async def test_a_session_read_needs_no_csrf_token(alice: User) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(alice)

    assert (await client.get("/api/probe/me")).status_code == 200


async def test_the_docs_page_carries_the_csrf_token_a_session_write_needs(alice: User) -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(alice)
    page = (await client.get("/api/docs")).content.decode()
    found = re.search(r'data-csrf-token="([^"]*)"', page)
    assert found and found.group(1), "the docs page has no CSRF token for its requests"

    without = await client.post("/api/probe/groups", {"name": "t"}, "application/json")
    with_token = await client.post(
        "/api/probe/groups", {"name": "t"}, "application/json", headers={"X-CSRFToken": found[1]}
    )

    assert (without.status_code, with_token.status_code) == (403, 201)
    assert without.json()["detail"].startswith(
        "CSRF check failed: a write with the session cookie needs the X-CSRFToken header"
    )


async def test_the_docs_page_offers_allauths_document_too() -> None:
    client = AsyncClient()
    own = (await client.get("/api/docs")).content.decode()
    accounts = (await client.get("/api/docs?document=accounts")).content.decode()

    assert '"url": "/api/openapi.json"' in own and 'href="?document=accounts"' in own
    assert '"url": "/_allauth/openapi.json"' in accounts and 'href="?document=api"' in accounts


def test_create_api_token_prints_the_token_alone_on_the_last_line(alice: User) -> None:
    out = StringIO()

    call_command(
        "create_api_token",
        "alice",
        "--name",
        "ci",
        "--expires-in-days",
        "7",
        stdout=out,
        stderr=StringIO(),
    )

    token = out.getvalue().splitlines()[-1]
    record = ApiToken.objects.get(user=alice)
    assert record.prefix == token[:PREFIX_LENGTH] and record.name == "ci"
    assert record.digest == hashlib.sha256(token.encode()).hexdigest()
    assert record.expires_at is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "No user 'nobody': add --new-user"),
        (["alice", "--new-user"], "exists already"),
        (["alice", "--expires-in-days", "0"], "at least 1"),
        (["alice", "--name", "x" * 101], "at most 100"),
    ],
)
def test_create_api_token_rejects_bad_input(alice: User, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args, stdout=StringIO(), stderr=StringIO())


def test_create_api_token_makes_a_normal_user_for_a_new_client(db: None) -> None:
    out = StringIO()

    call_command("create_api_token", "ci-bot", "--new-user", stdout=out, stderr=StringIO())

    user = User.objects.get(username="ci-bot")
    assert (user.is_staff, user.is_superuser, user.has_usable_password()) == (False, False, False)
    assert ApiToken.objects.get(user=user).prefix == out.getvalue().splitlines()[-1][:PREFIX_LENGTH]


async def test_the_admin_revokes_tokens(alice: User, staff: User) -> None:
    await User.objects.filter(pk=staff.pk).aupdate(is_superuser=True)
    headers = await bearer(alice)
    token = await ApiToken.objects.aget(user=alice)
    client = AsyncClient()
    await client.aforce_login(await User.objects.aget(pk=staff.pk))

    listing = await client.get("/admin/accounts/apitoken/")
    revoked = await client.post(
        "/admin/accounts/apitoken/", {"action": "revoke", "_selected_action": [token.pk]}
    )

    assert token.prefix in listing.content.decode()
    assert revoked.status_code == 302
    assert await create(headers) == 401


async def test_tokens_never_reach_the_logs(alice: User, written_lines: WrittenLines) -> None:
    headers = await bearer(alice)
    secret = headers["Authorization"].removeprefix("Bearer ")

    await create(headers)
    await create({"Authorization": f"Token {secret}"})  # a wrong scheme, refused
    await AsyncClient().get("/api/probe/me", headers={"Authorization": f"Bearer {secret}x"})

    lines = written_lines()
    assert any("POST /api/probe/groups 201" in line for line in lines)
    assert not [line for line in lines if secret in line or "Authorization" in line]
