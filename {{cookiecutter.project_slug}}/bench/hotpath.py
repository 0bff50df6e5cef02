"""In-process CPU time per request of GET /api/say-async?delay=0, through the ASGI app.

`python -m bench.hotpath project` measures this project (its settings, middleware, lifespan
wrapper, handler); `python -m bench.hotpath minimal` a bare Ninja app with the same versions
and no middleware (bench/minimal_settings.py); `project-stock-handler` this project served by
Django's own ASGIHandler instead of runtime/handler.py; `project-stock-signals` this project
with Django's request_started receivers put back (asgi.py takes them out).
`python -m bench.hotpath project 500 --read anonymous` (or `token`) measures a database read,
GET /api/blog/posts/{id}, without credentials or with a bearer token: what auth costs. It
makes its own user, token and post for that, and deletes them afterwards.
`python -m bench.hotpath project 500 --list cached` (or `uncached`) measures an anonymous
GET /api/blog/posts of 20 posts, with the post list's cache on (blog/cache.py) or off.
`python -m bench.hotpath project 20 --login` measures a login through allauth's headless API
(POST /_allauth/app/v1/auth/login): the password's hash, the session, the token it issues.
CPU time counts every thread of the process, so the threads Django starts per request are
included. Prints microseconds per request (the fastest of several rounds, the one least
disturbed by the rest of the machine), then the threads started per request.
"""

import asyncio
import os
import sys
import threading
import time
from typing import Any

from tests.asgi_calls import call

WARMUP = 200
ROUNDS = 5


async def cpu_per_request(
    app: Any,
    requests: int,
    path: str = "/api/say-async",
    query: bytes = b"delay=0",
    headers: tuple[tuple[bytes, bytes], ...] = (),
) -> float:
    from {{ cookiecutter.project_slug }}.runtime.loop_clients import mark_loop_long_lived

    await mark_loop_long_lived()  # as uvicorn's lifespan startup does
    for _ in range(WARMUP):
        assert await call(app, path, query, headers) == 200
    rounds = []
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(requests):
            await call(app, path, query, headers)
        rounds.append((time.process_time() - started) / requests)
    return min(rounds) * 1e6


class ThreadStarts:
    """Counts the threads started, from here on."""

    def __init__(self) -> None:
        self.count = 0
        real_start = threading.Thread.start

        def counting(thread: threading.Thread) -> None:
            self.count += 1
            real_start(thread)

        threading.Thread.start = counting  # type: ignore[method-assign,assignment]


def measure_read(app: Any, requests: int, with_token: bool) -> float:
    """CPU per GET /api/blog/posts/{id} of a published post, anonymous or with a token."""
    from django.contrib.auth import get_user_model

    from accounts.tokens import issue_token
    from blog.models import Post

    user = get_user_model().objects.create_user(f"bench-{os.getpid()}")
    post = Post.objects.create(title="bench", published=True, author=user)
    _, token = issue_token(user, name="bench")
    headers = ((b"authorization", f"Bearer {token}".encode()),) if with_token else ()
    try:
        return asyncio.run(
            cpu_per_request(app, requests, f"/api/blog/posts/{post.pk}", b"", headers)
        )
    finally:
        post.delete()
        user.delete()


def measure_list(app: Any, requests: int) -> float:
    """CPU per anonymous GET /api/blog/posts, a page of 20 published posts."""
    from blog.models import Post

    posts = Post.objects.bulk_create(
        Post(title=f"bench {n}", body="words " * 50, published=True) for n in range(20)
    )
    try:
        return asyncio.run(cpu_per_request(app, requests, "/api/blog/posts", b""))
    finally:
        Post.objects.filter(pk__in=[post.pk for post in posts]).delete()


def measure_login(app: Any, requests: int, starts: "ThreadStarts") -> tuple[float, float]:
    """CPU and thread starts per login (few logins: each hashes the password on purpose, and
    allauth limits logins per address). Thread starts counted over the timed logins only:
    not the loop's executor, which asyncio.run stops with a thread of its own."""
    import json

    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model

    from {{ cookiecutter.project_slug }}.runtime.loop_clients import mark_loop_long_lived

    password = "a bench passphrase"
    user = get_user_model().objects.create_user(
        f"bench-{os.getpid()}", f"bench-{os.getpid()}@example.com", password
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    body = json.dumps({"username": user.username, "password": password}).encode()
    headers = ((b"content-type", b"application/json"),)
    path, warmup = "/_allauth/app/v1/auth/login", 3

    async def log_in() -> int:
        return await call(app, path, b"", headers, method="POST", body=body)

    async def logins() -> tuple[float, float]:
        await mark_loop_long_lived()
        for _ in range(warmup):
            assert await log_in() == 200
        starts.count = 0
        started = time.process_time()
        for _ in range(requests):
            assert await log_in() == 200
        cpu = (time.process_time() - started) / requests * 1e6
        return cpu, starts.count / requests

    try:
        return asyncio.run(logins())
    finally:
        user.delete()


def load_app(which: str) -> Any:
    if which == "minimal":
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.minimal_settings"
        from django.core.asgi import get_asgi_application

        return get_asgi_application()
    from bench.servers import PROJECT_SLUG

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{PROJECT_SLUG}.settings")
{%- if cookiecutter.use_webhooks == "yes" %}
    os.environ["WEBHOOK_URLS"] = ""  # the posts it makes are not announced to your receivers
{%- endif %}
    module = __import__(f"{PROJECT_SLUG}.asgi", fromlist=["application"])
    if which == "project-stock-signals":
        from django.core.signals import request_started
        from django.db import close_old_connections, reset_queries

        request_started.connect(reset_queries)
        request_started.connect(close_old_connections)
    if which == "project-stock-handler":
        from django.core.handlers.asgi import ASGIHandler

        lifespan, body_limit = module.application, module.application.app
        body_limit.app = ASGIHandler()
        return lifespan
    return module.application


if __name__ == "__main__":
    # One CPU: the thread Django starts per request then costs the same in every run,
    # instead of whatever crossing cores costs at the moment (run-to-run noise halves).
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    which, requests = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if "--list" in sys.argv:
        cached = sys.argv[sys.argv.index("--list") + 1] == "cached"
        os.environ["POST_LIST_CACHE_SECONDS"] = "3600" if cached else "0"
    app = load_app(which)
    starts = ThreadStarts()
    if "--login" in sys.argv:
        cpu, per_login = measure_login(app, requests, starts)
        print(f"{cpu:.0f} {per_login:.2f}")
        sys.exit()
    if "--read" in sys.argv:
        with_token = sys.argv[sys.argv.index("--read") + 1] == "token"
        cpu = measure_read(app, requests, with_token)
    elif "--list" in sys.argv:
        cpu = measure_list(app, requests)
    else:
        cpu = asyncio.run(cpu_per_request(app, requests))
    print(f"{cpu:.0f} {starts.count / (WARMUP + ROUNDS * requests):.2f}")
