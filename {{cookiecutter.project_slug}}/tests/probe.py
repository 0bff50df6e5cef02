"""Endpoints that only the tests mount (tests/urls.py), under /api/probe/.

The parts around every endpoint (the thread-free handler, the middleware, auth, rate limits,
the request log, the database backends) are tested on these rather than on the examples, so
that they stay tested in a project that removed the examples (docs/removing-examples.md).
Their writes go to Django's own Group model: no table of their own to migrate.
"""

import asyncio
import os
import time
from typing import Annotated

from django.contrib.auth.models import Group
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status
from ninja.throttling import BaseThrottle

from accounts.auth import READ, READ_OPENAPI, WRITE
from ratelimit.limits import ClientIPRateLimit, UserRateLimit

from {{ cookiecutter.project_slug }}.errors import Message

router = Router(tags=["probe"])

# Generous unless a served test sets PROBE_RATE; in-process tests set the .limit they need.
RATE = os.environ.get("PROBE_RATE", "100000/m")
SYNC_THROTTLES: list[BaseThrottle] = [ClientIPRateLimit("probe-sync", RATE, setting="PROBE_RATE")]
ASYNC_THROTTLES: list[BaseThrottle] = [ClientIPRateLimit("probe-async", RATE, setting="PROBE_RATE")]
WRITE_THROTTLES: list[BaseThrottle] = [UserRateLimit("probe-write", RATE, setting="PROBE_RATE")]


class WaitParams(Schema):
    delay: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)] = 0.0


class Waited(Schema):
    waited: float


# Sync and async on paths of their own: Ninja makes a whole path async if one operation is.
@router.get("/sync", response=Waited, throttle=SYNC_THROTTLES)
def wait_sync(request: HttpRequest, params: Query[WaitParams]) -> Waited:
    """Waits in the request's worker thread."""
    time.sleep(params.delay)
    return Waited(waited=params.delay)


@router.get("/async", response=Waited, throttle=ASYNC_THROTTLES)
async def wait_async(request: HttpRequest, params: Query[WaitParams]) -> Waited:
    """Waits on the event loop."""
    await asyncio.sleep(params.delay)
    return Waited(waited=params.delay)


class GroupIn(Schema):
    name: str = Field(min_length=1, max_length=150)


class GroupOut(Schema):
    id: int
    name: str


class Caller(Schema):
    username: str = Field(description="Empty for an anonymous caller.")


@router.get("/me", response=Caller, auth=READ, openapi_extra=READ_OPENAPI)
async def me(request: HttpRequest) -> Caller:
    """A read open to anyone, on the event loop: who the credentials say the caller is."""
    return Caller(username=request.auth.get_username())  # type: ignore[attr-defined]


# 403: a session write without its CSRF token.
@router.post(
    "/groups", response={201: GroupOut, 403: Message}, auth=WRITE, throttle=WRITE_THROTTLES
)
async def create_group(request: HttpRequest, group: GroupIn) -> Status[Group]:
    """A write that needs credentials, on the event loop (the same name twice: one group)."""
    made, _ = await Group.objects.aget_or_create(name=group.name)
    return Status(201, made)


@router.get("/groups/{group_id}", response=GroupOut, auth=READ, openapi_extra=READ_OPENAPI)
def read_group(request: HttpRequest, group_id: int) -> Group:
    """A read open to anyone, in a worker thread (sync ORM)."""
    return get_object_or_404(Group, pk=group_id)
