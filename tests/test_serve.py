"""The default project under a real uvicorn, talked to over TCP."""

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import BakedProject, Server, free_port, running_uvicorn, wait_until_up

pytestmark = pytest.mark.slow


def test_both_endpoints_answer_over_tcp(uvicorn_server: Server) -> None:
    for path in ("/api/say-sync", "/api/say-async"):
        response = httpx.get(f"{uvicorn_server.url}{path}", params={"delay": 0.1, "word": "tcp"})

        assert response.status_code == 200, path
        assert response.json() == {"saying": "tcp"}


def test_bad_delay_is_a_422_over_tcp(uvicorn_server: Server) -> None:
    response = httpx.get(f"{uvicorn_server.url}/api/say-async", params={"delay": -1})

    assert response.status_code == 422


def test_api_docs_and_their_assets_are_served_locally(uvicorn_server: Server) -> None:
    docs = httpx.get(f"{uvicorn_server.url}/api/docs")
    schema = httpx.get(f"{uvicorn_server.url}/api/openapi.json")
    bundle = httpx.get(f"{uvicorn_server.url}/static/ninja/swagger-ui-bundle.js")

    assert docs.status_code == 200 and "/static/ninja/swagger-ui-bundle.js" in docs.text
    assert {"/api/say-sync", "/api/say-async"} <= set(schema.json()["paths"])
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


def test_a_token_from_the_command_writes_over_tcp(
    default_project: BakedProject, uvicorn_server: Server
) -> None:
    token = default_project.api_token("writer")
    posts = f"{uvicorn_server.url}/api/blog/posts"

    anonymous = httpx.post(posts, json={"title": "from nobody"})
    created = httpx.post(
        posts, json={"title": "from a token"}, headers={"Authorization": f"Bearer {token}"}
    )
    draft = f"{posts}/{created.json()['id']}"

    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert created.status_code == 201 and created.json()["author"] == "writer"
    assert httpx.get(draft).status_code == 404  # a draft: not for anonymous eyes
    assert httpx.get(draft, headers={"Authorization": f"Bearer {token}"}).status_code == 200


async def fire(url: str, count: int, delay: float) -> tuple[list[int], float]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.get(url, params={"delay": delay, "word": "hi"}) for _ in range(count))
        )
        return [r.status_code for r in responses], time.perf_counter() - started


def test_100_concurrent_async_calls_finish_together(uvicorn_server: Server) -> None:
    statuses, elapsed = asyncio.run(fire(f"{uvicorn_server.url}/api/say-async", 100, 1.0))

    assert statuses == [200] * 100
    # Served one by one this takes 100 s; concurrently about 1 s. The bound only rules out
    # serialisation, it is not a benchmark (see the baked project's bench command).
    assert elapsed < 15


def test_sigterm_shuts_down_cleanly_through_lifespan(uvicorn_server: Server) -> None:
    uvicorn_server.process.send_signal(signal.SIGTERM)
    exit_code = uvicorn_server.process.wait(timeout=30)
    log = uvicorn_server.log()

    # uvicorn re-raises the signal after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert exit_code in (0, -signal.SIGTERM), log
    assert "Finished server process" in log
    assert "Application shutdown complete" in log
    assert "lifespan unsupported" not in log.lower()
    assert "Traceback" not in log


def test_log_lines_still_waiting_are_written_on_sigterm(
    default_project: BakedProject, tmp_path: Path
) -> None:
    # Lines wait up to LOG_FLUSH_INTERVAL; uvicorn's SIGTERM exit skips logging's atexit
    # flush, so the lifespan shutdown must write them. Without the task worker: a WARNING
    # writes the waiting lines at once, and the worker warns about tasks that earlier tests
    # left for a search engine that is not running (CI caught it doing so before the read).
    log_path = tmp_path / "uvicorn.log"
    env = {"LOG_FLUSH_INTERVAL": "600", "OUTBOX_WORKER": "false"}
    with running_uvicorn(default_project, log_path, env=env) as server:
        ids = [
            httpx.get(f"{server.url}/api/say-async", params={"delay": 0}).headers["X-Request-ID"]
            for _ in range(3)
        ]
        waiting = server.log()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        log = server.log()

    assert not any(request_id in waiting for request_id in ids), waiting
    assert all(request_id in log for request_id in ids), log


async def abandon(url: str, count: int, after: float) -> None:
    """`count` requests whose client gives up after `after` seconds."""
    async with httpx.AsyncClient(timeout=after) as client:
        results = await asyncio.gather(
            *(client.get(url, params={"delay": 5}) for _ in range(count)), return_exceptions=True
        )
    assert all(isinstance(result, httpx.TimeoutException) for result in results), results


def test_production_server_writes_only_json_lines_and_logs_abandoned_requests(
    default_project: BakedProject, tmp_path: Path
) -> None:
    """scripts/serve (the Dockerfile's CMD) with two workers: every line is JSON, uvicorn's
    supervisor and workers included, a request the client dropped is a 499 line, and the
    metrics that any one worker serves count the requests of both."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    env = {
        **default_project.env(),
        "PATH": f"{default_project.path / '.venv/bin'}{os.pathsep}{os.environ['PATH']}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "METRICS_TOKEN": "serve-test-token",
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["sh", "scripts/serve"], cwd=default_project.path, env=env, stdout=log, stderr=log
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", process, log_path)
        asyncio.run(abandon(f"http://127.0.0.1:{port}/api/say-async", 20, after=0.5))
        time.sleep(1)  # the access lines wait up to LOG_FLUSH_INTERVAL
        metrics = httpx.get(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": "Bearer serve-test-token"},
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    lines = log_path.read_text().splitlines()

    entries = [json.loads(line) for line in lines]  # fails on the first line that is not JSON
    messages = [entry["message"] for entry in entries]
    assert "Started parent process" in " ".join(messages)
    assert messages.count("Application shutdown complete.") == 2
    dropped = [entry for entry in entries if entry.get("status") == 499]
    assert len(dropped) == 20, lines
    assert all(entry["path"] == "/api/say-async" for entry in dropped)
    # Logged when the client left, not when the 5 s answer was due. No lower bound: on a busy
    # machine the server reads a request late, and its clock starts then.
    durations = [entry["duration_ms"] for entry in dropped]
    assert all(0 <= duration < 5000 for duration in durations), durations
    assert len({entry["request_id"] for entry in dropped}) == 20
    series = 'http_server_request_duration_seconds_count{method="GET",route="/api/say-async",'
    assert f'{series}status="499"}} 20.0' in metrics.text, metrics.text


async def held_in_flight(url: str, count: int, then: Callable[[], None]) -> list[int | str]:
    """`count` calls of say-async?delay=5 at once; `then()` runs once they are all in flight."""
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        calls = [
            asyncio.ensure_future(client.get(url, params={"delay": 5, "word": "drained"}))
            for _ in range(count)
        ]
        await asyncio.sleep(2)  # sent, and waiting on the server's sleep
        then()
        answers = await asyncio.gather(*calls, return_exceptions=True)
    return [a.status_code if isinstance(a, httpx.Response) else repr(a) for a in answers]


def test_sigterm_drains_requests_in_flight_and_hands_background_work_back(
    default_project: BakedProject, tmp_path: Path
) -> None:
    """scripts/serve with two workers and 40 requests in flight when SIGTERM comes (what a
    rolling update does to a pod): every request is answered 200, each worker runs its
    lifespan shutdown, the task a worker was running is handed back for the next process,
    and the server exits within its graceful timeout."""
    port, graceful = free_port(), 10
    env = {
        **default_project.env(),
        "PATH": f"{default_project.path / '.venv/bin'}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "tests.settings",  # for a task that runs until stopped
        "DATABASE_URL": f"sqlite:///{tmp_path / 'drain.sqlite3'}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "2",
        "GRACEFUL_TIMEOUT": str(graceful),
        "TASKS_STOP_GRACE": "2",  # then the task that never ends is handed back
        "SAY_AFTER_RATE": "",
        "DEBUG": "false",
        "OUTBOX_POLL_INTERVAL": "0.2",
    }
    python = str(default_project.path / ".venv/bin/python")
    default_project.run(python, "manage.py", "migrate", "--no-input", env=env)

    def shell(code: str) -> str:
        """The last line the code prints (log lines may come before it)."""
        out = default_project.run(python, "manage.py", "shell", "-c", code, env=env).stdout
        return out.strip().splitlines()[-1]

    task_id = shell("from tests.task_examples import waits_forever as t; print(t.enqueue().id)")
    row = f"from outbox.models import QueuedTask as Q; t = Q.objects.get(pk={task_id!r})"
    state = f"{row}; print(t.status, len(t.worker_ids))"

    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["sh", "scripts/serve"], cwd=default_project.path, env=env, stdout=log, stderr=log
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/api/health", process, log_path)
        deadline = time.monotonic() + 30
        while shell(state) != "RUNNING 1":
            assert time.monotonic() < deadline, f"no worker took the task\n{log_path.read_text()}"
            time.sleep(0.2)
        stopped: list[float] = []

        def terminate() -> None:
            stopped.append(time.monotonic())
            process.send_signal(signal.SIGTERM)

        url = f"http://127.0.0.1:{port}/api/say-async"
        statuses = asyncio.run(held_in_flight(url, 40, terminate))
        exit_code = process.wait(timeout=graceful + 20)
        took = time.monotonic() - stopped[0]
    finally:
        if process.poll() is None:
            process.kill()
    log = log_path.read_text()

    assert statuses == [200] * 40, statuses
    assert exit_code in (0, -signal.SIGTERM), log
    print(f"\nscripts/serve exited {took:.1f} s after SIGTERM")
    assert took < graceful, f"exited {took:.1f} s after SIGTERM"  # measured: 5.3 s
    assert log.count("Application shutdown complete.") == 2, log
    assert shell(state) == "READY 0"  # handed back, the attempt not counted
