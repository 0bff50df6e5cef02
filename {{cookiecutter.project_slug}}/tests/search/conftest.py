"""A search engine per test: a clone of the in-memory osmem-server, or a real cluster.

Set ELASTICSEARCH_TEST_URL (e.g. http://127.0.0.1:9200) to run the same tests against a
real cluster; each test then uses an index of its own and deletes it afterwards.
"""

import os
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
from django.conf import LazySettings

from blog.models import Post
from search.client import get_client
from search.documents import index_all_posts, index_name

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


IndexPosts = Callable[..., Awaitable[list[Post]]]


@pytest.fixture
def index_posts() -> IndexPosts:
    """Create posts and put them in the index: `await index_posts(("title", published), ...)`."""

    async def create(*posts: tuple[str, bool]) -> list[Post]:
        created = [await Post.objects.acreate(title=t, body=t, published=p) for t, p in posts]
        await index_all_posts(recreate=True, progress=lambda summary: None)
        return created

    return create


@pytest.fixture
def closed_port() -> int:
    """A local port where nothing listens: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()
