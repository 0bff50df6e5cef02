"""/api/me: your account and your tokens, and no one else's."""

from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.test import AsyncClient
from django.utils import timezone

from accounts.api import write_throttles
from accounts.models import ApiToken, User
from accounts.tokens import issue_token

from .conftest import bearer

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "a long and unguessed passphrase"
JSON = "application/json"


async def call(headers: dict[str, str], method: str, path: str, body: object = None) -> Any:
    """One request with `headers` (AsyncClient(headers=...) would put them in the ASGI scope
    itself, where no ASGI app reads headers)."""
    send = getattr(AsyncClient(), method)
    if body is None:
        return await send(path, headers=headers)
    return await send(path, body, content_type=JSON, headers=headers)


@pytest.fixture
def carol(db: None) -> User:
    return User.objects.create_user("carol", "carol@example.com", PASSWORD)


async def test_you_read_and_edit_your_own_account(carol: User, alice: User) -> None:
    me = await bearer(carol)

    read = await call(me, "get", "/api/me")
    edited = await call(me, "patch", "/api/me", {"first_name": "Carol"})
    renamed = await call(me, "patch", "/api/me", {"username": "caroline"})
    taken = await call(me, "patch", "/api/me", {"username": "ALICE"})
    unfit = await call(me, "patch", "/api/me", {"username": "carol smith"})
    nul = await call(me, "patch", "/api/me", {"last_name": "a\x00b"})  # PostgreSQL refuses NUL
    not_an_object = await call(me, "patch", "/api/me", ["carol"])

    assert read.status_code == 200
    assert read.json()["username"] == "carol" and read.json()["email"] == "carol@example.com"
    assert edited.status_code == 200 and edited.json()["first_name"] == "Carol"
    assert renamed.status_code == 200 and renamed.json()["username"] == "caroline"
    assert taken.status_code == 409  # usernames are told apart without case, as allauth does
    assert unfit.status_code == nul.status_code == not_an_object.status_code == 422
    await carol.arefresh_from_db()
    assert (carol.username, carol.first_name) == ("caroline", "Carol")


async def test_a_username_taken_after_the_check_is_a_409_too(
    carol: User, alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two renames to one name at once: the second passes the check, then the database's
    unique constraint refuses its write, which is a 409, not a 500."""

    async def not_yet_taken(self: QuerySet[User]) -> bool:
        return False

    monkeypatch.setattr(QuerySet, "aexists", not_yet_taken)

    taken = await call(await bearer(carol), "patch", "/api/me", {"username": "alice"})

    assert taken.status_code == 409, taken.content
    await carol.arefresh_from_db()
    assert carol.username == "carol"


async def test_without_credentials_there_is_no_me() -> None:
    for method in ("get", "patch", "delete"):
        response = await getattr(AsyncClient(), method)("/api/me")
        assert response.status_code == 401, method
    assert (await AsyncClient().get("/api/me/tokens")).status_code == 401


async def test_a_named_token_is_made_with_the_password_shown_once_and_works(carol: User) -> None:
    me = await bearer(carol)
    body = {"name": "backup script", "password": PASSWORD, "expires_in_days": 7}

    made = await call(me, "post", "/api/me/tokens", body)
    wrong = await call(me, "post", "/api/me/tokens", {**body, "password": "guess"})
    listed = await call(me, "get", "/api/me/tokens")

    assert made.status_code == 201, made.content
    token = made.json()["token"]
    assert wrong.status_code == 403
    assert await ApiToken.objects.filter(user=carol).acount() == 2  # the caller's, and this
    assert [t["name"] for t in listed.json()] == ["backup script", ""]
    assert all("token" not in t and "digest" not in t for t in listed.json())
    assert token.startswith(made.json()["prefix"])
    expires = (await ApiToken.objects.aget(name="backup script")).expires_at
    assert expires is not None
    assert timedelta(days=6) < expires - timezone.now() <= timedelta(days=7)
    by_token = await call({"Authorization": f"Bearer {token}"}, "get", "/api/me")
    assert by_token.json()["username"] == "carol"


async def test_a_revoked_token_stops_at_once(carol: User) -> None:
    me = await bearer(carol)
    script, token = await sync_to_async(issue_token)(carol, name="script")

    revoked = await call(me, "delete", f"/api/me/tokens/{script.pk}")
    again = await call(me, "delete", f"/api/me/tokens/{script.pk}")
    listed = await call(me, "get", "/api/me/tokens")

    assert revoked.status_code == 204 and again.status_code == 204
    headers = {"Authorization": f"Bearer {token}"}
    assert (await call(headers, "get", "/api/me")).status_code == 401
    assert script.pk not in [t["id"] for t in listed.json()]


async def test_no_one_sees_or_revokes_anothers_tokens(carol: User, alice: User) -> None:
    await bearer(carol)
    (carols,) = [t async for t in ApiToken.objects.filter(user=carol)]
    as_alice = await bearer(alice)

    listed = await call(as_alice, "get", "/api/me/tokens")
    revoked = await call(as_alice, "delete", f"/api/me/tokens/{carols.pk}")

    assert carols.pk not in [t["id"] for t in listed.json()]
    assert revoked.status_code == 404
    await carols.arefresh_from_db()
    assert carols.revoked_at is None


async def test_deleting_your_account_takes_the_password(carol: User) -> None:
    me = await bearer(carol)

    wrong = await call(me, "delete", "/api/me", {"password": "guess"})
    still = await User.objects.filter(pk=carol.pk).aexists()
    deleted = await call(me, "delete", "/api/me", {"password": PASSWORD})

    assert wrong.status_code == 403 and still
    assert deleted.status_code == 204
    assert not await User.objects.filter(pk=carol.pk).aexists()
    assert not await ApiToken.objects.filter(user_id=carol.pk).aexists()
    assert (await call(me, "get", "/api/me")).status_code == 401


async def test_password_guesses_count_against_the_write_rate(
    carol: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stolen token cannot try passwords at will: each try is a write (WRITE_RATE)."""
    (throttle,) = write_throttles
    monkeypatch.setattr(throttle, "limit", 2)
    me = await bearer(carol)

    guesses = [await call(me, "delete", "/api/me", {"password": f"guess {n}"}) for n in range(3)]

    assert [guess.status_code for guess in guesses] == [403, 403, 429]
