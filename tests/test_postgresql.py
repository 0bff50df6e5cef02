"""A PostgreSQL project under real uvicorn: concurrent async ORM reads stay within the pool."""

import asyncio
import os
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from conftest import (
    NO_WRITE_THROTTLE,
    BakedProject,
    Server,
    bake_and_install,
    count_published_posts,
    create_then_publish,
    running_uvicorn,
)

pytestmark = pytest.mark.slow

POOL_MAX_SIZE = 10
SEEDED_POSTS = 50


@pytest.fixture(scope="module")
def postgres_project(cookies_session, postgres_databases: Callable[[], str]) -> BakedProject:
    project = bake_and_install(cookies_session, postgres_databases, database="postgresql")
    project.extra_env["DATABASE_POOL_MAX_SIZE"] = str(POOL_MAX_SIZE)
    project.uv_run("python", "manage.py", "migrate", "--no-input")
    project.uv_run("python", "manage.py", "seed_posts", "--count", str(SEEDED_POSTS))
    return project


@pytest.fixture(scope="module")
def staff_token(postgres_project: BakedProject) -> str:
    """Staff see drafts too, so every seeded post answers 200."""
    return postgres_project.api_token("reader", staff=True)


@pytest.fixture
def postgres_server(postgres_project: BakedProject, tmp_path: Path) -> Iterator[Server]:
    with running_uvicorn(postgres_project, tmp_path / "uvicorn.log") as server:
        yield server


class ConnectionWatcher(threading.Thread):
    """Samples pg_stat_activity for one database every few milliseconds."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database = database_url.rsplit("/", 1)[1]
        self.admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
        self.samples: list[int] = []
        self.stopped = threading.Event()

    def count(self, admin: psycopg.Connection) -> int:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (self.database,)
        ).fetchone()
        assert row is not None
        return int(row[0])

    def run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            while not self.stopped.is_set():
                self.samples.append(self.count(admin))
                time.sleep(0.005)


async def fetch_posts(url: str, count: int, token: str) -> list[tuple[int, float]]:
    limits = httpx.Limits(max_connections=count)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:

        async def one(n: int) -> tuple[int, float]:
            started = time.perf_counter()
            response = await client.get(f"{url}/api/blog/posts/{n % SEEDED_POSTS + 1}")
            return response.status_code, time.perf_counter() - started

        return await asyncio.gather(*(one(n) for n in range(count)))


def test_200_concurrent_reads_succeed_within_the_pool(
    postgres_project: BakedProject, postgres_server: Server, staff_token: str
) -> None:
    watcher = ConnectionWatcher(postgres_project.extra_env["DATABASE_URL"])
    watcher.start()
    results = asyncio.run(fetch_posts(postgres_server.url, 200, staff_token))
    time.sleep(0.2)
    watcher.stopped.set()
    watcher.join()

    statuses = [status for status, _ in results]
    latencies = sorted(seconds * 1000 for _, seconds in results)
    p50, p99 = statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"\n200 concurrent GET /api/blog/posts/{{id}} with a token on PostgreSQL: "
        f"failures={sum(s != 200 for s in statuses)} p50={p50:.0f}ms p99={p99:.0f}ms "
        f"max={latencies[-1]:.0f}ms connections_seen_max={max(watcher.samples)} "
        f"(pool max {POOL_MAX_SIZE}, {len(watcher.samples)} samples)"
    )
    assert statuses == [200] * 200
    assert max(watcher.samples) <= POOL_MAX_SIZE
    assert watcher.samples[-1] <= POOL_MAX_SIZE


def test_200_concurrent_creates_then_publishes_all_succeed(
    postgres_project: BakedProject, tmp_path: Path
) -> None:
    token = postgres_project.api_token("pg-writer")
    log = tmp_path / "uvicorn.log"
    with running_uvicorn(postgres_project, log, env=NO_WRITE_THROTTLE) as server:
        outcome = asyncio.run(create_then_publish(server.url, token, 200))

    assert outcome.server_errors() == 0, log.read_text()[-3000:]
    assert outcome.create_statuses == [201] * 200
    assert outcome.publish_statuses == [200] * 200
    assert count_published_posts(postgres_project, "pg-writer") == 200


async def publish_crosswise(url: str, token: str, first: int, second: int) -> list[int]:
    """100 concurrent publishes, half of [first, second], half of [second, first]."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(limits=limits, timeout=120, headers=headers) as client:
        responses = await asyncio.gather(
            *(
                client.post(
                    f"{url}/api/blog/posts/publish",
                    json={"ids": [first, second] if n % 2 else [second, first]},
                )
                for n in range(100)
            )
        )
    return [r.status_code for r in responses]


def test_crosswise_publishes_do_not_deadlock(
    postgres_project: BakedProject, staff_token: str, tmp_path: Path
) -> None:
    # Without one lock order, PostgreSQL aborts one of each crossing pair (DeadlockDetected).
    log = tmp_path / "uvicorn.log"
    with running_uvicorn(postgres_project, log, env=NO_WRITE_THROTTLE) as server:
        statuses = asyncio.run(publish_crosswise(server.url, staff_token, 1, 2))

    assert statuses == [200] * 100, log.read_text()[-3000:]


class SilentDatabase(threading.Thread):
    """Accepts connections and never answers: a database that hangs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []

    def run(self) -> None:
        while True:
            try:
                self.accepted.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


PROBES = 40


def probe_concurrently(url: str, count: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: httpx.get(f"{url}/api/ready", timeout=10), range(count)))


def thread_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_probes_of_a_hung_database_leave_nothing_running(
    postgres_project: BakedProject, tmp_path: Path
) -> None:
    database = SilentDatabase()
    database.start()
    env = {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{database.port}/hung",
        "READY_CHECK_TIMEOUT": "1",
        "DATABASE_CONNECT_TIMEOUT": "1",
        "DATABASE_POOL_TIMEOUT": "60",  # for requests; a probe must not wait that long
        # Idle request threads are kept for reuse (runtime/handler.py): few here, so that a
        # thread a probe leaves behind is not mistaken for one the pool keeps on purpose.
        "ASGI_THREADS_KEPT": "4",
    }
    log = tmp_path / "uvicorn.log"
    try:
        with running_uvicorn(postgres_project, log, env=env) as server:
            pid = server.process.pid
            first = probe_concurrently(server.url, 20)
            time.sleep(3)  # the probes' time is up: nothing of theirs may still run
            before = thread_count(pid)
            probes = probe_concurrently(server.url, PROBES)
            time.sleep(3)
            after = thread_count(pid)
            server.process.send_signal(signal.SIGTERM)
            exit_code = server.process.wait(timeout=15)  # no wait for hung work
    finally:
        database.close()

    print(f"\nhung database: threads {before} before {PROBES} more probes, {after} 3 s after")
    assert [r.status_code for r in [*first, *probes]] == [503] * (20 + PROBES)
    assert all(r.json()["checks"]["database"] != "ok" for r in probes)
    # Pools may still grow to their bound (the event loop's default executor, which the
    # search client's DNS lookups use, holds up to min(32, CPUs + 4) threads; the handler
    # keeps ASGI_THREADS_KEPT, already there after the first round); a probe that left its
    # thread behind would add one per probe, PROBES in all.
    assert after - before <= min(32, (os.cpu_count() or 1) + 4) < PROBES, log.read_text()[-2000:]
    assert exit_code in (0, -signal.SIGTERM)
