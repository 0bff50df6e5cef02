"""The store on Redis, shared by every worker and replica.

Counting is one Lua script, so it is atomic across processes: it drops the hits older than
the window, counts the rest, and adds this one only if there is room (a sliding log, as
Ninja's throttles keep, so no burst of twice the limit at a window's edge). The time is
Redis's own, so workers whose clocks differ still agree.

On the event loop every call goes through redis.asyncio, one client per loop
(runtime/loop_clients.py): no thread, and the loop serves other requests while Redis
answers. Sync code (a sync view's thread, WSGI, on_commit) uses one thread-safe sync client.

Redis down or slow is not an outage: a call waits at most REDIS_TIMEOUT, then raises
StoreUnavailable; after a failure, calls fail at once for REDIS_RETRY_INTERVAL seconds
instead of each waiting the timeout out again.

A burst is not a slow Redis. A loop's calls take turns on REDIS_MAX_CONNECTIONS connections
(a semaphore per loop), and REDIS_TIMEOUT starts once a call has its connection: 1 000
checks at once on one loop are all counted (the template's bench), where a timeout that also
covered the wait for a connection failed them open. The wait is bounded too
(REDIS_QUEUE_TIMEOUT); past it the call fails open without marking Redis as failed.
"""

import asyncio
import contextlib
import secrets
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import redis
import redis.asyncio
from django.conf import settings

from {{ cookiecutter.project_slug }}.runtime.loop_clients import LoopClients

from .base import Hit, StoreUnavailable

# Returns 0 if the hit is counted, else the milliseconds until the oldest hit leaves the window.
SLIDING_LOG = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local limit = tonumber(ARGV[1])
local window_ms = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window_ms)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window_ms)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tonumber(oldest[2]) + window_ms - now_ms
"""


def pool_options() -> dict[str, Any]:
    timeout = settings.REDIS_TIMEOUT
    return {
        "max_connections": settings.REDIS_MAX_CONNECTIONS,
        "timeout": settings.REDIS_QUEUE_TIMEOUT,  # waiting for a free connection of the pool
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }


def build_async_client() -> redis.asyncio.Redis:
    pool = redis.asyncio.BlockingConnectionPool.from_url(settings.REDIS_URL, **pool_options())
    return redis.asyncio.Redis.from_pool(pool)


async def close_async_client(client: redis.asyncio.Redis) -> None:
    await client.aclose()


class RedisStore:
    name = "redis"

    def __init__(self) -> None:
        self.prefix = settings.REDIS_KEY_PREFIX
        self.clients = LoopClients(build_async_client, close_async_client)
        self.sync_client = redis.Redis.from_pool(
            redis.BlockingConnectionPool.from_url(settings.REDIS_URL, **pool_options())
        )
        self.script = self.sync_client.register_script(SLIDING_LOG)
        self.failed_until = 0.0  # monotonic time before which calls fail at once
        # Per event loop: its calls' turns on the loop's REDIS_MAX_CONNECTIONS connections.
        self.turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self.turns = weakref.WeakKeyDictionary()

    def hit(self, key: str, limit: int, window: float) -> Hit:
        if _on_event_loop():
            # Ninja calls a throttle synchronously; on the loop this would stop every other
            # request while Redis answers (ratelimit/operation.py awaits ahit instead).
            raise RuntimeError("A sync Redis call on the event loop; use `await ahit()`")
        with self.failures("counting"):
            wait_ms = self.script(keys=[self.key(key)], args=self.hit_args(limit, window))
        return Hit(wait_ms == 0, wait_ms / 1000)

    async def ahit(self, key: str, limit: int, window: float) -> Hit:
        async with self.call("counting") as client:
            keys, args = [self.key(key)], self.hit_args(limit, window)
            try:
                wait_ms = await client.evalsha(self.script.sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:  # a restarted Redis forgot it
                wait_ms = await client.eval(SLIDING_LOG, len(keys), *keys, *args)
        return Hit(wait_ms == 0, wait_ms / 1000)

    async def aget(self, key: str) -> bytes | None:
        async with self.call("reading") as client:
            value = await client.get(self.key(key))
        return value if isinstance(value, bytes) else None

    async def aset(self, key: str, value: bytes, ttl: float) -> None:
        async with self.call("writing") as client:
            await client.set(self.key(key), value, px=max(1, int(ttl * 1000)))

    async def aping(self) -> None:
        self.failed_until = 0.0  # a probe always asks
        async with self.call("pinging") as client:
            await client.ping()

    def clear(self) -> None:
        self.failed_until = 0.0
        keys = list(self.sync_client.scan_iter(match=f"{self.prefix}*", count=1000))
        if keys:
            self.sync_client.delete(*keys)

    def key(self, key: str) -> str:
        return f"{self.prefix}{key}"

    @staticmethod
    def hit_args(limit: int, window: float) -> list[int | str]:
        return [limit, max(1, int(window * 1000)), secrets.token_hex(8)]

    @contextlib.asynccontextmanager
    async def call(self, doing: str) -> AsyncIterator[redis.asyncio.Redis]:
        """The loop's client for one call: its turn on a connection first (bounded by
        REDIS_QUEUE_TIMEOUT, not a Redis failure), then REDIS_TIMEOUT for Redis itself."""
        self.fail_fast_after_a_failure()
        loop = asyncio.get_running_loop()
        turns = self.turns.get(loop)
        if turns is None:
            turns = self.turns[loop] = asyncio.Semaphore(settings.REDIS_MAX_CONNECTIONS)
        try:
            async with asyncio.timeout(settings.REDIS_QUEUE_TIMEOUT):
                await turns.acquire()
        except TimeoutError:
            raise StoreUnavailable(
                f"no Redis connection free within REDIS_QUEUE_TIMEOUT ({doing})"
            ) from None
        try:
            with self.failures(doing):
                # The sockets' timeouts bound each read; this bounds the whole call.
                async with self.clients.for_request() as client:
                    async with asyncio.timeout(settings.REDIS_TIMEOUT):
                        yield client
        finally:
            turns.release()

    def fail_fast_after_a_failure(self) -> None:
        if time.monotonic() < self.failed_until:
            raise StoreUnavailable(f"Redis failed less than {_retry_interval():g} s ago")

    @contextlib.contextmanager
    def failures(self, doing: str) -> Iterator[None]:
        """Redis's errors and timeouts as StoreUnavailable; after one, fail at once for a while."""
        self.fail_fast_after_a_failure()
        try:
            yield
        except (redis.RedisError, OSError, TimeoutError) as error:
            self.failed_until = time.monotonic() + _retry_interval()
            raise StoreUnavailable(f"Redis {doing} failed: {type(error).__name__}") from error


def _retry_interval() -> float:
    interval: float = settings.REDIS_RETRY_INTERVAL
    return interval


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
