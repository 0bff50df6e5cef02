"""Indexing tasks that run at once in one process share one read and one bulk request.

Every post write is a task of its own, and a worker runs up to TASKS_CONCURRENCY of them at
once. Alone, each would read its posts and send a bulk request of its own, and the worker
would fall behind a busy API (measured: 94 tasks/s, a post searchable 4.3 s after its 201
at 220 writes/s). Tasks that start within BATCH_WINDOW of each other join one batch instead:
one read of all their posts, one bulk request. Each task keeps its own outcome: it fails if
one of its posts could not be written, and a task that is cancelled (its timeout) leaves
the batch to the others.
"""

import asyncio
from collections.abc import Awaitable, Callable, Collection

# Seconds a batch waits for tasks started with the first one (each hops to the worker's
# database thread first, one after the other).
BATCH_WINDOW = 0.005

# A batch's work: the ids' writes, answering why each id that failed did.
Write = Callable[[list[int]], Awaitable[dict[int, str]]]


class Batch:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ids: set[int] = set()
        self.outcome: asyncio.Future[dict[int, str]] = loop.create_future()


class Batches:
    """One open batch per event loop (the worker's; a WSGI view's or a command's own)."""

    def __init__(self, write: Write) -> None:
        self.write = write
        self._open: dict[asyncio.AbstractEventLoop, Batch] = {}
        self._flushing: set[asyncio.Task[None]] = set()

    async def run(self, ids: Collection[int]) -> dict[int, str]:
        """Write `ids` with whatever else joins within BATCH_WINDOW; answers the failed ones."""
        loop = asyncio.get_running_loop()
        batch = self._open.get(loop)
        if batch is None:
            batch = self._open[loop] = Batch(loop)
            flush = loop.create_task(self._flush(loop, batch), name="index batch")
            self._flushing.add(flush)
            flush.add_done_callback(self._flushing.discard)
        batch.ids.update(ids)
        failed = await asyncio.shield(batch.outcome)
        return {pk: failed[pk] for pk in ids if pk in failed}

    async def _flush(self, loop: asyncio.AbstractEventLoop, batch: Batch) -> None:
        await asyncio.sleep(BATCH_WINDOW)
        del self._open[loop]  # who comes now starts the next batch
        try:
            batch.outcome.set_result(await self.write(sorted(batch.ids)))
        except Exception as exc:
            batch.outcome.set_exception(exc)
        # Read, so that a batch whose tasks were all cancelled logs no "never retrieved".
        batch.outcome.exception()
