"""The task worker: runs the queued tasks (backend.py), each with its own timeout and
outcome, up to TASKS_CONCURRENCY at once.

An `async def` task runs on the worker's event loop; a sync one in a thread of the loop's
executor (its database connections closed after it). One slow or failing task never fails
another: each attempt is claimed, timed and finished alone. One worker runs in every server
process, beside the outbox's (apps.py); `manage.py tasks --work` runs one on its own.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from datetime import timedelta
from inspect import iscoroutinefunction
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import connections

from . import task_store, wakeup
from .backend import GiveUp, result_of
from .compat import TaskContext, normalize_json, task_finished, task_started
from .models import QueuedTask
from .worker import STOP_TIMEOUT, DaemonThread, _close_connection

logger = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between deletions of old finished tasks


def _call_closing_connections(func: Any, *args: Any, **kwargs: Any) -> Any:
    """A sync task, in an executor thread: that thread's connections are closed after it,
    so that none is left open between tasks."""
    try:
        return func(*args, **kwargs)
    finally:
        connections.close_all()


class TaskWorker:
    def __init__(self, queues: list[str] | None = None, concurrency: int | None = None) -> None:
        self.id = uuid.uuid4().hex[:16]
        self.queues = queues or ["default"]
        self.concurrency: int = concurrency or settings.TASKS_CONCURRENCY
        self.poll_interval: float = settings.OUTBOX_POLL_INTERVAL
        self.running: set[asyncio.Task[None]] = set()
        self._last_purge = 0.0

    async def run_once(self) -> int:
        """Claim what fits beside the running tasks and start it; returns how many started."""
        free = self.concurrency - len(self.running)
        rows = await sync_to_async(task_store.claim)(self.id, self.queues, free)
        for row in rows:
            attempt = asyncio.create_task(self._attempt(row), name=f"task {row.task_path}")
            self.running.add(attempt)
            attempt.add_done_callback(self.running.discard)
        return len(rows)

    async def _attempt(self, row: QueuedTask) -> None:
        try:
            try:
                result = await sync_to_async(result_of)(row)  # imports the task's module
            except (ImportError, TypeError) as exc:  # no such task here: retrying won't mend it
                raise GiveUp(f"{row.task_path} is no task: {exc}") from exc
            task = result.task
            task_started.send(type(self), task_result=result)
            args = [TaskContext(task_result=result), *row.args] if task.takes_context else row.args
            async with asyncio.timeout(row.timeout):
                if iscoroutinefunction(task.func):
                    value = await task.func(*args, **row.kwargs)
                else:
                    call = sync_to_async(_call_closing_connections, thread_sensitive=False)
                    value = await call(task.func, *args, **row.kwargs)
            outcome = task_store.Outcome(return_value=normalize_json(value))
        except GiveUp as exc:
            outcome = task_store.Outcome(error=task_store.error_of(exc), final=True)
        except Exception as exc:  # a timeout too: this attempt fails, no other does
            outcome = task_store.Outcome(error=task_store.error_of(exc))
        if not await sync_to_async(task_store.finish)(row, outcome):
            logger.warning("task %s %s: lease lost, outcome not written", row.task_path, row.id)
            return
        with contextlib.suppress(Exception):  # a receiver's failure is not the task's
            task_finished.send(type(self), task_result=result_of(row))

    async def run_until_idle(self) -> int:
        """Run everything due now, and what it makes due, until nothing is (tests, and
        `manage.py tasks --drain`). Returns how many attempts it started."""
        total = 0
        while True:
            total += await self.run_once()
            if not self.running:
                return total
            await asyncio.wait(set(self.running), return_when=asyncio.FIRST_COMPLETED)

    async def run(self) -> None:
        event = wakeup.listen()
        thread = DaemonThread("task worker")
        try:
            async with ThreadSensitiveContext(executor=thread):
                try:
                    await self._loop(event)
                finally:
                    for attempt in list(self.running):
                        attempt.cancel()
                    with contextlib.suppress(Exception):
                        release = sync_to_async(task_store.release)(self.id)
                        await asyncio.wait_for(release, STOP_TIMEOUT)
        finally:
            wakeup.forget(event)
            thread.shutdown()

    async def _loop(self, event: asyncio.Event) -> None:
        while True:
            event.clear()
            try:
                await self.run_once()
                await sync_to_async(_close_connection)()
                await self._purge_now_and_then()
            except Exception:  # the database is down, say: try again at the next poll
                logger.exception("tasks: a round failed")
                with contextlib.suppress(Exception):
                    await sync_to_async(_close_connection)()
            waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait())]
            if len(self.running) >= self.concurrency:  # full: wait for a free place too
                waits.append(asyncio.ensure_future(asyncio.wait(set(self.running))))
            _, pending = await asyncio.wait(
                waits, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
            for waiting in pending:
                waiting.cancel()

    async def _purge_now_and_then(self) -> None:
        if time.monotonic() - self._last_purge < PURGE_EVERY:
            return
        self._last_purge = time.monotonic()
        for status, seconds in [
            (task_store.SUCCESSFUL, settings.OUTBOX_KEEP_DONE),
            (task_store.FAILED, settings.OUTBOX_KEEP_FAILED),
        ]:
            keep = timedelta(seconds=seconds)
            if deleted := await sync_to_async(task_store.purge)(status, keep):
                logger.info("tasks: deleted %d %s tasks older than %s", deleted, status, keep)


_workers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def start_task_worker() -> None:
    """Start this loop's task worker, unless OUTBOX_WORKER is off."""
    loop = asyncio.get_running_loop()
    if settings.OUTBOX_WORKER and loop not in _workers:
        _workers[loop] = loop.create_task(TaskWorker().run(), name="task worker")


async def stop_task_worker() -> None:
    worker = _workers.pop(asyncio.get_running_loop(), None)
    if worker is not None:
        worker.cancel()
        await asyncio.wait({worker}, timeout=2 * STOP_TIMEOUT)
