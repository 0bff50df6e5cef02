"""A search engine per test: a clone of the in-memory osmem-server, or a real cluster.

Set ELASTICSEARCH_TEST_URL (e.g. http://127.0.0.1:9200) to run the same tests against a
real cluster; each test then uses an index of its own and deletes it afterwards.
"""

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import LazySettings

from blog.models import Post
from outbox.worker import TaskWorker
from search.client import get_client
from search.documents import index_name

REAL_CLUSTER = os.environ.get("ELASTICSEARCH_TEST_URL")
PLAIN_NODE = "tests.search.engine.PlainMediaTypeNode"


@pytest.fixture(autouse=True)
def search_engine(request: pytest.FixtureRequest, settings: LazySettings) -> str:
    """Point the settings at a fresh engine and index name; returns the engine's URL."""
    if REAL_CLUSTER:
        url = REAL_CLUSTER
    else:
        url = request.getfixturevalue("osmem_clone").url
        settings.ELASTICSEARCH_NODE_CLASS = PLAIN_NODE
    settings.ELASTICSEARCH_URL = [url]
    settings.ELASTICSEARCH_INDEX = f"test-posts-{uuid.uuid4().hex[:8]}"
    return url


@pytest.fixture(autouse=True)
async def delete_real_index(search_engine: str) -> AsyncIterator[None]:
    """On a real cluster, leave no index behind (clients are closed by tests/conftest.py)."""
    yield
    if REAL_CLUSTER:
        await get_client().indices.delete(index=index_name(), ignore_unavailable=True)


async def apply_changes() -> int:
    """Let a worker run every indexing task that is due, and make the index searchable (a
    real cluster shows changes after its refresh interval; osmem at once)."""
    applied = await TaskWorker().run_until_idle()
    await get_client().indices.refresh(index=index_name(), ignore_unavailable=True)
    return applied


IndexPosts = Callable[..., Awaitable[list[Post]]]


@pytest.fixture
def index_posts() -> IndexPosts:
    """Create posts and put them in the index: `await index_posts(("title", published), ...)`."""

    async def create(*posts: tuple[str, bool]) -> list[Post]:
        created = [await Post.objects.acreate(title=t, body=t, published=p) for t, p in posts]
        await apply_changes()
        return created

    return create


class Relay:
    """A TCP relay to the engine that can be switched off (connections refused, open ones
    cut) and on again at the same address: an engine that goes down, then comes back."""

    def __init__(self, target: str) -> None:
        self.target_host, self.target_port = target.removeprefix("http://").split(":")
        self.port = 0
        self.server: asyncio.Server | None = None
        self.open: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def switch_on(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def switch_off(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in self.open:
                writer.close()
            await self.server.wait_closed()
            self.server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            self.target_host, int(self.target_port.rstrip("/"))
        )
        self.open |= {writer, upstream_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except OSError:
                pass
            finally:
                sink.close()
                self.open.discard(sink)

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def relay(search_engine: str, settings: LazySettings) -> AsyncIterator[Relay]:
    """The settings point at a relay to the engine (see Relay)."""
    relay = Relay(search_engine)
    await relay.switch_on()
    settings.ELASTICSEARCH_URL = [relay.url]
    yield relay
    await relay.switch_off()


@pytest.fixture
def closed_port() -> int:
    """A local port where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SilentServer:
    """Accepts connections and never answers."""

    port: int
    listener: socket.socket
    accepted: list[socket.socket] = field(default_factory=list)

    def connections(self) -> int:
        """Connections made so far, including those still waiting to be accepted."""
        self.listener.setblocking(False)
        try:
            while True:
                self.accepted.append(self.listener.accept()[0])
        except BlockingIOError:
            return len(self.accepted)


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    """A local server that accepts connections and never answers: every request times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    server = SilentServer(int(listener.getsockname()[1]), listener)
    yield server
    server.connections()
    for connection in server.accepted:
        connection.close()
    listener.close()


CannedAnswer = Callable[[int, dict[str, str], bytes], str]


@pytest.fixture
def canned_answer() -> Iterator[CannedAnswer]:
    """Start a local HTTP server that gives every request the same answer; returns its URL.

    For failures the in-memory engine cannot be asked to make (refused credentials, a
    server that is not Elasticsearch, an unreadable body): the real client meets them.
    """
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, headers: dict[str, str], body: bytes) -> str:
        class Answer(BaseHTTPRequestHandler):
            def do_any(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(status)
                for name, value in {**headers, "content-length": str(len(body))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_any

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep the test output quiet

        server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
