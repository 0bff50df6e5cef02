"""A loopback TCP proxy that delays every chunk, each way: a distant or slow Redis, here.

Used by tests/test_redis.py and bench/ratelimit.py. Chunks keep their order; each is sent
`delay` seconds after it arrived, so a round trip takes 2 x delay more than it would.
"""

import asyncio
import contextlib
import threading
from collections.abc import Iterator


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    loop = asyncio.get_running_loop()
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send_when_due() -> None:
        while True:
            due, chunk = await chunks.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()

    sender = asyncio.create_task(send_when_due())
    try:
        while chunk := await reader.read(65536):
            chunks.put_nowait((loop.time() + delay, chunk))
        chunks.put_nowait((loop.time() + delay, b""))
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()
    finally:
        with contextlib.suppress(Exception):
            writer.close()


@contextlib.contextmanager
def latency_proxy(target_host: str, target_port: int, delay: float) -> Iterator[int]:
    """Proxy 127.0.0.1:<yielded port> to the target, `delay` seconds each way."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    port: list[int] = []

    async def handle(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(target_host, target_port)
            await asyncio.gather(
                _pipe(client_reader, upstream, delay), _pipe(upstream_reader, client, delay)
            )
        except (OSError, asyncio.CancelledError):  # target down, or the proxy stopping
            client.close()

    async def serve() -> asyncio.Server:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port.append(server.sockets[0].getsockname()[1])
        return server

    def run() -> None:
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(serve())
        started.set()
        loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    started.wait()
    try:
        yield port[0]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
