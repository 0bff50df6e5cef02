"""The outbox table's operations, all sync (the worker runs them with sync_to_async).

record() writes messages inside the caller's transaction. claim() hands a worker every
pending message of a few keys under a lease; while the lease runs, no other worker gets
a message of those keys, so each key's messages are handled in order, once at a time.
Claims are serialized (PostgreSQL: an advisory lock; SQLite: its one write lock, taken
at BEGIN IMMEDIATE), which keeps that true with any number of workers and replicas.
"""

import random
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, Min, OuterRef, Q
from django.utils import timezone

from .handlers import Failures, GiveUp, HandBack
from .models import Message
from .wakeup import wake

PENDING, DONE, FAILED = Message.State.PENDING, Message.State.DONE, Message.State.FAILED
# Any constant: the key of PostgreSQL's advisory lock that serializes claims.
CLAIM_LOCK = 0x0B7B0C5
MAX_ERROR_LENGTH = 1000


def record(topic: str, keys: Iterable[str], payload: dict[str, object] | None = None) -> None:
    """Add a message per key, in the current transaction (call it inside the one that made
    the change). The local worker is woken once the transaction commits."""
    messages = [Message(topic=topic, key=key, payload=payload or {}) for key in keys]
    if messages:
        Message.objects.bulk_create(messages)
        transaction.on_commit(wake)


@dataclass
class Claim:
    token: str
    messages: list[Message]


def _serialize_claims() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])


def _by_topic(keys: Iterable[tuple[str, str]]) -> Q:
    condition = Q(pk__in=[])
    for topic, group in groupby(sorted(keys), key=lambda pair: pair[0]):
        condition |= Q(topic=topic, key__in=[key for _, key in group])
    return condition


def _anything_to_claim(topics: Collection[str], now: datetime) -> bool:
    """A read first: an idle worker must not take SQLite's one write lock (BEGIN IMMEDIATE)
    at every poll, nor PostgreSQL's claim lock, when nothing is due or all of it is held."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    due = Message.objects.filter(free, state=PENDING, topic__in=topics, due_at__lte=now)
    return due.exists()


def claim(*, topics: Collection[str], limit: int, lease: float, token: str = "") -> Claim:
    """Lease every pending message of the keys of the `limit` oldest due messages whose
    keys nobody holds, under `token` (a worker's own, or a new one)."""
    now = timezone.now()
    token = token or uuid.uuid4().hex
    if not _anything_to_claim(topics, now):
        return Claim(token, [])
    with transaction.atomic():
        _serialize_claims()
        pending = Message.objects.filter(state=PENDING, topic__in=topics)
        held = pending.filter(lease_until__gt=now, topic=OuterRef("topic"), key=OuterRef("key"))
        due = (
            pending.filter(due_at__lte=now)
            .exclude(Exists(held))
            .order_by("id")
            .values_list("topic", "key")[:limit]
        )
        keys = set(due)
        if keys:
            pending.filter(_by_topic(keys)).update(
                lease_until=now + timedelta(seconds=lease), lease_token=token
            )
    return Claim(token, list(Message.objects.filter(lease_token=token, state=PENDING)))


def retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: about 1, 2, 4 ... seconds, up to OUTBOX_MAX_RETRY_DELAY."""
    ceiling = min(float(settings.OUTBOX_MAX_RETRY_DELAY), 2.0 ** (attempts - 1))
    return ceiling * random.uniform(0.5, 1.0)


def finish(claim: Claim, failures: Failures) -> None:
    """Mark the claim's messages done, due again later with why they failed, failed, or
    (handed back, not tried) due again now. Messages whose lease ran out meanwhile
    (another worker may have them) are left alone."""
    now = timezone.now()
    mine = Message.objects.filter(lease_token=claim.token, state=PENDING)
    done = [message.pk for message in claim.messages if message.pk not in failures]
    given_up = {pk: why.reason for pk, why in failures.items() if isinstance(why, GiveUp)}
    retried = {pk: why for pk, why in failures.items() if isinstance(why, str)}
    handed_back = [pk for pk, why in failures.items() if isinstance(why, HandBack)]
    failed = sorted(
        (message for message in claim.messages if message.pk in retried),
        key=lambda message: (message.attempts, retried[message.pk]),
    )
    with transaction.atomic():
        mine.filter(pk__in=done).update(
            state=DONE, done_at=now, lease_until=None, lease_token="", last_error=""
        )
        mine.filter(pk__in=handed_back).update(lease_until=None, lease_token="")
        # One update per (attempts, reason): a batch that failed together is one query.
        for (attempts, reason), group in groupby(
            failed, key=lambda message: (message.attempts, retried[message.pk])
        ):
            mine.filter(pk__in=[message.pk for message in group]).update(
                attempts=attempts + 1,
                due_at=now + timedelta(seconds=retry_delay(attempts + 1)),
                last_error=reason[:MAX_ERROR_LENGTH],
                lease_until=None,
                lease_token="",
            )
        for message in claim.messages:
            if message.pk in given_up:
                mine.filter(pk=message.pk).update(
                    state=FAILED,
                    done_at=now,  # when it ended: failed rows are purged after OUTBOX_KEEP_FAILED
                    attempts=message.attempts + 1,
                    last_error=given_up[message.pk][:MAX_ERROR_LENGTH],
                    lease_until=None,
                    lease_token="",
                )


def release(token: str) -> None:
    """Give back what a stopping worker still holds, for another worker to take at once."""
    Message.objects.filter(lease_token=token, state=PENDING).update(
        lease_until=None, lease_token=""
    )


def retry_failed(topic: str) -> int:
    """Make the topic's failed messages pending again, due now. Their age (created_at)
    starts again too, so a maximum age does not fail them at once."""
    now = timezone.now()
    return Message.objects.filter(topic=topic, state=FAILED).update(
        state=PENDING,
        due_at=now,
        created_at=now,
        done_at=None,
        attempts=0,
        lease_until=None,
        lease_token="",
    )


def requeue_done_since(topic: str, since: datetime) -> int:
    """Record the topic's work again for every key done since `since` (a search rebuild
    applies again what the worker wrote to the old index meanwhile)."""
    done = Message.objects.filter(topic=topic, state=DONE, done_at__gte=since)
    keys = sorted(set(done.values_list("key", flat=True)))
    with transaction.atomic():
        record(topic, keys)
    return len(keys)


def purge(state: str, older_than: timedelta) -> int:
    """Delete the messages that ended (done, or failed) longer than `older_than` ago."""
    old = Message.objects.filter(state=state, done_at__lt=timezone.now() - older_than)
    deleted, _ = old.delete()
    return deleted


def last_message_id() -> int:
    """The newest message's id (0 when none): every message recorded later has a higher one."""
    return Message.objects.aggregate(last=Max("id"))["last"] or 0


@dataclass
class Backlog:
    pending: int
    oldest_pending_seconds: float | None
    failed: int


def backlog() -> Backlog:
    pending = Message.objects.filter(state=PENDING).aggregate(
        count=Count("id"), oldest=Min("created_at")
    )
    oldest = pending["oldest"]
    return Backlog(
        pending=pending["count"],
        oldest_pending_seconds=(
            round((timezone.now() - oldest).total_seconds(), 3) if oldest else None
        ),
        failed=Message.objects.filter(state=FAILED).count(),
    )
