"""What awaiting the rate-limit check saves: `python -m bench.ratelimit` (Redis at REDIS_URL).

The same Redis check three ways: awaited on the event loop (what the project does), a sync
call on the loop (Ninja's throttles on Django's Redis cache), and a sync call in a thread
(sync_to_async). Prints the CPU per check, and the time 100 checks at once take on one
event loop, against Redis as it is and behind a proxy adding latency each way (a Redis
across a network): the sync call on the loop holds every other request up for its whole
round trip.
"""

import argparse
import asyncio
import os
import time
import urllib.parse
from collections.abc import Awaitable, Callable

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")
os.environ.setdefault("REDIS_KEY_PREFIX", "bench-ratelimit:")
django.setup()

from asgiref.sync import sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402

from keyvalue.redis_store import RedisStore  # noqa: E402
from tests.latency_proxy import latency_proxy  # noqa: E402

from {{ cookiecutter.project_slug }}.runtime.loop_clients import mark_loop_long_lived  # noqa: E402

LIMIT, WINDOW = 10**9, 60.0  # never refused: every check does the same work
Check = Callable[[str], Awaitable[object]]


def checks(store: RedisStore) -> dict[str, Check]:
    def sync_check(key: str) -> object:
        args = store.hit_args(LIMIT, WINDOW)
        return store.script(keys=[store.key(key)], args=args)

    async def on_the_loop(key: str) -> object:
        return sync_check(key)  # blocks the loop for the round trip

    return {
        "awaited (the project)": lambda key: store.ahit(key, LIMIT, WINDOW),
        "sync call on the loop": on_the_loop,
        "sync call in a thread": sync_to_async(sync_check, thread_sensitive=False),
    }


async def cpu_per_check(check: Check, count: int) -> float:
    for n in range(50):  # warm up: connections, script cache
        await check(f"warm{n}")
    started = time.process_time()
    for n in range(count):
        await check(f"cpu{n % 100}")
    return (time.process_time() - started) / count * 1e6


async def wall_for_concurrent(check: Check, count: int) -> float:
    await asyncio.gather(*(check(f"warm{n}") for n in range(count)))  # open the connections
    started = time.perf_counter()
    await asyncio.gather(*(check(f"wall{n}") for n in range(count)))
    return (time.perf_counter() - started) * 1000


def run(url: str, count: int, concurrent: int) -> dict[str, tuple[float, float]]:
    settings.REDIS_URL = url
    settings.REDIS_TIMEOUT = 30.0  # measure, never fail open
    settings.REDIS_MAX_CONNECTIONS = concurrent
    store = RedisStore()

    async def measure() -> dict[str, tuple[float, float]]:
        await mark_loop_long_lived()  # as under uvicorn: one client for the loop
        results = {}
        for name, check in checks(store).items():
            cpu = await cpu_per_check(check, count)
            wall = await wall_for_concurrent(check, concurrent)
            results[name] = (cpu, wall)
        await store.clients.close_all()
        store.clear()
        return results

    return asyncio.run(measure())


def burst(count: int) -> tuple[int, int]:
    """`count` checks at once on one loop with the shipped timeouts and pool: how many Redis
    counted, and how many failed open."""
    store = RedisStore()

    async def measure() -> tuple[int, int]:
        await mark_loop_long_lived()
        outcomes = await asyncio.gather(
            *(store.ahit("burst", LIMIT, WINDOW) for _ in range(count)), return_exceptions=True
        )
        counted = int(store.sync_client.zcard(store.key("burst")))
        await store.clients.close_all()
        store.clear()
        return counted, sum(isinstance(outcome, Exception) for outcome in outcomes)

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit", description=__doc__)
    parser.add_argument("--checks", type=int, default=2000, help="checks timed for the CPU")
    parser.add_argument("--latency-ms", type=float, default=1.0, help="added each way")
    args = parser.parse_args()
    concurrent = 100
    parsed = urllib.parse.urlsplit(settings.REDIS_URL)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 6379

    counted, failed = burst(1000)
    print(
        f"1000 checks at once on one loop (REDIS_TIMEOUT={settings.REDIS_TIMEOUT:g} s, "
        f"{settings.REDIS_MAX_CONNECTIONS} connections): {counted} counted, {failed} failed open"
    )
    print(f"rate-limit check against Redis ({host}:{port}), {concurrent} at once on one loop:")
    direct = run(settings.REDIS_URL, args.checks, concurrent)
    with latency_proxy(host, port, args.latency_ms / 1000) as proxy_port:
        credentials, at, _ = parsed.netloc.rpartition("@")
        netloc = f"{credentials}{at}127.0.0.1:{proxy_port}"
        far = urllib.parse.urlunsplit(parsed._replace(netloc=netloc))
        slow = run(far, max(100, args.checks // 10), concurrent)
    for name in direct:
        cpu, wall = direct[name]
        _, slow_wall = slow[name]
        print(
            f"  {name:24} {cpu:5.0f} us CPU per check; {concurrent} at once: {wall:6.1f} ms, "
            f"{slow_wall:7.1f} ms with +{args.latency_ms:g} ms each way"
        )


if __name__ == "__main__":
    main()
