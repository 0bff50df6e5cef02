"""Django's ASGI handler, without its two thread starts per request.

Stock Django (5.2 and 6.x, asgiref 3.13) gives every request a ThreadSensitiveContext with
a new single-thread executor, used at least once, to close the response (which sends
request_finished), and shut down on a thread of its own when the request ends: two thread
starts per request, even for an async view that never touches sync code. Here:

- The request's executor is lent from a pool of reused ones, and takes its thread only
  when the request first runs sync code (an ORM call, a sync view): all of a request's
  sync code still runs in one thread, and threads are reused, not started per request.
- A response is closed inline on the event loop when the request ran no sync code and
  request_finished has only Django's own receivers, which have nothing to do outside a
  thread. Otherwise it is closed in the request's thread, as Django does, so that thread's
  database connections are closed by request_finished in that same thread.
- A thread goes back to the pool only with its database connections clean: in autocommit,
  in no transaction, not broken. A request that failed half-way (a streamed export whose
  send raised, a view that left a transaction open) skips request_finished; its thread's
  dirty connections are closed there (which rolls them back) before the next request's
  first call, queued behind it on that one thread. A request that ended normally has that
  done right after its response is closed, in the same call: no call more (a database read,
  the template's bench/hotpath.py --read anonymous, three runs each: 1254-1319 us,
  1238-1268 us without the check; within the spread of runs on a shared machine). Not as a
  request_finished receiver: Django's test client sends that signal in the test's own
  thread, inside the test's transaction.
- The pool keeps ASGI_THREADS_KEPT idle threads. Past that many requests running sync
  code at once, a request gets a thread of its own, shut down after it (what stock Django
  does for every request), so sync views stay concurrent however many come.

Measured in-process (the template's bench on an async view that only answers, Django 6.1):
2.00 thread starts and ~530 us of CPU per request before, 0 and ~300 us with this handler;
a database read 2.00 starts before, 0 after.

It leans on two internals, each checked by tests/test_handler.py, which fail loudly when a
Django or asgiref upgrade changes them: Django closes the response with
`sync_to_async(response.close)()`, and asgiref hands that call to the context's executor
as a partial whose last argument is the function it runs.
"""

import functools
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core import signals
from django.core.cache import close_caches
from django.core.checks import CheckMessage, Warning, register
from django.core.handlers.asgi import ASGIHandler as StockASGIHandler
from django.core.handlers.base import reset_urlconf
from django.db import close_old_connections, connections
from django.http import HttpResponseBase


def close_dirty_connections() -> None:
    """In a request's thread, before the next request inherits its connections: roll back
    and close those left in a transaction, out of autocommit or broken. Only the flags Django
    keeps are read: a clean connection costs no query."""
    for connection in connections.all(initialized_only=True):
        # Closed inside an atomic block (request_finished's close_old_connections does that),
        # Django keeps the block "closed in a transaction" until it exits, which an
        # abandoned one never does: the next use would refuse to connect.
        dirty = connection.in_atomic_block or connection.closed_in_transaction
        if connection.connection is not None:
            broken = connection.errors_occurred and not connection.is_usable()
            dirty = dirty or not connection.autocommit or broken
        if not dirty:
            continue
        # Leave the abandoned block by hand, as connect() would.
        connection.in_atomic_block = connection.closed_in_transaction = False
        connection.savepoint_ids = []
        if connection.connection is None:
            connection.needs_rollback = False
            continue
        try:
            connection.rollback()
            connection.set_autocommit(True)
            connection.close()  # the next use connects afresh (SQLite's in-memory: kept)
        except Exception:
            connection.connection = None  # unusable: dropped; the next use connects


def _close_then_clean(close_response: Callable[[], Any]) -> Any:
    try:
        return close_response()
    finally:
        close_dirty_connections()


# Django's own request_finished receivers: none does anything on the event loop's thread,
# where no database connection is ever opened.
STOCK_FINISHED_RECEIVERS = {close_old_connections, close_caches, reset_urlconf}


def request_finished_receivers() -> list[Callable[..., Any]]:
    """The live receivers of request_finished (Django keeps weak references to most)."""
    receivers = []
    for entry in signals.request_finished.receivers:
        receiver = entry[1]
        receiver = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if receiver is not None:
            receivers.append(receiver)
    return receivers


def unknown_finished_receivers() -> list[Callable[..., Any]]:
    return [r for r in request_finished_receivers() if r not in STOCK_FINISHED_RECEIVERS]


@register("async")
def check_finished_receivers(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """A receiver of request_finished that Django does not ship may need a thread (or a
    database connection): the handler then closes every response in the request's thread."""
    names = [getattr(r, "__qualname__", repr(r)) for r in unknown_finished_receivers()]
    if not names:
        return []
    return [
        Warning(
            f"request_finished has receivers Django does not ship: {', '.join(names)}.",
            hint="Every request then takes a thread to close its response. If they do nothing "
            "a thread is needed for, add them to runtime.handler.STOCK_FINISHED_RECEIVERS.",
            id="runtime.W001",
        )
    ]


class ThreadPool:
    """Single-thread executors kept between requests (each takes its thread on first use)."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._idle: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self.in_use = 0  # lent to requests now (the metrics' request_threads)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def take(self) -> ThreadPoolExecutor:
        with self._lock:
            self.in_use += 1
            if self._idle:
                return self._idle.pop()
        return ThreadPoolExecutor(max_workers=1, thread_name_prefix="request")

    def give_back(self, executor: ThreadPoolExecutor) -> None:
        with self._lock:
            self.in_use -= 1
            if len(self._idle) < self.kept:
                self._idle.append(executor)
                return
        executor.shutdown(wait=False)  # one too many: its thread ends, nobody waits for it


def _runs_response_close(call: Callable[..., Any]) -> bool:
    """Whether asgiref's call wraps `response.close` (sync_to_async(response.close)())."""
    child = call.args[-1] if isinstance(call, functools.partial) and call.args else None
    target = getattr(child, "func", None)
    return (
        getattr(target, "__name__", None) == "close"
        and isinstance(getattr(target, "__self__", None), HttpResponseBase)
        and not (child.args or child.keywords)  # type: ignore[union-attr]
    )


class RequestExecutor(Executor):
    """The executor of one request's ThreadSensitiveContext: a pooled thread, taken on the
    first sync call; the closing of the response runs inline when no thread was taken."""

    def __init__(self, pool: ThreadPool) -> None:
        self._pool = pool
        self._executor: ThreadPoolExecutor | None = None
        # The calls still running: a finished one is dropped at once, with its result (a
        # streamed export makes thousands of calls in one request, each with a chunk of rows).
        self._running: set[Future[Any]] = set()
        self.response_sent = False
        # Whether the response was closed in the request's thread, where that call also left
        # its connections clean (close_dirty_connections).
        self._closed_in_thread = False

    @property
    def took_a_thread(self) -> bool:
        return self._executor is not None

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if (
            self._executor is None
            and self.response_sent
            and not args
            and not kwargs
            and _runs_response_close(fn)
            and not unknown_finished_receivers()
        ):
            return self._run_inline(fn)
        if self._executor is None:
            self._executor = self._pool.take()
        if self.response_sent and _runs_response_close(fn):
            self._closed_in_thread = True
            fn = functools.partial(_close_then_clean, fn)
        future = self._executor.submit(fn, *args, **kwargs)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return future

    @staticmethod
    def _run_inline(fn: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn())
        except BaseException as exc:
            future.set_exception(exc)
        return future

    def release(self) -> None:
        """Give the thread back once its connections are clean, unless a call of this
        request still runs there (a sync view whose client went away): that thread
        finishes it and ends."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if self._running:
            executor.shutdown(wait=False)
            return
        if not self._closed_in_thread:  # the response was never closed (the request failed)
            # Its one thread runs calls in order: the next request's calls come after this.
            executor.submit(close_dirty_connections)
        self._pool.give_back(executor)


_current: ContextVar[RequestExecutor] = ContextVar("request_executor")


class ASGIHandler(StockASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self.threads = ThreadPool(kept=settings.ASGI_THREADS_KEPT)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # as Django's own handler
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        executor = RequestExecutor(self.threads)
        token = _current.set(executor)
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, receive, send)
        finally:
            _current.reset(token)
            executor.release()

    async def send_response(self, response: Any, send: Any) -> None:
        await super().send_response(response, send)
        # Django's next call is sync_to_async(response.close)().
        _current.get().response_sent = True
