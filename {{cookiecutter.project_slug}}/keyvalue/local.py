"""The store in this process's memory: no I/O, so its calls run on the event loop as they are.

Each worker process counts alone: with N workers a client gets N times the rate limit.
The `redis` cache choice shares one count (redis_store.py).
"""

import threading
import time

from django.core.cache.backends.locmem import LocMemCache

from .base import Hit

# Rate-limit logs kept at most (a third are dropped past it): that many clients at once.
MAX_COUNTS = 10_000
# Cached values kept at most, apart from the counts: however many values are cached, no
# rate-limit count is pushed out to make room for them.
MAX_CACHED = 1_000


class LocalStore:
    name = "local"

    def __init__(self) -> None:
        self.counts = LocMemCache("keyvalue-counts", {"OPTIONS": {"MAX_ENTRIES": MAX_COUNTS}})
        self.cache = LocMemCache("keyvalue-cache", {"OPTIONS": {"MAX_ENTRIES": MAX_CACHED}})
        # Sync operations count from many threads: read and write as one step.
        self.lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> Hit:
        return self._count(key, limit, window)

    async def ahit(self, key: str, limit: int, window: float) -> Hit:
        return self._count(key, limit, window)  # no I/O: nothing to wait for

    def _count(self, key: str, limit: int, window: float) -> Hit:
        with self.lock:
            now = time.time()
            log: list[float] = [t for t in self.counts.get(key, []) if t > now - window]
            if len(log) >= limit:
                return Hit(False, log[0] + window - now)
            log.append(now)
            self.counts.set(key, log, window)
            return Hit(True, 0.0)

    async def aget(self, key: str) -> bytes | None:
        value: bytes | None = self.cache.get(key)
        return value

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        self.cache.set(key, value, ttl)

    async def aping(self) -> None:
        return None

    def clear(self) -> None:
        self.counts.clear()
        self.cache.clear()
