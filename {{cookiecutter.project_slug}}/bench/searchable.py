"""How soon a new post can be found: `python -m bench.searchable` (or `make bench-search`).

Serves the project under uvicorn with the in-memory search engine of the tests, then has
WRITERS clients create published posts back to back through the API, each with a word of
its own. From each post's 201 on, it asks the engine (every POLL seconds, one query for all
the words still missing) whether the word is found, and prints percentiles of that
time-to-searchable, with the API's own latency for the writes (which never wait for the
engine). One post is written and found first: the index is made then, once per deployment.
"""

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.servers import PROJECT_DIR, PROJECT_SLUG, free_port, wait_until_up
from tests.search.engine import running_engine

POLL = 0.01  # seconds between looks at the engine
INDEX = "bench-posts"


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


async def found(engine: httpx.AsyncClient, words: list[str]) -> set[str]:
    """Which of the words the engine finds (titles are one word each)."""
    answer = await engine.post(
        f"/{INDEX}/_search",
        json={"query": {"terms": {"title": words}}, "size": len(words), "_source": ["title"]},
    )
    if answer.status_code != 200:  # no index yet
        return set()
    return {hit["_source"]["title"] for hit in answer.json()["hits"]["hits"]}


async def write_and_watch(
    api: httpx.AsyncClient, engine: httpx.AsyncClient, posts: int, writers: int
) -> tuple[list[float], list[float], float]:
    write_times: list[float] = []
    searchable_times: list[float] = []
    written: dict[str, float] = {}  # word -> when its 201 came
    numbers = iter(range(posts))

    async def write(word: str) -> None:
        started = time.perf_counter()
        response = await api.post("/api/blog/posts", json={"title": word, "published": True})
        response.raise_for_status()
        written[word] = time.perf_counter()
        write_times.append(written[word] - started)

    async def writer() -> None:
        for n in numbers:
            await write(f"word{n}x{secrets.token_hex(3)}")

    async def watch(until: asyncio.Task[float]) -> None:
        while not until.done() or written:
            if written:
                words = list(written)
                for word in await found(engine, words):
                    searchable_times.append(time.perf_counter() - written.pop(word))
            await asyncio.sleep(POLL)

    async def write_all() -> float:
        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        return time.perf_counter() - began

    # Warm-up: the first post makes the index.
    await write("warmup")
    for _ in range(int(60 / POLL)):
        if await found(engine, ["warmup"]):
            break
        await asyncio.sleep(POLL)
    written.clear()
    write_times.clear()

    writing = asyncio.create_task(write_all())
    await asyncio.wait_for(watch(writing), timeout=300)
    return write_times, searchable_times, posts / writing.result()


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return (
        f"p50 {cuts[49] * 1000:7.1f} ms   p90 {cuts[89] * 1000:7.1f} ms   "
        f"p99 {cuts[98] * 1000:7.1f} ms   max {ordered[-1] * 1000:7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.searchable", description=__doc__)
    parser.add_argument("--posts", type=int, default=1000, help="posts to create (1000)")
    parser.add_argument("--writers", type=int, default=20, help="clients writing at once (20)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-search-") as scratch, running_engine() as url:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": f"{PROJECT_SLUG}.settings",
            "DATABASE_URL": os.environ.get(
                "BENCH_DATABASE_URL", f"sqlite:///{Path(scratch) / 'bench.sqlite3'}"
            ),
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "false",
            "WRITE_RATE": "",
{%- if cookiecutter.use_webhooks == "yes" %}
            "WEBHOOK_URLS": "",  # the bench's posts are not news for your receivers
{%- endif %}
            "LOG_LEVEL": "WARNING",
            "ELASTICSEARCH_URL": url,
            "ELASTICSEARCH_NODE_CLASS": "tests.search.engine.PlainMediaTypeNode",
            "ELASTICSEARCH_INDEX": INDEX,
        }
        manage(env, "migrate", "--no-input")
        make_user = "from accounts.models import User; User(username='bench').save()"
        manage(env, "shell", "-c", make_user)
        token = manage(env, "create_api_token", "bench", "--name", "bench").split()[-1]
        port = free_port()
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", f"{PROJECT_SLUG}.asgi:application"),
                *("--port", str(port), "--workers", str(options.workers), "--no-access-log"),
                *("--log-level", "warning"),
            ],
            cwd=PROJECT_DIR,
            env=env,
        )
        try:
            wait_until_up(f"http://127.0.0.1:{port}/api/health", server)
            result = asyncio.run(run(port, url, token, options.posts, options.writers))
        finally:
            server.terminate()
            server.wait(30)
    write_times, searchable_times, rate = result
    print(
        f"{options.posts} posts by {options.writers} writers, uvicorn {options.workers} worker(s), "
        f"{rate:.0f} posts/s"
    )
    print(f"  create (201)        {percentiles(write_times)}")
    print(f"  time-to-searchable  {percentiles(searchable_times)}")


async def run(
    port: int, engine_url: str, token: str, posts: int, writers: int
) -> tuple[list[float], list[float], float]:
    limits = httpx.Limits(max_keepalive_connections=0)  # uvicorn closes idle ones after 5 s
    async with (
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            limits=limits,
            timeout=60,
        ) as api,
        httpx.AsyncClient(base_url=engine_url, timeout=60) as engine,
    ):
        return await write_and_watch(api, engine, posts, writers)


if __name__ == "__main__":
    main()
