"""The worker: runs the queued tasks (backend.py), each with its own timeout and outcome,
up to TASKS_CONCURRENCY at once.

An `async def` task runs on the worker's event loop; a sync one in a thread of the loop's
executor (its database connections closed after it). One slow or failing task never fails
another: each attempt is claimed, timed and finished alone. The worker's own database work
(claims, outcomes) runs in one daemon thread of its own, whose connection is closed after
each round, so it holds none while idle. One worker runs in every server process, started
and stopped by the ASGI lifespan (apps.py); `manage.py tasks --work` runs one on its own
(for WSGI servers, which have no lifespan). A stopping worker claims nothing more, lets
the attempts under way finish for up to TASKS_STOP_GRACE seconds (what a task has already
sent is then not sent again by the next worker), and hands back the rest. It never waits longer: a
call stuck on a hung database is left to its daemon thread, and the lease hands its tasks on
later.
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import timedelta
from inspect import iscoroutinefunction
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.db import connection, connections

from observability import metrics
from observability.tracing import task_span

from . import store, wakeup
from .backend import GiveUp, result_of
from .compat import AnyResult, TaskContext, normalize_json, task_finished, task_started
from .models import QueuedTask
from .outages import Outages

logger = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between deletions of old finished tasks
STOP_TIMEOUT = 2.0  # seconds a stopping worker may spend handing back its tasks


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
        self.outages = Outages(summary_every=settings.OUTBOX_OUTAGE_SUMMARY)
        self._outcomes: list[tuple[QueuedTask, store.Outcome, asyncio.Future[bool]]] = []
        self._writing: set[asyncio.Task[None]] = set()

    async def run_once(self) -> int:
        """Claim what fits beside the running tasks and start it; returns how many started."""
        free = self.concurrency - len(self.running)
        claimed = await sync_to_async(claim_and_read)(self.id, self.queues, free)
        for row, result in claimed:
            attempt = asyncio.create_task(self._attempt(row, result), name=f"task {row.task_path}")
            self.running.add(attempt)
            attempt.add_done_callback(self.running.discard)
        return len(claimed)

    async def _attempt(self, row: QueuedTask, result: AnyResult | Exception) -> None:
        try:
            if isinstance(result, Exception):  # no such task here: retrying won't mend it
                raise GiveUp(f"{row.task_path} is no task: {result}") from result
            task = result.task
            task_started.send(type(self), task_result=result)
            args = [TaskContext(task_result=result), *row.args] if task.takes_context else row.args
            attributes = {"task.id": row.id, "task.attempt": len(row.worker_ids)}
            with task_span(task.name, row.traceparent, attributes):
                async with asyncio.timeout(row.timeout):
                    if iscoroutinefunction(task.func):
                        value = await task.func(*args, **row.kwargs)
                    else:
                        call = sync_to_async(_call_closing_connections, thread_sensitive=False)
                        value = await call(task.func, *args, **row.kwargs)
            outcome = store.Outcome(return_value=normalize_json(value))
        except GiveUp as exc:
            outcome = store.Outcome(error=store.error_of(exc), reason=reason_of(exc), final=True)
        except Exception as exc:  # a timeout too: this attempt fails, no other does
            outcome = store.Outcome(error=store.error_of(exc), reason=reason_of(exc))
        try:
            written = await self._write_outcome(row, outcome)
        except Exception:  # the database is down, say: the lease hands the task on later
            logger.exception("tasks: %s %s: could not write its outcome", row.task_path, row.id)
            return
        if not written:
            logger.warning("tasks: %s %s: lease lost, outcome not written", row.task_path, row.id)
            return
        self._note_outcome(row, outcome)
        with contextlib.suppress(Exception):  # a receiver's failure is not the task's
            task_finished.send(type(self), task_result=result_of(row))

    async def _write_outcome(self, row: QueuedTask, outcome: store.Outcome) -> bool:
        """Outcomes that come in the same turn of the loop (a batch of tasks that ended
        together) are written in one transaction: one commit, one hop to the database thread."""
        loop = asyncio.get_running_loop()
        written: asyncio.Future[bool] = loop.create_future()
        self._outcomes.append((row, outcome, written))
        if len(self._outcomes) == 1:
            writing = loop.create_task(self._write_outcomes(), name="task outcomes")
            self._writing.add(writing)
            writing.add_done_callback(self._writing.discard)
        return await asyncio.shield(written)

    async def _write_outcomes(self) -> None:
        await asyncio.sleep(0)  # the others of this turn join
        outcomes, self._outcomes = self._outcomes, []
        try:
            pairs = [(row, outcome) for row, outcome, _ in outcomes]
            written = await sync_to_async(store.finish_all)(pairs)
        except Exception as exc:
            for _, _, future in outcomes:
                future.set_exception(exc)
                future.exception()  # read: an attempt cancelled meanwhile no longer waits
        else:
            for (_, _, future), one in zip(outcomes, written, strict=True):
                future.set_result(one)

    def _note_outcome(self, row: QueuedTask, outcome: store.Outcome) -> None:
        if outcome.error is None:
            metrics.task_finished(row.task_path, "succeeded")
            self.outages.succeeded(row.task_path)
        elif row.status == store.FAILED:
            metrics.task_finished(row.task_path, "failed")
            logger.error(
                "tasks: %s %s failed after %d attempts: %s (see the admin)",
                row.task_path,
                row.id,
                len(row.worker_ids),
                outcome.reason,
            )
        else:
            metrics.task_finished(row.task_path, "retrying")
            self.outages.failed(row.task_path, outcome.reason)

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
                    if self.running:
                        await asyncio.wait(set(self.running), timeout=settings.TASKS_STOP_GRACE)
                    for attempt in list(self.running):
                        attempt.cancel()
                    with contextlib.suppress(Exception):
                        release = sync_to_async(store.release)(self.id)
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
            (store.SUCCESSFUL, settings.OUTBOX_KEEP_DONE),
            (store.FAILED, settings.OUTBOX_KEEP_FAILED),
        ]:
            keep = timedelta(seconds=seconds)
            if deleted := await sync_to_async(store.purge)(status, keep):
                logger.info("tasks: deleted %d %s tasks older than %s", deleted, status, keep)


def claim_and_read(
    worker_id: str, queues: list[str], limit: int
) -> list[tuple[QueuedTask, AnyResult | Exception]]:
    """Claim tasks, and read each claimed row's result (importing its task's module: in the
    database thread, not on the loop), all in one hop. A row whose task is gone gets why."""
    claimed: list[tuple[QueuedTask, AnyResult | Exception]] = []
    for row in store.claim(worker_id, queues, limit):
        try:
            claimed.append((row, result_of(row)))
        except (ImportError, TypeError) as exc:
            claimed.append((row, exc))
    return claimed


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


_workers: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}


def start_worker() -> None:
    """Start this loop's worker, unless OUTBOX_WORKER is off."""
    loop = asyncio.get_running_loop()
    if settings.OUTBOX_WORKER and loop not in _workers:
        _workers[loop] = loop.create_task(TaskWorker().run(), name="outbox worker")


async def stop_worker() -> None:
    worker = _workers.pop(asyncio.get_running_loop(), None)
    if worker is not None:
        worker.cancel()
        await asyncio.wait({worker}, timeout=settings.TASKS_STOP_GRACE + 2 * STOP_TIMEOUT)
