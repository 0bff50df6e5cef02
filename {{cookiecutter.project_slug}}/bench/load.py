"""A small HTTP/1.1 load generator on asyncio streams: no dependencies, one connection per request.

Like `ab -c C -n N`: N GET requests, at most C in flight, each on a fresh connection.
"""

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    failures: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    wall: float = 0.0


async def one_request(host: str, port: int, target: str) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # the rest, until the server closes the connection
        return int(status_line.split()[1])
    finally:
        writer.close()


async def run_load(
    url: str, *, concurrency: int, requests: int, seconds_each: float = 60
) -> LoadResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    result = LoadResult()
    slots = asyncio.Semaphore(concurrency)

    async def worker() -> None:
        async with slots:
            started = time.perf_counter()
            try:
                async with asyncio.timeout(seconds_each):
                    status = await one_request(host, port, target)
            except (OSError, TimeoutError, ValueError, IndexError):
                result.failures += 1
                return
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status == 200:
                result.latencies.append(time.perf_counter() - started)
            else:
                result.failures += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(requests)))
    result.wall = time.perf_counter() - started
    return result
