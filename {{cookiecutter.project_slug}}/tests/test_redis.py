"""The shared Redis (REDIS_URL, 127.0.0.1:6379 unless set): one count for every worker, no
request held up by a slow Redis, and no outage when it is down.

Every test works under this run's key prefix (tests/settings.py), emptied around each test.
"""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from allauth.account.models import EmailAddress
from django.conf import LazySettings, settings
from django.core.cache import cache
from django.test import AsyncClient, Client
from django.utils.module_loading import import_string

from accounts.models import User
from keyvalue import StoreUnavailable, get_store
from keyvalue.redis_store import RedisStore

from {{ cookiecutter.project_slug }} import health

from .conftest import WrittenLines, wait_until
from .latency_proxy import latency_proxy
from .processes import database_url, stop

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_DIR = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_address() -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(settings.REDIS_URL)
    return parsed.hostname or "127.0.0.1", parsed.port or 6379


@contextlib.contextmanager
def served(log_path: Path, workers: int, **environment: str) -> Iterator[str]:
    """`scripts/serve` (the production server) with `workers` processes; yields its URL. The
    tests' settings, for their endpoints (tests/probe.py, limited by PROBE_RATE)."""
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "SECRET_KEY": "served-in-tests-" + "s" * 50,
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "OUTBOX_WORKER": "false",
        "LOG_FLUSH_INTERVAL": "0",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": str(workers),
        "TESTS_REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX,
        **environment,
    }
    with log_path.open("w") as log:
        server = subprocess.Popen(
            ["sh", "scripts/serve"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=log
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while log_path.read_text().count("Application startup complete") < workers:
            assert server.poll() is None, f"server exited:\n{log_path.read_text()}"
            assert time.monotonic() < deadline, f"not up in 60 s:\n{log_path.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        stop(server)


async def statuses_of(url: str, count: int, concurrency: int = 20) -> list[int]:
    # A connection per request, so that the kernel hands them to both workers.
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        responses = await asyncio.gather(*(client.get(url) for _ in range(count)))
    return [response.status_code for response in responses]


def test_two_workers_let_through_the_limit_once(tmp_path: Path) -> None:
    with served(tmp_path / "serve.log", workers=2, PROBE_RATE="100/m") as url:
        statuses = asyncio.run(statuses_of(f"{url}/api/probe/async", 400))

    # Counted per process, two workers let 200 through.
    assert 90 <= statuses.count(200) <= 100
    assert statuses.count(200) + statuses.count(429) == 400


def login_errors(url: str, password: str) -> list[str]:
    """A login to allauth's app client, under the site's one host name; its error codes."""
    body = {"username": "kit", "password": password}
    headers = {"Host": "127.0.0.1"}
    login = f"{url}/_allauth/app/v1/auth/login"
    answer = httpx.post(login, json=body, headers=headers, timeout=30).json()
    return [error["code"] for error in answer.get("errors", [])]


def test_failed_logins_are_counted_once_for_every_server_process(tmp_path: Path) -> None:
    """allauth's limits count in Django's cache, Redis here: 3 wrong passwords sent to one
    server process and 2 to another make the 5 that refuse the right one, on both. (Counted
    in each process's memory, neither would have seen 5: the right password would get in.)"""
    user = User.objects.create_user("kit", "kit@example.com", "the right passphrase")
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    database = database_url()

    with (
        served(tmp_path / "first.log", workers=1, DATABASE_URL=database) as first,
        served(tmp_path / "second.log", workers=1, DATABASE_URL=database) as second,
    ):
        wrong = [login_errors(url, "a guess") for url in (first, first, first, second, second)]
        right = [login_errors(url, "the right passphrase") for url in (first, second)]

    assert wrong == [["username_password_mismatch"]] * 5
    assert right == [["too_many_login_attempts"]] * 2


async def slow_and_quick_calls(url: str) -> list[tuple[int, float]]:
    """50 calls that wait 1 s and 200 that do not, at once: each one's status, and when
    it ended (seconds from the start)."""
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=300), timeout=60) as client:
        await client.get(f"{url}/api/probe/async")  # the worker's Redis client is made
        started = time.monotonic()

        async def timed(delay: int) -> tuple[int, float]:
            response = await client.get(f"{url}/api/probe/async", params={"delay": delay})
            return response.status_code, time.monotonic() - started

        return await asyncio.gather(*(timed(1) for _ in range(50)), *(timed(0) for _ in range(200)))


def test_a_slow_redis_holds_up_no_other_request(tmp_path: Path) -> None:
    """Redis 50 ms away each way: every request's check waits 100 ms, but on its own; a sync
    call on the event loop would queue 250 of them one after the other (25 s)."""
    with latency_proxy(*redis_address(), delay=0.05) as port:
        environment = {
            "REDIS_URL": f"redis://127.0.0.1:{port}/{settings.REDIS_URL.rsplit('/', 1)[-1]}",
            "REDIS_TIMEOUT": "5",  # measure the waits, do not fail open
            "PROBE_RATE": "100000/m",
        }
        with served(tmp_path / "serve.log", workers=1, **environment) as url:
            results = asyncio.run(slow_and_quick_calls(url))
        log = (tmp_path / "serve.log").read_text()

    delayed = [ended for _, ended in results[:50]]
    assert {status for status, _ in results} == {200}
    assert "failed open" not in log
    # Together, not one after the other: checks taking turns on the loop would spread them
    # over 250 round trips of 0.1 s (25 s). Bounds with room for a loaded machine.
    assert max(delayed) - min(delayed) < 5.0
    assert max(ended for _, ended in results) < 10.0


def test_with_redis_down_the_api_answers_and_the_log_says_why(
    tmp_path: Path, unused_port: int
) -> None:
    environment = {"REDIS_URL": f"redis://127.0.0.1:{unused_port}/0", "PROBE_RATE": "1/m"}
    with served(tmp_path / "serve.log", workers=1, **environment) as url:
        statuses = asyncio.run(statuses_of(f"{url}/api/probe/async", 5, concurrency=1))
        lines = [line for line in (tmp_path / "serve.log").read_text().splitlines()]

    assert statuses == [200] * 5  # a limit of 1/m: none of them could be counted
    (failed_open,) = [line for line in lines if "failed open" in line]
    assert "Redis counting failed: ConnectionError" in failed_open
    assert str(unused_port) not in failed_open  # no connection details in the log


@pytest.fixture
def unused_port() -> Iterator[int]:
    """A port nothing listens on, held bound (not listening) for the whole test, so that a
    connection to it is refused and no server started by the test can be given it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture
def redis_at(settings: LazySettings) -> Iterator[object]:
    """Point the store and Django's cache at another URL for one test."""

    def point(url: str, **options: float) -> RedisStore:
        settings.REDIS_URL = url
        for name, value in options.items():
            setattr(settings, name, value)
        settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
        get_store.cache_clear()
        store = get_store()
        assert isinstance(store, RedisStore)
        return store

    yield point
    get_store.cache_clear()


async def test_ready_reports_the_cache_and_requires_it_only_when_told(
    redis_at: object, unused_port: int, settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = {"database": health.check_database, "cache": health.check_cache}
    monkeypatch.setattr(health, "ready_checks", lambda: checks)  # search has tests of its own
    up = await AsyncClient().get("/api/ready")
    redis_at(f"redis://127.0.0.1:{unused_port}/0")  # type: ignore[operator]
    down = await AsyncClient().get("/api/ready")
    settings.READY_REQUIRES_CACHE = True
    required = await AsyncClient().get("/api/ready")

    assert (up.status_code, up.json()["checks"]["cache"]) == (200, "ok")
    assert down.status_code == 200
    assert down.json()["checks"]["cache"] == "failed: StoreUnavailable"
    assert required.status_code == 503


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers: a Redis that hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


async def test_a_redis_that_hangs_costs_a_check_the_timeout_then_nothing(
    redis_at: object,
) -> None:
    with silent_server() as port:
        store = redis_at(f"redis://127.0.0.1:{port}/0", REDIS_TIMEOUT=0.3)  # type: ignore[operator]
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="counting failed: TimeoutError"):
            await store.ahit("hangs", 10, 60)
        waited = time.monotonic() - started
        with pytest.raises(StoreUnavailable, match="failed less than 1 s ago"):
            await store.ahit("hangs", 10, 60)  # at once, without asking Redis again
        await store.clients.close_all()

    assert 0.3 <= waited < 10  # the timeout bounds it (on a loaded machine, loosely)


def test_djangos_cache_reads_a_dead_redis_as_a_miss(
    redis_at: object, unused_port: int, written_lines: WrittenLines
) -> None:
    cache.set("kept", "value")
    assert cache.get("kept") == "value"
    redis_at(f"redis://127.0.0.1:{unused_port}/0")  # type: ignore[operator]

    assert cache.get("kept", "missing") == "missing"
    cache.set("kept", "other")  # logged, not raised
    assert any("Cache write failed (ConnectionError)" in line for line in written_lines())


def test_sessions_live_in_redis_and_outlast_it(
    redis_at: object, unused_port: int, alice: User
) -> None:
    browser = Client()
    browser.force_login(alice)
    store = get_store()
    assert isinstance(store, RedisStore)
    cached = list(store.sync_client.scan_iter(f"{settings.REDIS_KEY_PREFIX}*"))
    redis_at(f"redis://127.0.0.1:{unused_port}/0")  # type: ignore[operator]

    caller = browser.get("/api/probe/me")

    assert any(b"django.contrib.sessions.cached_db" in key for key in cached)
    # Still signed in: the session came from the database.
    assert caller.json() == {"username": alice.username}


async def test_the_lifespan_closes_the_loops_redis_client() -> None:
    store = get_store()
    assert isinstance(store, RedisStore)
    incoming = asyncio.Queue[dict[str, Any]]()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def started() -> bool:
        return sent == [{"type": "lifespan.startup.complete"}]

    async def hit_then_stop() -> None:
        await wait_until(started)
        await store.ahit("lifespan", 10, 60)  # the served loop's own client, kept
        kept = list(store.clients.clients.values())
        assert len(kept) == 1
        await kept[0].ping()
        await incoming.put({"type": "lifespan.shutdown"})

    await incoming.put({"type": "lifespan.startup"})
    application = import_string(settings.ASGI_APPLICATION)
    await asyncio.gather(
        application({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send),
        hit_then_stop(),
    )

    assert sent[-1] == {"type": "lifespan.shutdown.complete"}
    assert store.clients.clients == {}


async def test_a_sync_redis_call_on_the_event_loop_is_refused() -> None:
    store = get_store()

    with pytest.raises(RuntimeError, match="sync Redis call on the event loop"):
        store.hit("on-the-loop", 10, 60)
