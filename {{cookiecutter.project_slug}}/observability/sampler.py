"""The gauges that are read rather than counted (threads, database pool, task queue): sampled
every METRICS_SAMPLE_SECONDS by a task on the server's event loop, not on the request path."""

import asyncio
import contextlib
import logging
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections

from outbox import store

from . import metrics

logger = logging.getLogger(__name__)
thread_pools: list[Any] = []  # the ASGI handler's (asgi.py)


def sample_process() -> None:
    found = metrics.get()
    if found is None:
        return
    for pool in thread_pools:
        found.request_threads.labels("in_use").set(pool.in_use)
        found.request_threads.labels("kept").set(pool.idle)
    for alias in connections:
        if not connections.settings[alias].get("OPTIONS", {}).get("pool"):
            continue
        stats = connections[alias].pool.get_stats()  # type: ignore[attr-defined]
        size, idle = stats.get("pool_size", 0), stats.get("pool_available", 0)
        found.database_pool.labels("in_use").set(size - idle)
        found.database_pool.labels("idle").set(idle)
        found.database_pool.labels("waiting").set(stats.get("requests_waiting", 0))


async def sample_queue() -> None:
    found = metrics.get()
    if found is None:
        return
    queue = await sync_to_async(store.queue_state)()
    found.queue.labels("due").set(queue.due)
    found.queue.labels("failed").set(queue.failed)
    found.queue.labels("oldest_due_seconds").set(queue.oldest_due_seconds or 0.0)


async def sample_forever() -> None:
    while True:
        try:
            sample_process()
            await sample_queue()
        except Exception:  # a database outage must not end the sampling
            logger.warning("metrics: sampling failed", exc_info=True)
        await asyncio.sleep(settings.METRICS_SAMPLE_SECONDS)


_sampling: asyncio.Task[None] | None = None


def start_sampling() -> None:
    global _sampling
    if metrics.get() is not None and _sampling is None:
        _sampling = asyncio.get_running_loop().create_task(sample_forever(), name="metrics")


async def stop_sampling() -> None:
    global _sampling
    if _sampling is not None:
        _sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _sampling
        _sampling = None
