"""The worker: does the outbox's pending work, in bulk, retrying until it succeeds.

One runs in every server process, started and stopped by the ASGI lifespan (apps.py);
`manage.py outbox --work` runs one on its own (for WSGI servers, which have no lifespan).
Its database work runs in one thread of its own (a ThreadSensitiveContext held for its
lifetime), whose connection is closed after each round, so it holds none while idle.
"""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from datetime import timedelta

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection

from . import store, wakeup
from .handlers import Failures, handlers
from .models import Message

logger = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between deletions of old done messages


def _close_connection() -> None:
    connection.close()


class Worker:
    def __init__(self) -> None:
        self.batch_size: int = settings.OUTBOX_BATCH_SIZE
        self.lease: float = settings.OUTBOX_LEASE
        self.poll_interval: float = settings.OUTBOX_POLL_INTERVAL
        self._claim: store.Claim | None = None
        self._last_purge = 0.0

    async def run_once(self) -> int:
        """One round: claim, handle, record the outcome. Returns how many messages it handled."""
        try:
            claim = await sync_to_async(store.claim)(
                topics=list(handlers), limit=self.batch_size, lease=self.lease
            )
            if not claim.messages:
                return 0
            self._claim = claim
            failures = await self._handle(claim.messages)
            await sync_to_async(store.finish)(claim, failures)
            self._claim = None
            return len(claim.messages)
        finally:
            await sync_to_async(_close_connection)()

    async def _handle(self, messages: list[Message]) -> Failures:
        by_topic: dict[str, list[Message]] = defaultdict(list)
        for message in messages:
            by_topic[message.topic].append(message)
        failures: Failures = {}
        for topic, group in by_topic.items():
            try:
                # Bounded by the lease: past it, another worker may take the same keys.
                async with asyncio.timeout(self.lease / 2):
                    failures.update(await handlers[topic](group))
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exc}"
                logger.warning("outbox: %s failed for %d messages: %s", topic, len(group), reason)
                failures.update(dict.fromkeys((message.pk for message in group), reason))
        if failures:
            logger.warning("outbox: %d of %d messages to retry", len(failures), len(messages))
        return failures

    async def run_until_idle(self) -> int:
        """Handle everything that is due now (tests, and `manage.py outbox --drain`)."""
        total = 0
        while handled := await self.run_once():
            total += handled
        return total

    async def run(self) -> None:
        event = wakeup.listen()
        try:
            async with ThreadSensitiveContext():
                while True:
                    event.clear()
                    try:
                        handled = await self.run_once()
                        await self._purge_now_and_then()
                    except Exception:  # the database is down, say: try again at the next poll
                        logger.exception("outbox: a round failed")
                        handled = 0
                    if not handled:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(event.wait(), self.poll_interval)
        finally:
            wakeup.forget()
            if self._claim is not None:  # stopped mid-round: hand back what it held
                with contextlib.suppress(DatabaseError):
                    await sync_to_async(store.release)(self._claim)
                await sync_to_async(close_old_connections)()

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        keep = timedelta(seconds=settings.OUTBOX_KEEP_DONE)
        if deleted := await sync_to_async(store.purge_done)(keep):
            logger.info("outbox: deleted %d done messages older than %s", deleted, keep)


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
        with contextlib.suppress(asyncio.CancelledError):
            await task
