"""The worker: does the outbox's pending work, in bulk, retrying until it succeeds.

One runs in every server process, started and stopped by the ASGI lifespan (apps.py);
`manage.py outbox --work` runs one on its own (for WSGI servers, which have no lifespan).
Its database work runs in one daemon thread of its own, whose connection is closed after
each round, so it holds none while idle. Stopping never waits long: a call stuck on a hung
database is left to its daemon thread, and the lease hands its messages on later.
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import timedelta
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import connection

from . import handlers as handlers_module
from . import store, wakeup
from .handlers import Failures, GiveUp, handlers
from .models import Message
from .outages import Outages

logger = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between deletions of old done and failed messages
STOP_TIMEOUT = 2.0  # seconds a stopping worker may spend handing back its messages
# A round's handlers start no work past this share of the lease (handlers.time_left()), and
# are stopped at the second share, so that the round's outcome is written before its lease
# ends: past it another worker may take the same keys.
START_SHARE, STOP_SHARE = 0.5, 0.75


def _close_connection() -> None:
    connection.close()


class DaemonThread(Executor):
    """Runs calls one at a time on one daemon thread. A ThreadPoolExecutor's threads are
    joined at exit: one stuck on a hung database would hold the process up."""

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None]
        self._calls = queue.SimpleQueue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            future, function = call
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function())
                except BaseException as exc:
                    future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._calls.put((future, lambda: fn(*args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._calls.put(None)  # the thread ends after the call it runs; nothing waits for it


class Worker:
    def __init__(self) -> None:
        self.batch_size: int = settings.OUTBOX_BATCH_SIZE
        self.lease: float = settings.OUTBOX_LEASE
        self.poll_interval: float = settings.OUTBOX_POLL_INTERVAL
        # The worker's rounds follow one another, so one lease token serves them all, and a
        # stopping worker hands back what it holds by it: even a claim it was stopped while
        # waiting for (the claim commits in the worker's thread; the release runs after it).
        self.token = uuid.uuid4().hex
        self._last_purge = 0.0
        self.outages = Outages(summary_every=settings.OUTBOX_OUTAGE_SUMMARY)

    async def run_once(self) -> int:
        """One round: claim, handle, record the outcome. Returns how many messages it handled.
        The round's connection is closed at its end (not when cancelled: then the call that
        holds it may be stuck, and the close would wait behind it)."""
        claimed_at = asyncio.get_running_loop().time()  # the lease runs from before the claim
        claim = await sync_to_async(store.claim)(
            topics=list(handlers), limit=self.batch_size, lease=self.lease, token=self.token
        )
        if claim.messages:
            failures = await self._handle(claim.messages, claimed_at)
            await sync_to_async(store.finish)(claim, failures)
        await sync_to_async(_close_connection)()
        return len(claim.messages)

    async def _handle(self, messages: list[Message], claimed_at: float) -> Failures:
        """Every topic's handler at once, each with its own outcome, all within the lease."""
        by_topic: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_topic[message.topic].append(message)
        token = handlers_module.round_deadline.set(claimed_at + self.lease * START_SHARE)
        try:
            stop_at = claimed_at + self.lease * STOP_SHARE
            outcomes = await asyncio.gather(
                *(self._handle_topic(topic, group, stop_at) for topic, group in by_topic.items())
            )
        finally:
            handlers_module.round_deadline.reset(token)
        failures: Failures = {}
        for outcome in outcomes:
            failures.update(outcome)
        if given_up := sum(isinstance(why, GiveUp) for why in failures.values()):
            logger.error(
                "outbox: gave up on %d of %d messages (see the admin)", given_up, len(messages)
            )
        return failures

    async def _handle_topic(self, topic: str, group: list[Message], stop_at: float) -> Failures:
        try:
            async with asyncio.timeout_at(stop_at):
                failures = await handlers[topic](group)
        except Exception as exc:  # a timeout too: the round must end before its lease
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            failures = dict.fromkeys((message.pk for message in group), reason)
        self._note_outcome(topic, group, failures)
        return failures

    def _note_outcome(self, topic: str, group: list[Message], failures: Failures) -> None:
        """Tell the outage log whether this topic's work is failing (retries left over)."""
        retried = [m for m in group if isinstance(failures.get(m.pk), str)]
        if not retried:
            self.outages.succeeded(topic)
            return
        reason = str(failures[retried[0].pk])
        oldest = min(message.created_at for message in retried)
        self.outages.failed(topic, len(retried), oldest, reason)

    async def run_until_idle(self) -> int:
        """Handle everything that is due now (tests, and `manage.py outbox --drain`)."""
        total = 0
        while handled := await self.run_once():
            total += handled
        return total

    async def run(self) -> None:
        event = wakeup.listen()
        thread = DaemonThread("outbox worker")
        try:
            async with ThreadSensitiveContext(executor=thread):
                try:
                    await self._loop(event)
                finally:
                    # Stopped, maybe mid-round: hand back whatever it holds.
                    with contextlib.suppress(Exception):
                        release = sync_to_async(store.release)(self.token)
                        await asyncio.wait_for(release, STOP_TIMEOUT)
        finally:
            wakeup.forget(event)
            thread.shutdown()

    async def _loop(self, event: asyncio.Event) -> None:
        while True:
            event.clear()
            try:
                handled = await self.run_once()
                await self._purge_now_and_then()
            except Exception:  # the database is down, say: try again at the next poll
                logger.exception("outbox: a round failed")
                with contextlib.suppress(Exception):
                    await sync_to_async(_close_connection)()
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), self.poll_interval)

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        for state, seconds in [
            (store.DONE, settings.OUTBOX_KEEP_DONE),
            (store.FAILED, settings.OUTBOX_KEEP_FAILED),
        ]:
            keep = timedelta(seconds=seconds)
            if deleted := await sync_to_async(store.purge)(state, keep):
                logger.info("outbox: deleted %d %s messages older than %s", deleted, state, keep)


_tasks: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def start_worker() -> None:
    """Start this loop's worker, unless OUTBOX_WORKER is off or no app registered a handler."""
    loop = asyncio.get_running_loop()
    if settings.OUTBOX_WORKER and handlers and loop not in _tasks:
        _tasks[loop] = loop.create_task(Worker().run(), name="outbox worker")


async def stop_worker() -> None:
    task = _tasks.pop(asyncio.get_running_loop(), None)
    if task is not None:
        task.cancel()
        # Bounded: a round stuck on a hung database must not hold up the shutdown.
        await asyncio.wait({task}, timeout=2 * STOP_TIMEOUT)
