"""runtime/handler.py: no thread started per request, and everything Django promises kept.

The requests go through the ASGI application as uvicorn calls it (the test client has a
handler of its own). The last tests check the Django and asgiref internals the handler
leans on: an upgrade that changes them fails here, loudly, not in production, slowly.
"""

import asyncio
import inspect
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.contrib.auth.models import Group
from django.core import signals
from django.core.cache import cache
from django.core.checks import run_checks
from django.core.handlers.asgi import ASGIHandler as StockASGIHandler
from django.db import connection, connections, transaction
from django.http import HttpResponse

from {{ cookiecutter.project_slug }}.asgi import application, django_application
from {{ cookiecutter.project_slug }}.runtime import handler
from {{ cookiecutter.project_slug }}.runtime.handler import (
    STOCK_FINISHED_RECEIVERS,
    RequestExecutor,
    ThreadPool,
    _runs_response_close,
    request_finished_receivers,
)

from .asgi_calls import call as asgi_call
from .conftest import OWN_HANDLER, wait_until

REQUESTS = 50


async def call(path: str, query: bytes = b"", *, disconnect: asyncio.Event | None = None) -> int:
    """One request through the ASGI application; `disconnect` set: the client goes away."""
    return await asgi_call(application, path, query, disconnect=disconnect)


@pytest.fixture
def thread_starts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the threads started while the test runs, but those of an event loop's
    default executor ("asyncio_N"): no request uses it, and the test process's other loops
    may start one at any time. (The bench's hot path counts every thread, in a process of
    its own: 0.00 per request.)"""
    started: list[str] = []
    real_start = threading.Thread.start

    def counting(thread: threading.Thread) -> None:
        if not thread.name.startswith("asyncio_"):
            started.append(thread.name)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting)
    yield started


@pytest.fixture
def closed_caches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of Django's close_caches receiver, i.e. of request_finished."""
    closes: list[int] = []
    cache.get("touch")  # close_caches closes the caches that were used
    monkeypatch.setattr(cache, "close", lambda **kwargs: closes.append(threading.get_ident()))
    return closes


@OWN_HANDLER
@pytest.mark.parametrize("path", ["/api/health", "/api/probe/async"])
async def test_an_async_request_starts_no_thread_and_still_finishes(
    path: str, thread_starts: list[str], closed_caches: list[int]
) -> None:
    await call(path)  # warm up
    del thread_starts[:], closed_caches[:]

    statuses = [await call(path) for _ in range(REQUESTS)]

    assert statuses == [200] * REQUESTS
    assert thread_starts == []
    # request_finished was sent for each, on the event loop's thread (no hop).
    assert closed_caches == [threading.get_ident()] * REQUESTS


@OWN_HANDLER
@pytest.mark.django_db(transaction=True)
async def test_requests_running_sync_code_reuse_threads(thread_starts: list[str]) -> None:
    group = await Group.objects.acreate(name="read me")
    path = f"/api/probe/groups/{group.pk}"  # a sync view
    await call(path)  # warm up: the first request takes a thread, the next ones reuse it
    del thread_starts[:]

    statuses = [await call(path) for _ in range(REQUESTS)]

    assert statuses == [200] * REQUESTS
    assert thread_starts == []


@pytest.mark.django_db(transaction=True)
async def test_a_requests_connection_is_closed_in_its_own_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = await Group.objects.acreate(name="read me")
    backend = type(connections["default"])
    used: list[int] = []
    closed: list[int] = []
    real_ensure, real_close = backend.ensure_connection, backend.close_if_unusable_or_obsolete

    def ensure_connection(self: Any) -> None:
        used.append(threading.get_ident())
        real_ensure(self)

    def close_if_unusable_or_obsolete(self: Any) -> None:
        closed.append(threading.get_ident())
        real_close(self)

    monkeypatch.setattr(backend, "ensure_connection", ensure_connection)
    monkeypatch.setattr(backend, "close_if_unusable_or_obsolete", close_if_unusable_or_obsolete)

    assert await call(f"/api/probe/groups/{group.pk}") == 200

    # request_finished's close_old_connections ran in the thread whose connection the
    # request used (not on the event loop, where it would find none to close).
    assert used and set(closed) == set(used)
    assert threading.get_ident() not in used


async def test_all_sync_calls_of_a_request_run_in_one_thread() -> None:
    executor = RequestExecutor(ThreadPool(kept=1))
    async with ThreadSensitiveContext(executor=executor):
        first = await sync_to_async(threading.get_ident)()
        second = await sync_to_async(threading.get_ident)()
    executor.release()

    assert first == second != threading.get_ident()


@pytest.mark.django_db(transaction=True)  # the thread it takes may hold a connection
async def test_request_finished_is_sent_when_the_client_goes_away(
    closed_caches: list[int],
) -> None:
    gone = asyncio.Event()
    request = asyncio.create_task(call("/api/probe/async", b"delay=5", disconnect=gone))
    await asyncio.sleep(0.1)
    gone.set()

    await asyncio.wait_for(request, 2)  # the view is cancelled, not waited for

    assert len(closed_caches) == 1


@pytest.mark.django_db(transaction=True)  # the thread it takes may hold a connection
async def test_a_receiver_added_to_request_finished_runs_and_the_fast_path_steps_aside(
    thread_starts: list[str],
) -> None:
    threads: list[int] = []

    def receiver(**kwargs: Any) -> None:
        threads.append(threading.get_ident())

    signals.request_finished.connect(receiver)
    try:
        warnings = [message.id for message in run_checks(tags=["async"])]
        await call("/api/probe/async")
    finally:
        signals.request_finished.disconnect(receiver)

    assert warnings == ["runtime.W001"]
    assert len(threads) == 1 and threads[0] != threading.get_ident()  # closed in a thread
    assert [message.id for message in run_checks(tags=["async"])] == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("response_closed", [False, True], ids=["failed", "answered"])
async def test_a_reused_thread_never_inherits_a_dirty_connection(response_closed: bool) -> None:
    """A request that left a transaction open, whether it failed (its response never closed,
    request_finished never came) or answered: the next request on the same thread writes in
    autocommit, and its write is committed."""
    pool = ThreadPool(kept=1)

    def fail_inside_a_transaction() -> int:
        transaction.atomic().__enter__()  # never exited: the request raised half-way
        Group.objects.create(name="never committed")
        return threading.get_ident()

    def write() -> tuple[int, bool, bool]:
        clean = transaction.get_autocommit() and not connection.in_atomic_block
        Group.objects.create(name="committed")
        return threading.get_ident(), clean, transaction.get_autocommit()

    failed = RequestExecutor(pool)
    async with ThreadSensitiveContext(executor=failed):
        first_thread = await sync_to_async(fail_inside_a_transaction)()
        if response_closed:
            failed.response_sent = True
            await sync_to_async(HttpResponse().close)()  # as Django closes a response
    failed.release()
    await wait_until(lambda: asyncio.sleep(0, bool(pool._idle)))  # cleaned, then given back
    writer = RequestExecutor(pool)
    async with ThreadSensitiveContext(executor=writer):
        second_thread, clean, autocommit = await sync_to_async(write)()
        await sync_to_async(connections.close_all)()
    writer.release()

    assert second_thread == first_thread  # the same, reused thread
    assert clean and autocommit
    names = [group.name async for group in Group.objects.all()]
    assert names == ["committed"]


@OWN_HANDLER
async def test_past_the_kept_threads_sync_views_stay_concurrent(monkeypatch: Any) -> None:
    pool = ThreadPool(kept=2)
    monkeypatch.setattr(django_application, "threads", pool)
    loop = asyncio.get_running_loop()
    started = loop.time()

    statuses = await asyncio.gather(*(call("/api/probe/sync", b"delay=0.5") for _ in range(8)))

    assert statuses == [200] * 8
    assert loop.time() - started < 2  # together, not two at a time (2 s) or one (4 s)
    assert len(pool._idle) == 2  # the other six threads were ended


# The internals -----------------------------------------------------------------------


def test_django_still_closes_responses_through_sync_to_async() -> None:
    source = inspect.getsource(StockASGIHandler.handle)
    assert "await sync_to_async(response.close)()" in source, (
        "Django's ASGIHandler.handle no longer closes the response with "
        "sync_to_async(response.close)(): runtime/handler.py must be reviewed"
    )
    entry = inspect.getsource(StockASGIHandler.__call__)
    assert "async with ThreadSensitiveContext():" in entry, (
        "Django's ASGIHandler.__call__ changed: runtime/handler.py must be reviewed"
    )


async def test_asgiref_hands_the_executor_a_call_that_shows_its_function() -> None:
    seen: list[Any] = []

    class Recording(RequestExecutor):
        def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
            seen.append(fn)
            return super().submit(fn, *args, **kwargs)

    response = HttpResponse()
    executor = Recording(ThreadPool(kept=0))
    async with ThreadSensitiveContext(executor=executor):
        await sync_to_async(response.close)()
        await sync_to_async(response.flush)()
    executor.release()

    assert [_runs_response_close(call) for call in seen] == [True, False], (
        "asgiref's SyncToAsync no longer passes the executor a partial ending with the "
        "function it runs: runtime/handler.py must be reviewed"
    )


def test_djangos_own_request_finished_receivers_are_known() -> None:
    assert set(request_finished_receivers()) >= STOCK_FINISHED_RECEIVERS
    assert handler.unknown_finished_receivers() == []
