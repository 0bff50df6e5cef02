{%- if cookiecutter.use_say_after == "yes" -%}
"""The project's NinjaAPI: the say-after endpoints, and every app's router.

Ninja makes a whole URL path async if any operation on it is async, so sync and
async operations never share a path here (/say-sync vs /say-async). /say-stream says it
again and again, as server-sent events.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from django.conf import settings
from django.http import HttpRequest, StreamingHttpResponse
from ninja import Field, Query, Schema
from ninja.throttling import BaseThrottle

from accounts.auth import add_error_handlers as add_auth_error_handlers
from accounts.docs import SessionSwagger
from ratelimit.limits import ClientIPRateLimit
from ratelimit.operation import AsyncThrottleChecks
{%- else -%}
"""The project's NinjaAPI, and every app's router."""

from accounts.auth import add_error_handlers as add_auth_error_handlers
from accounts.docs import SessionSwagger
from ratelimit.operation import AsyncThrottleChecks
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
from search.errors import add_error_handlers as add_search_error_handlers
{%- endif %}

from .errors import add_error_handlers as add_database_error_handlers
from .openapi import ContractAPI


class API(ContractAPI, AsyncThrottleChecks):
    """Ninja's API, with every error in its schema (openapi.py) and throttles awaited on the
    event loop (ratelimit/operation.py)."""


# Declared for the docs page and for clients that group operations by tag.
TAGS = [
{%- if cookiecutter.use_say_after == "yes" %}
    {"name": "say-after", "description": "Say a word after a delay: sync, async, streamed."},
{%- endif %}
    {"name": "health", "description": "Liveness and readiness probes."},
    {"name": "me", "description": "Your account and your API tokens."},
{%- if cookiecutter.use_blog == "yes" %}
    {"name": "blog", "description": "Posts: read by anyone, written by their authors."},
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
    {"name": "search", "description": "Full-text search over the published posts."},
{%- endif %}
]

# Under the title on the docs page: where the account flows and their own document are.
DESCRIPTION = (
    "{{ cookiecutter.description }}\n\n"
    "Sign-up, login, logout, email verification and password reset are django-allauth's "
    "headless API, under /_allauth/, with a document of its own: "
    "[/_allauth/openapi.json](/_allauth/openapi.json)."
)

api = API(
    title="{{ cookiecutter.project_name }}",
    version="0.1.0",
    description=DESCRIPTION,
    # Relative: the document describes the server that serves it, wherever that is.
    servers=[{"url": "/", "description": "The server that serves this document"}],
    openapi_extra={"tags": TAGS},
    docs=SessionSwagger(),
)
add_auth_error_handlers(api)
add_database_error_handlers(api)
api.add_router("", "{{ cookiecutter.project_slug }}.health.router")
api.add_router("/me", "accounts.api.router")
{%- if cookiecutter.use_blog == "yes" %}
api.add_router("/blog", "blog.api.router")
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
api.add_router("/search", "search.api.router")
add_search_error_handlers(api)
{%- endif %}
# Routers of apps made with `make app` go below this line.
{%- if cookiecutter.use_say_after == "yes" %}


def say_after_throttles(endpoint: str) -> list[BaseThrottle]:
    """429 with Retry-After past SAY_AFTER_RATE requests per client IP, to this endpoint."""
    if not settings.SAY_AFTER_RATE:
        return []
    # Its own count: one endpoint cannot use up the other's.
    return [ClientIPRateLimit(endpoint, settings.SAY_AFTER_RATE, setting="SAY_AFTER_RATE")]


SAY_SYNC_THROTTLES = say_after_throttles("say-sync")
SAY_ASYNC_THROTTLES = say_after_throttles("say-async")
SAY_STREAM_THROTTLES = say_after_throttles("say-stream")


# What every say endpoint takes: a word, and waits of at most SAY_AFTER_MAX_DELAY seconds.
Word = Annotated[str, Field(min_length=1, max_length=100, description="What to say.")]
Wait = Annotated[float, Field(ge=0, le=settings.SAY_AFTER_MAX_DELAY, allow_inf_nan=False)]


class SayAfterParams(Schema):
    delay: Wait = Field(0.0, description="Seconds to wait before answering.")
    word: Word = "hello"


class Saying(Schema):
    saying: str


@api.get("/say-sync", response=Saying, tags=["say-after"], throttle=SAY_SYNC_THROTTLES)
def say_sync(request: HttpRequest, params: Query[SayAfterParams]) -> Saying:
    """Wait `delay` seconds in a worker thread (time.sleep), then say `word`."""
    time.sleep(params.delay)
    return Saying(saying=params.word)


@api.get("/say-async", response=Saying, tags=["say-after"], throttle=SAY_ASYNC_THROTTLES)
async def say_async(request: HttpRequest, params: Query[SayAfterParams]) -> Saying:
    """Wait `delay` seconds on the event loop (asyncio.sleep), then say `word`."""
    await asyncio.sleep(params.delay)
    return Saying(saying=params.word)


# Server-sent events ------------------------------------------------------------------------

KEEP_ALIVE = ": keep-alive\n\n"  # a comment: clients ignore it, proxies see bytes flow


class Said(Schema):
    saying: str
    n: int = Field(description="The event's number, from 1.")


# Each event as OpenAPI clients (and Schemathesis) read server-sent events: its `data` line
# is the JSON text of a Said.
EVENT_STREAM = {
    "description": "Server-sent events, each `data:` a JSON `Said`; `: keep-alive` comments.",
    "content": {
        "text/event-stream": {
            "schema": {
                "type": "object",
                "properties": {
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": Said.model_json_schema(),
                    },
                    "event": {"type": "string"},
                },
                "required": ["data"],
            }
        }
    },
}


class SayStreamParams(Schema):
    word: Word = "hello"
    count: int = Field(3, ge=1, le=100, description="Events to send.")
    interval: Wait = Field(1.0, description="Seconds between two events.")


@api.get(
    "/say-stream",
    tags=["say-after"],
    throttle=SAY_STREAM_THROTTLES,
    openapi_extra={"responses": {200: EVENT_STREAM}},
)
async def say_stream(request: HttpRequest, params: Query[SayStreamParams]) -> StreamingHttpResponse:
    """Say `word` `count` times, `interval` seconds apart, as server-sent events. A client that
    goes away ends the stream at once: nothing of it keeps running."""
    response = StreamingHttpResponse(say_events(params), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    return response


async def say_events(params: SayStreamParams) -> AsyncIterator[str]:
    yield KEEP_ALIVE  # at once: the client and the proxies between see the stream open
    for n in range(1, params.count + 1):
        if n > 1:
            async for comment in wait_keeping_alive(params.interval):
                yield comment
        yield f"data: {Said(saying=params.word, n=n).model_dump_json()}\n\n"


async def wait_keeping_alive(seconds: float) -> AsyncIterator[str]:
    """Wait `seconds`, with a keep-alive comment every SAY_STREAM_KEEP_ALIVE seconds of it
    (proxies close connections that stay silent too long)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        await asyncio.sleep(min(left, settings.SAY_STREAM_KEEP_ALIVE))
        if deadline - loop.time() > 0:
            yield KEEP_ALIVE
{%- endif %}
