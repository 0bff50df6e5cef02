"""Making API tokens and finding the user behind one.

A token looks like `tok_3f9a1c2b5d7e_<43 random characters>`. Its first 16 characters are
the public prefix (stored, unique, shown in the admin: 48 random bits, so two tokens share
one only after millions); the whole token is stored only as a SHA-256 digest. A fast hash
is right here: the secret part is 256 random bits, not a password to guess.
"""

import asyncio
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from asgiref.sync import sync_to_async
from django.contrib.auth.models import AbstractBaseUser
from django.db import connections
from django.utils import timezone

from .models import ApiToken, User

logger = logging.getLogger(__name__)

TAG = "tok_"
PREFIX_LENGTH = len(TAG) + 12
# Compared against when no token has the prefix, so every lookup does the same work.
NO_DIGEST = "0" * 64
# last_used_at is written at most this often per token (not once per request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    user: User, *, name: str = "", expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the stored record and the token (its only copy)."""
    token = f"{TAG}{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    record = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=token[:PREFIX_LENGTH],
        digest=digest(token),
        expires_at=timezone.now() + expires_in if expires_in else None,
    )
    return record, token


async def user_for_token(token: str) -> AbstractBaseUser | None:
    """The active user behind an active token, or None.

    One query whatever the input: a malformed token is looked up by its first characters
    like any other, so it takes the same path and time as an unknown one.
    """
    tokens = ApiToken.objects.select_related("user")
    found = await tokens.filter(prefix=token[:PREFIX_LENGTH]).afirst()
    matches = hmac.compare_digest(found.digest if found else NO_DIGEST, digest(token))
    if found is None or not matches or not found.is_active() or not found.user.is_active:
        return None
    now = timezone.now()
    if found.last_used_at is None or now - found.last_used_at > LAST_USED_RESOLUTION:
        note_use(found.pk, now)
    return found.user


# Tries of that write (a database that refuses a held lock at once, as SQLite's in-memory
# one does, may take it a moment later).
NOTE_ATTEMPTS = 3
# The bookkeeping writes in flight (a task the loop holds only weakly would be collected).
_noting: set[asyncio.Task[None]] = set()


def note_use(pk: int, when: datetime) -> None:
    """Write last_used_at beside the request, never in its way: a read must not wait for (or
    fail on) a write lock that other writers hold, for bookkeeping. Best effort: the write
    runs in a thread of the loop's own pool, not the request's, and a failure is logged."""
    task = asyncio.get_running_loop().create_task(_write_last_used(pk, when))
    _noting.add(task)
    task.add_done_callback(_noting.discard)


async def _write_last_used(pk: int, when: datetime) -> None:
    for attempt in range(NOTE_ATTEMPTS):
        try:
            await sync_to_async(_update_last_used, thread_sensitive=False)(pk, when)
            return
        except Exception as error:
            if attempt + 1 == NOTE_ATTEMPTS:
                logger.info("Could not note a token's last use (%s): skipped", type(error).__name__)
            else:
                await asyncio.sleep(0.2 * (attempt + 1))  # a lock held a moment: again


def _update_last_used(pk: int, when: datetime) -> None:
    try:
        ApiToken.objects.filter(pk=pk).update(last_used_at=when)
    finally:
        connections.close_all()  # this thread serves no request: it keeps no connection
