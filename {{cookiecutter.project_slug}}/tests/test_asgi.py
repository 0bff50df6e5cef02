"""The ASGI application as uvicorn sees it: concurrency, lifespan, middleware."""

import asyncio
import inspect
import os
import sys
import time
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient
from django.utils.deprecation import MiddlewareMixin
from django.utils.module_loading import import_string

from {{ cookiecutter.project_slug }}.asgi import application
from {{ cookiecutter.project_slug }}.runtime.middleware import InlineHooksMixin

from .asgi_calls import thread_hops
from .conftest import OWN_HANDLER, OWN_MIDDLEWARE
from .processes import run_in_project


async def test_100_concurrent_async_calls_wait_together() -> None:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        started = time.perf_counter()
        responses = await asyncio.gather(
            *(client.get("/api/probe/async", params={"delay": 0.5}) for _ in range(100))
        )
        elapsed = time.perf_counter() - started

    assert [r.json() for r in responses] == [{"waited": 0.5}] * 100
    # One after another this takes 50 s; together it takes about 0.5 s.
    assert elapsed < 10


async def test_lifespan_startup_and_shutdown_complete() -> None:
    incoming = asyncio.Queue[dict[str, Any]]()
    sent: list[dict[str, Any]] = []
    for message_type in ("lifespan.startup", "lifespan.shutdown"):
        incoming.put_nowait({"type": message_type})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await application({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send)

    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


async def test_an_async_view_sends_no_work_to_a_thread() -> None:
    # An async view may cost what Django costs any async view (health), and not one hop more.
    health_hops = await thread_hops(application, "/api/health")
    view_hops = await thread_hops(application, "/api/probe/async?delay=0.01")

    assert len(view_hops) == len(health_hops), view_hops


@pytest.mark.parametrize("path", settings.MIDDLEWARE)
def test_middleware_is_async_capable(path: str) -> None:
    # A sync-only middleware would make every async request hop to a thread and back.
    assert getattr(import_string(path), "async_capable", False), path


@OWN_MIDDLEWARE
@pytest.mark.parametrize("path", settings.MIDDLEWARE)
def test_middleware_runs_its_hooks_on_the_event_loop(path: str) -> None:
    middleware = import_string(path)
    if inspect.isfunction(middleware):  # a factory (allauth's): async for an async chain

        async def rest_of_the_chain(request: HttpRequest) -> HttpResponse:
            return HttpResponse()

        assert inspect.iscoroutinefunction(middleware(rest_of_the_chain)), path
        return
    native_async = not getattr(middleware, "sync_capable", True)
    # Its own async path, not MiddlewareMixin's (which sends each hook to a thread).
    own_async_path = inspect.iscoroutinefunction(
        getattr(middleware, "__acall__", None)
    ) and not issubclass(middleware, MiddlewareMixin)
    assert native_async or own_async_path or issubclass(middleware, InlineHooksMixin), path
    process_view = getattr(middleware, "process_view", None)
    assert process_view is None or inspect.iscoroutinefunction(process_view), path


@OWN_HANDLER
@OWN_MIDDLEWARE
async def test_api_request_makes_no_middleware_thread_hops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Django's stock middleware reaches its hooks through this name, once per hook.
    hops: list[object] = []

    def counting_sync_to_async(func: Any, **kwargs: Any) -> Any:
        hops.append(func)
        return sync_to_async(func, **kwargs)

    monkeypatch.setattr("django.utils.deprecation.sync_to_async", counting_sync_to_async)
    response = await AsyncClient().get("/api/probe/async")

    assert response.status_code == 200
    assert hops == []


# Runs in a fresh process: Django's test client reconnects close_old_connections to
# request_started after each of its requests, and this is about the real ASGI path.
COUNT_SIGNAL_HOPS = """
import asyncio, httpx
import django.dispatch.dispatcher as dispatcher
from {{ cookiecutter.project_slug }}.asgi import application

hops = []
real = dispatcher.sync_to_async
dispatcher.sync_to_async = lambda func, **kwargs: hops.append(func) or real(func, **kwargs)

async def get():
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        return (await client.get("/api/probe/async")).status_code

print(asyncio.run(get()), len(hops))
"""


@OWN_HANDLER
def test_request_signals_make_no_thread_hop_under_asgi() -> None:
    result = run_in_project(
        [sys.executable, "-c", COUNT_SIGNAL_HOPS],
        {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE},
    )

    # Stock Django sends request_started to two sync receivers through one hop: "200 1".
    assert result.stdout.split() == ["200", "0"], result.stderr


PROJECT_SETTINGS = "{{ cookiecutter.project_slug }}.settings"


@pytest.mark.parametrize("key", ["", "change-me"], ids=["missing", "placeholder"])
def test_refuses_to_start_without_a_real_secret_key_when_debug_is_off(key: str) -> None:
    # The project's own settings, not the test suite's (which supply a key).
    environment = {**os.environ, "DEBUG": "false", "SECRET_KEY": key}
    result = run_in_project(
        [sys.executable, "-c", "import django; django.setup()"],
        {**environment, "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS},
    )

    assert result.returncode != 0
    assert "SECRET_KEY is missing" in result.stderr


def test_deploy_check_is_clean_with_the_minimal_production_environment() -> None:
    """DEBUG off, a real key and the host: `check --deploy` has nothing to warn about."""
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "SESSION_"))},
        "DEBUG": "false",
        "SECRET_KEY": "a-real-key-" + "k" * 50,
        "ALLOWED_HOSTS": "api.example.com",
        "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS,
    }
    result = run_in_project(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment
    )

    assert result.returncode == 0, result.stderr


async def post_body(content: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        return await client.post(
            "/api/probe/groups", content=content, headers={"Content-Type": "application/json"}
        )


@pytest.mark.django_db(transaction=True)
async def test_a_body_at_the_limit_goes_through() -> None:
    response = await post_body(b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    assert response.status_code == 401  # read, and refused for want of credentials


async def test_a_body_over_the_limit_is_a_413_before_it_is_read() -> None:
    response = await post_body(b" " * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))

    assert response.status_code == 413
    assert "larger than" in response.json()["detail"]


async def test_a_chunked_body_is_stopped_when_it_goes_over_the_limit() -> None:
    sent_chunks = 0

    async def chunks() -> Any:  # no Content-Length: the size shows only as it arrives
        nonlocal sent_chunks
        for _ in range(1000):
            sent_chunks += 1
            yield b" " * 65536

    response = await post_body(chunks())

    assert response.status_code == 413
    assert sent_chunks * 65536 < 1000 * 65536  # stopped early, not read to the end


@pytest.mark.django_db(transaction=True)
async def test_an_admin_file_upload_over_the_api_limit_goes_through_to_its_own() -> None:
    """DATA_UPLOAD_MAX_MEMORY_SIZE bounds a form's fields, not its files: the admin's uploads
    get ADMIN_UPLOAD_MAX_BYTES, and past that they are refused too."""
    upload = {"file": ("big.bin", b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE * 2))}
    too_large = {"file": ("huge.bin", b"x" * (settings.ADMIN_UPLOAD_MAX_BYTES + 1))}
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        admin = await client.post("/admin/login/", files=upload)
        refused = await client.post("/admin/login/", files=too_large)
        api = await client.post("/api/probe/groups", files=upload)

    assert admin.status_code == 403  # read, and refused for want of a CSRF token
    assert (refused.status_code, api.status_code) == (413, 413)
