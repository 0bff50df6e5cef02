import asyncio
import io
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import request_started
from django.db import close_old_connections, connections, reset_queries

# Read first: every test sees the API with the tests' own endpoints (tests/probe.py) in it.
import tests.urls  # noqa: F401
from accounts.models import User
from accounts.tokens import issue_token
{%- if cookiecutter.use_blog == "yes" %}
from blog.models import Post
{%- endif %}
from keyvalue import get_store
from tests.otlp import OtlpReceiver

from {{ cookiecutter.project_slug }}.runtime.lifespan import app_hooks
from {{ cookiecutter.project_slug }}.runtime.log_stream import BatchedStreamHandler
from {{ cookiecutter.project_slug }}.runtime.loop_clients import close_every_client

# The stock fallbacks (docs/stock-fallbacks.md) put Django's parts back: the tests of the
# project's own parts then skip, saying which setting is on.
OWN_HANDLER = pytest.mark.skipif(
    settings.STOCK_ASGI_HANDLER,
    reason="STOCK_ASGI_HANDLER is on: Django's handler serves, not runtime/handler.py",
)
OWN_MIDDLEWARE = pytest.mark.skipif(
    settings.STOCK_MIDDLEWARE,
    reason="STOCK_MIDDLEWARE is on: Django's middleware serves, not runtime/middleware.py",
)

{%- if cookiecutter.use_blog == "yes" %}
MakePost = Callable[..., Post]
{%- endif %}
MakeUser = Callable[..., User]
WrittenLines = Callable[[], list[str]]


# Seconds before wait_until gives up: a bound for a test that is broken, far above what a
# loaded machine needs (the wait ends as soon as the condition holds).
WAIT_LIMIT = 60.0


async def wait_until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll `condition` until it holds; fail the test after WAIT_LIMIT seconds."""
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"still false after {WAIT_LIMIT} s: {condition}")


{%- if cookiecutter.use_blog == "yes" %}


@pytest.fixture
def make_post(db: None) -> MakePost:
    """Create a post with the sync ORM (fixtures run outside the event loop)."""

    def make(
        title: str = "A post",
        *,
        published: bool = False,
        body: str = "",
        author: User | None = None,
    ) -> Post:
        return Post.objects.create(title=title, body=body, published=published, author=author)

    return make
{%- endif %}


@pytest.fixture
def make_user(db: None) -> MakeUser:
    def make(username: str, *, staff: bool = False) -> User:
        return User.objects.create_user(username=username, is_staff=staff)

    return make


@pytest.fixture
def alice(make_user: MakeUser) -> User:
    return make_user("alice")


@pytest.fixture
def bob(make_user: MakeUser) -> User:
    return make_user("bob")


@pytest.fixture
def staff(make_user: MakeUser) -> User:
    return make_user("staff", staff=True)


async def bearer(user: User, *, expires_in: timedelta | None = None) -> dict[str, str]:
    """Request headers with a fresh API token of `user`."""
    _, token = await sync_to_async(issue_token)(user, expires_in=expires_in)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """A real OTLP/HTTP receiver on a free loopback port (tests/otlp.py)."""
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def written_lines() -> Iterator[WrittenLines]:
    """The lines the configured log handler writes: LOGGING's formatter and filters at work
    (caplog would bypass both)."""
    (handler,) = [h for h in logging.getLogger().handlers if isinstance(h, BatchedStreamHandler)]
    stream = io.StringIO()
    previous = handler.setStream(stream)

    def lines() -> list[str]:
        handler.flush()
        return stream.getvalue().splitlines()

    yield lines
    handler.setStream(previous)


def clear_counts_and_cache() -> None:
    get_store().clear()
    # Django's cache too, where allauth counts. In Redis the store's prefix holds both (and
    # the cache's own clear() would empty the whole database).
    if isinstance(caches["default"], LocMemCache):
        caches["default"].clear()


@pytest.fixture(autouse=True)
def fresh_keyvalue_store() -> Iterator[None]:
    """Each test starts with no rate-limit counts and nothing cached, and leaves none."""
    clear_counts_and_cache()
    yield
    clear_counts_and_cache()


@pytest.fixture(autouse=True)
def request_started_as_in_production() -> None:
    """asgi.py takes Django's two request_started receivers out; Django's test client puts
    them back after each of its requests. Out again, so that requests through the ASGI
    application run as they do when served."""
    request_started.disconnect(reset_queries)
    request_started.disconnect(close_old_connections)


@pytest.fixture(autouse=True)
async def close_sync_to_async_connections() -> AsyncIterator[None]:
    """After each test, close the database connection of the thread where async tests' ORM
    calls run: left open, the next test's views would reuse it, and at the end of the run it
    would keep the test database from being dropped ("being accessed by other users")."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture(autouse=True)
async def run_app_shutdown_hooks() -> AsyncIterator[None]:
    """After each test, what the server does when it stops (e.g. close network clients)."""
    yield
    for hook in app_hooks("shutdown"):
        await hook()
    await close_every_client()
