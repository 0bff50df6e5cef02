"""GET /api/health (liveness) and GET /api/ready (readiness), for load balancers and containers.

health touches nothing: it answers as long as the process serves requests. ready checks
every dependency at once (asyncio.gather), each bounded by READY_CHECK_TIMEOUT: the
database and the cache here, and any app's `async def ready_check()` (search/apps.py), so
a slow or dead dependency makes a 503 that names it instead of a hanging probe. The cache
is shown but, unless READY_REQUIRES_CACHE, not required: the API serves without it
(rate limits fail open, reads miss); an app's check likewise when its config says
`ready_required = False`. It also shows the
task queue (work such as indexing that waits for a worker); a queue does not make the
process unready, since serving does not depend on it.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.apps import apps
from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from keyvalue import get_store
from outbox import store

router = Router(tags=["health"])

Check = Callable[[], Awaitable[None]]
PROBE_METHODS = ["HEAD", "OPTIONS"]


class Health(Schema):
    status: str


class TaskQueue(Schema):
    due: int = Field(description="Tasks due now, waiting for a worker.")
    oldest_due_seconds: float | None = Field(description="How long the oldest of them waited.")
    failed: int = Field(description="Tasks given up on (see the admin).")


class Readiness(Schema):
    status: str
    checks: dict[str, str]
    tasks: TaskQueue | None = Field(description="None when the database did not answer.")


def _query_database() -> None:
    pool = getattr(connection, "pool", None)
    if pool is not None:
        # PostgreSQL's pool: wait for a connection no longer than the probe waits, so that a
        # database that never answers leaves no probe thread behind (the pool's own timeout
        # is for requests, and longer).
        pool.open()  # as Django does before it takes a connection (a no-op once open)
        with pool.connection(timeout=settings.READY_CHECK_TIMEOUT) as pooled:
            pooled.execute("SELECT 1")
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def check_database() -> None:
    await sync_to_async(_query_database)()


async def check_cache() -> None:
    await get_store().aping()


def optional_checks() -> set[str]:
    """Checks shown in the answer that do not make it a 503."""
    # Only the redis bake has the setting: the local store lives in this process.
    optional = set() if getattr(settings, "READY_REQUIRES_CACHE", True) else {"cache"}
    for config in apps.get_app_configs():
        if not getattr(config, "ready_required", True):
            optional.add(config.label)
    return optional


def ready_checks() -> dict[str, Check]:
    checks: dict[str, Check] = {"database": check_database, "cache": check_cache}
    for config in apps.get_app_configs():
        if hasattr(config, "ready_check"):
            checks[config.label] = config.ready_check
    return checks


async def run_check(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), timeout=settings.READY_CHECK_TIMEOUT)
    except TimeoutError:
        return f"timed out after {settings.READY_CHECK_TIMEOUT:g} s"
    except Exception as exc:  # any failure means not ready; say which kind, not its internals
        return f"failed: {type(exc).__name__}"
    return "ok"


@router.get("/health", response=Health)
async def health(request: HttpRequest) -> Health:
    """Liveness: the process answers. Checks no dependency."""
    return Health(status="ok")


# Public and unthrottled, the probe costs queries and an engine call: its checks run at most
# once per READY_CACHE_SECONDS per process. Probes that come while they run share that run,
# and those within READY_CACHE_SECONDS of its end its answer (an outage shows that late).
_last_answer: tuple[float, Status[Readiness]] | None = None  # when it was made, and it
_running: asyncio.Future[Status[Readiness]] | None = None


@router.get("/ready", response={200: Readiness, 503: Readiness})
async def ready(request: HttpRequest) -> Status[Readiness]:
    """Readiness: every required dependency answered within READY_CHECK_TIMEOUT seconds
    (checked at most once per READY_CACHE_SECONDS)."""
    global _running
    if _last_answer and time.monotonic() - _last_answer[0] < settings.READY_CACHE_SECONDS:
        return _last_answer[1]
    if _running is None or _running.get_loop() is not asyncio.get_running_loop():
        _running = asyncio.ensure_future(check_and_keep())
    # Shielded: a probe whose client goes away does not stop the run the others wait for.
    return await asyncio.shield(_running)


async def check_and_keep() -> Status[Readiness]:
    global _last_answer, _running
    try:
        answer = await check_readiness()
        _last_answer = (time.monotonic(), answer)
        return answer
    finally:
        _running = None


async def check_readiness() -> Status[Readiness]:
    checks = ready_checks()
    results = await asyncio.gather(*(run_check(check) for check in checks.values()))
    outcome = dict(zip(checks, results, strict=True))
    queue = await waiting_work() if outcome.get("database") == "ok" else None
    optional = optional_checks()
    ok = all(result == "ok" for name, result in outcome.items() if name not in optional)
    answer = Readiness(status="ok" if ok else "unavailable", checks=outcome, tasks=queue)
    return Status(200 if ok else 503, answer)


async def waiting_work() -> TaskQueue | None:
    """The task queue, in one trip to the database's thread."""
    try:
        async with asyncio.timeout(settings.READY_CHECK_TIMEOUT):
            queue = await sync_to_async(store.queue_state)()
    except Exception:  # the database failed meanwhile: the checks say so next time
        return None
    return TaskQueue(**vars(queue))


# Some load balancers probe with HEAD or OPTIONS: the same answers (uvicorn sends no body
# to a HEAD). Left out of the schema, which documents GET.
@router.api_operation(PROBE_METHODS, "/health", response=Health, include_in_schema=False)
async def health_other_methods(request: HttpRequest) -> Health:
    return await health(request)


@router.api_operation(
    PROBE_METHODS, "/ready", response={200: Readiness, 503: Readiness}, include_in_schema=False
)
async def ready_other_methods(request: HttpRequest) -> Status[Readiness]:
    return await ready(request)
