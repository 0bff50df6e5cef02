"""The outbox: work saved with its change, claimed by one worker per key, retried, resumed."""

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import LazySettings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string

from outbox import store
from outbox.handlers import Failures, GiveUp, handlers, register
from outbox.models import Message
from outbox.outages import Outages
from outbox.worker import Worker, _tasks

from .conftest import WrittenLines, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TOPIC = "test.echo"


class Echo:
    """A handler that notes what it gets, and fails the keys it is told to."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []
        self.failing: set[str] = set()
        self.refused: set[str] = set()
        self.called = asyncio.Event()

    async def __call__(self, messages: list[Message]) -> Failures:
        self.seen += [(message.key, message.payload) for message in messages]
        self.called.set()
        failures: Failures = {m.pk: "told to fail" for m in messages if m.key in self.failing}
        failures |= {m.pk: GiveUp("refused") for m in messages if m.key in self.refused}
        return failures


@pytest.fixture
def echo() -> Iterator[Echo]:
    handler = Echo()
    register(TOPIC, handler)
    yield handler
    del handlers[TOPIC]


def record(*keys: str, payload: dict[str, Any] | None = None) -> None:
    with transaction.atomic():
        store.record(TOPIC, keys, payload)


def states() -> dict[str, str]:
    return dict(Message.objects.filter(topic=TOPIC).values_list("key", "state"))


def test_a_message_commits_with_its_change_or_not_at_all() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        store.record(TOPIC, ["rolled back"])
        raise RuntimeError("the change failed")
    record("kept")

    assert states() == {"kept": "pending"}


async def test_the_worker_does_each_keys_work_in_order(echo: Echo) -> None:
    for key, n in [("a", 1), ("b", 1), ("a", 2), ("a", 3)]:
        await sync_to_async(record)(key, payload={"n": n})

    assert await Worker().run_until_idle() == 4

    assert [entry for entry in echo.seen if entry[0] == "a"] == [("a", {"n": n}) for n in (1, 2, 3)]
    assert await sync_to_async(states)() == {"a": "done", "b": "done"}


def test_a_held_key_is_not_claimed_again_until_it_is_done() -> None:
    record("a")
    first = store.claim(topics=[TOPIC], limit=10, lease=60)
    record("a", "b")

    second = store.claim(topics=[TOPIC], limit=10, lease=60)
    store.finish(first, {})
    third = store.claim(topics=[TOPIC], limit=10, lease=60)

    assert [m.key for m in first.messages] == ["a"]
    assert [m.key for m in second.messages] == ["b"]  # the new "a" waits for the first
    assert [m.key for m in third.messages] == ["a"]


def test_an_expired_lease_is_taken_over_and_the_first_worker_cannot_finish_it() -> None:
    record("a")
    first = store.claim(topics=[TOPIC], limit=10, lease=0.001)
    Message.objects.update(lease_until=timezone.now() - timedelta(seconds=1))  # it died

    second = store.claim(topics=[TOPIC], limit=10, lease=60)
    store.finish(first, {})  # too late: no longer its message

    assert [m.key for m in second.messages] == ["a"]
    assert states() == {"a": "pending"}
    store.finish(second, {})
    assert states() == {"a": "done"}


async def test_failed_work_is_retried_later(echo: Echo, settings: LazySettings) -> None:
    echo.failing.add("a")
    await sync_to_async(record)("a")

    await Worker().run_until_idle()
    failed = await Message.objects.aget(topic=TOPIC)
    echo.failing.clear()
    assert await Worker().run_until_idle() == 0  # not due yet
    await Message.objects.aupdate(due_at=timezone.now())
    await Worker().run_until_idle()

    assert (failed.state, failed.attempts, failed.last_error) == ("pending", 1, "told to fail")
    assert failed.due_at > failed.created_at
    assert echo.seen == [("a", {}), ("a", {})]
    assert await sync_to_async(states)() == {"a": "done"}


async def test_work_that_keeps_failing_is_logged_when_it_starts_then_summed_up_then_ended(
    echo: Echo, written_lines: WrittenLines
) -> None:
    now = [0.0]
    worker = Worker()
    worker.outages = Outages(summary_every=60, clock=lambda: now[0])
    echo.failing.add("a")
    await sync_to_async(record)("a", "b")

    async def round_at(seconds: float) -> None:
        now[0] = seconds
        await Message.objects.aupdate(due_at=timezone.now())
        await worker.run_until_idle()

    for seconds in (0, 1, 2, 30, 61, 62):
        await round_at(seconds)
    echo.failing.clear()
    await round_at(70)
    await round_at(71)

    said = [line for line in written_lines() if TOPIC in line]
    assert len(said) == 3, said
    assert "test.echo is failing: told to fail; 1 messages wait" in said[0]
    assert "test.echo still failing after 61 s: told to fail; 1 messages wait" in said[1]
    assert "test.echo works again after 70 s (6 retries)" in said[2]


async def test_given_up_work_is_failed_until_requeued(echo: Echo) -> None:
    echo.refused.add("a")
    await sync_to_async(record)("a")

    await Worker().run_until_idle()
    await Message.objects.aupdate(due_at=timezone.now())  # were it retried, it would be due
    handled_again = await Worker().run_until_idle()
    failed = await Message.objects.aget(topic=TOPIC)
    echo.refused.clear()
    requeued = await sync_to_async(store.retry_failed)(TOPIC)
    await Worker().run_until_idle()

    assert handled_again == 0
    assert (failed.state, failed.attempts, failed.last_error) == ("failed", 1, "refused")
    assert requeued == 1
    assert await sync_to_async(states)() == {"a": "done"}


def test_retry_delays_grow_with_jitter_up_to_the_setting(settings: LazySettings) -> None:
    settings.OUTBOX_MAX_RETRY_DELAY = 30
    assert 0.5 <= store.retry_delay(1) <= 1
    assert 4 <= store.retry_delay(4) <= 8
    assert 15 <= store.retry_delay(20) <= 30


async def test_a_stopped_worker_hands_back_its_work_for_the_next_one(echo: Echo) -> None:
    never = asyncio.Event()

    async def stuck(messages: list[Message]) -> Failures:
        await never.wait()  # the process stops while this runs
        return {}

    register(TOPIC, stuck)
    await sync_to_async(record)("a")
    worker = asyncio.create_task(Worker().run())
    await wait_until(Message.objects.filter(lease_until__isnull=False).aexists)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    handed_back = await Message.objects.aget(topic=TOPIC)

    register(TOPIC, echo)  # the next process
    await Worker().run_until_idle()

    assert (handed_back.state, handed_back.lease_until) == ("pending", None)
    assert await sync_to_async(states)() == {"a": "done"}


async def test_the_lifespan_runs_a_worker_that_a_commit_wakes(
    echo: Echo, settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOX_POLL_INTERVAL = 3600  # only the wake-up can make it look in time
    claims = asyncio.Event()  # the worker's first look at the table is done
    real_claim = store.claim

    def claim(**kwargs: Any) -> store.Claim:
        found = real_claim(**kwargs)
        loop.call_soon_threadsafe(claims.set)
        return found

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(store, "claim", claim)
    incoming = asyncio.Queue[dict[str, Any]]()
    incoming.put_nowait({"type": "lifespan.startup"})
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await asyncio.wait_for(claims.wait(), timeout=10)  # found nothing; now it waits
            await sync_to_async(record)("a")
            await asyncio.wait_for(echo.called.wait(), timeout=10)
            incoming.put_nowait({"type": "lifespan.shutdown"})

    application = import_string(settings.ASGI_APPLICATION)
    await application({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send)

    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert echo.seen == [("a", {})]
    assert _tasks == {}  # stopped


async def test_ready_shows_the_backlog() -> None:
    await sync_to_async(record)("a", "b")

    answer = (await AsyncClient().get("/api/ready")).json()

    assert answer["outbox"]["pending"] == 2
    assert 0 <= answer["outbox"]["oldest_pending_seconds"] < 60
    assert answer["outbox"]["failed"] == 0


def test_done_messages_are_purged_after_the_keep_time() -> None:
    record("old", "new", "waiting")
    Message.objects.exclude(key="waiting").update(state="done", done_at=timezone.now())
    Message.objects.filter(key="old").update(done_at=timezone.now() - timedelta(days=2))

    assert store.purge(store.DONE, timedelta(days=1)) == 1
    assert states() == {"new": "done", "waiting": "pending"}


def test_failed_messages_are_purged_after_their_keep_time(echo: Echo) -> None:
    record("old", "new")
    echo.refused = {"old", "new"}
    async_to_sync(Worker().run_until_idle)()
    Message.objects.filter(key="old").update(done_at=timezone.now() - timedelta(days=31))

    assert store.purge(store.FAILED, timedelta(days=30)) == 1
    assert states() == {"new": "failed"}
    assert store.purge(store.FAILED, timedelta(0)) == 1  # it has its end time too


def test_an_idle_worker_looks_without_taking_the_write_lock(echo: Echo) -> None:
    """SQLite has one write lock (BEGIN IMMEDIATE), PostgreSQL's claims one advisory lock:
    a worker that finds nothing due takes neither."""
    record("later")
    Message.objects.update(due_at=timezone.now() + timedelta(hours=1))

    with CaptureQueriesContext(connection) as queries:
        claim = store.claim(topics=[TOPIC], limit=10, lease=60)

    assert claim.messages == []
    taken = [q["sql"] for q in queries if q["sql"].startswith(("BEGIN", "SELECT pg_advisory"))]
    assert taken == []
    assert len(queries) == 1  # the read


async def test_a_round_is_finished_before_its_lease_ends(
    settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two topics whose handlers hang past the lease: the round stops them in time to write
    its outcome while the lease still holds (past it another worker may take the same keys,
    and a stale write could land after a newer one)."""
    settings.OUTBOX_LEASE = 4.0
    finished: list[tuple[datetime, datetime | None]] = []
    real_finish = store.finish

    def finish(claim: store.Claim, failures: Failures) -> None:
        lease = Message.objects.filter(lease_token=claim.token).values_list("lease_until")
        finished.append((timezone.now(), lease.first()[0]))  # type: ignore[index]
        real_finish(claim, failures)

    async def hangs(messages: list[Message]) -> Failures:
        await asyncio.sleep(3600)
        return {}

    monkeypatch.setattr(store, "finish", finish)
    for topic in ("test.one", "test.two"):
        register(topic, hangs)
    try:
        for topic in ("test.one", "test.two"):
            await sync_to_async(store_record)(topic, "a")
        await Worker().run_once()
    finally:
        del handlers["test.one"], handlers["test.two"]

    ((at, lease_until),) = finished
    assert lease_until is not None and at < lease_until
    retried = [m async for m in Message.objects.filter(topic__startswith="test.")]
    assert [(m.state, m.attempts, m.last_error) for m in retried] == [
        ("pending", 1, "TimeoutError")
    ] * 2


def store_record(topic: str, key: str) -> None:
    with transaction.atomic():
        store.record(topic, [key])


def test_the_command_forgets_a_topic_no_app_handles(echo: Echo) -> None:
    record("kept")
    with transaction.atomic():
        store.record("removed.app", ["a", "b"])
    out = StringIO()

    with pytest.raises(CommandError, match=f"Still handled, not forgotten: {TOPIC}"):
        call_command("outbox", "--forget", TOPIC, stdout=out)
    call_command("outbox", "--forget", "removed.app", stdout=out)

    assert "Forgot 2 messages of removed.app." in out.getvalue()
    assert states() == {"kept": "pending"}
    assert not Message.objects.filter(topic="removed.app").exists()


def test_the_command_shows_the_backlog_and_drains_it(echo: Echo) -> None:
    record("a", "b")
    out = StringIO()
    call_command("outbox", stdout=out)
    call_command("outbox", "--drain", stdout=out)

    assert "Pending: 2 (oldest" in out.getvalue()
    assert "Handled 2 messages.\nPending: 0; failed: 0" in out.getvalue()
