"""Streaming under load: `python -m bench.streams` (part of `make bench`).

Starts the project under uvicorn (one worker) and measures:
- 1000 server-sent event streams at once (GET /api/say-stream?count=10&interval=1): events
  received, failures, the server's CPU time per event and its peak RSS;
- the NDJSON export of 20 000 posts (GET /api/blog/posts/export): posts per second and the
  server's peak RSS. The posts are made for it and deleted afterwards.
"""

import argparse
import asyncio
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.settings")
os.environ["SAY_AFTER_RATE"] = ""  # one client opens every stream: measure, do not throttle
os.environ["OUTBOX_WORKER"] = "false"  # the posts made for the export are not indexed meanwhile
{%- if cookiecutter.use_webhooks == "yes" %}
os.environ["WEBHOOK_URLS"] = ""  # nor announced to your receivers
{%- endif %}
django.setup()

from bench.servers import PROJECT_SLUG, started  # noqa: E402
from blog.models import Post  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def read_all(url: str) -> bytes:
    """GET on a connection of its own, read until the server closes it (HTTP/1.0: the body
    as it is, not in chunks)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    reader, writer = await asyncio.open_connection(host, port)
    try:
        target = f"{parts.path}?{parts.query}" if parts.query else parts.path
        writer.write(f"GET {target} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


async def streams(url: str, count: int) -> tuple[int, int, float]:
    """`count` streams at once: events received, failed streams, seconds for all."""
    started_at = time.perf_counter()
    answers = await asyncio.gather(*(read_all(url) for _ in range(count)), return_exceptions=True)
    events = failures = 0
    for answer in answers:
        if isinstance(answer, BaseException) or b" 200 " not in answer[:20]:
            failures += 1
        else:
            events += answer.count(b"\ndata: ")
    return events, failures, time.perf_counter() - started_at


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streams", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 streams, 2 000 posts")
    args = parser.parse_args()
    stream_count, events_each, interval = (50, 3, 0.2) if args.quick else (1000, 10, 1.0)
    posts = 2_000 if args.quick else 20_000

    made = Post.objects.bulk_create(
        Post(title=f"bench export {n}", body="word " * 60, published=True) for n in range(posts)
    )
    try:
        with started("uvicorn", PROJECT_SLUG) as server:
            assert server.sampler is not None
            pid = server.sampler.pid
            url = f"{server.url}/api/say-stream?count={events_each}&interval={interval}"
            asyncio.run(streams(url, 5))  # warm up
            cpu = cpu_seconds(pid)
            with server.sampler.sampling() as sampler:
                events, failures, wall = asyncio.run(streams(url, stream_count))
            cpu = cpu_seconds(pid) - cpu
            print(
                f"{stream_count} SSE streams at once ({events_each} events {interval:g} s apart), "
                f"uvicorn 1 worker: {events} events in {wall:.1f} s, {failures} failed; server "
                f"CPU {cpu:.2f} s ({cpu / max(events, 1) * 1e6:.0f} us per event), peak RSS "
                f"{sampler.peak_rss / 2**20:.0f} MiB"
            )
            with server.sampler.sampling() as sampler:
                started_at = time.perf_counter()
                body = asyncio.run(read_all(f"{server.url}/api/blog/posts/export"))
                wall = time.perf_counter() - started_at
            lines = body.count(b"\n{")
            print(
                f"NDJSON export of {lines} posts: {wall:.2f} s, {lines / wall:.0f} posts/s, "
                f"server peak RSS {sampler.peak_rss / 2**20:.0f} MiB"
            )
    finally:
        Post.objects.filter(pk__in=[post.pk for post in made]).delete()


if __name__ == "__main__":
    main()
