"""Sentry, on when SENTRY_DSN is set: unhandled errors of requests, tasks and commands.

sentry-sdk's Django integration (and its asyncio one, once the server's loop runs: apps.py),
with release and environment from the settings, no personal data, no frame variables, and no
performance tracing (traces are OpenTelemetry's job: observability/tracing.py). Besides Sentry's own
scrubbing (cookies, Authorization, passwords), the API's token headers and fields are removed
before an event leaves the process.
"""

import functools
from typing import Any

# Header, cookie and field names whose values never leave the process (lowercase; Sentry
# compares them so). Sentry's default list already has authorization, cookie, password,
# token, session, csrftoken, sessionid, api_key, ...
SECRET_KEYS = ["x-session-token", "x_session_token", "access_token", "refresh_token", "key"]


def start_error_tracking(dsn: str, *, environment: str, release: str) -> None:
    import sentry_sdk
    from django.core.exceptions import RequestAborted
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        # A client that went away: never a bug. (Django 5.2 raises it in a task of its own,
        # which the asyncio integration reports, for every request whose client hangs up.)
        ignore_errors=[RequestAborted],
        # A frame's variables hold what the request held (a token in a URL, a password being
        # checked): their values never leave. The stack and the error's message do.
        include_local_variables=False,
        traces_sample_rate=None,
        integrations=[DjangoIntegration(middleware_spans=False, signals_spans=False)],
        event_scrubber=EventScrubber(
            denylist=[*DEFAULT_DENYLIST, *SECRET_KEYS],
            pii_denylist=DEFAULT_PII_DENYLIST,
            recursive=True,
        ),
        before_send=drop_query_string,
    )


def drop_query_string(event: Any, hint: Any) -> Any:
    """A query string can hold a key (a reset link's, say): the path is enough to find the bug.
    (Sentry's Django integration puts it on the events of a WSGI server.)"""
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("query_string", None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
    return event


def tracked(app: Any) -> Any:
    """`app` with a Sentry scope per request, whose events carry the request (method, URL
    without its query, headers, scrubbed). sentry-sdk's own ASGI middleware does this and more
    (a transaction per request, for Sentry's tracing, which is off here) for about 160 us of CPU
    per request; this builds the request's part only for an event. (The Django integration
    would take it from Django's ASGIHandler.__call__, which runtime/handler.py replaces.)"""
    import sentry_sdk

    async def tracked_app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        with sentry_sdk.isolation_scope() as isolation:
            isolation.add_event_processor(functools.partial(with_request, scope))
            await app(scope, receive, send)

    return tracked_app


def with_request(scope: Any, event: Any, hint: Any) -> Any:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    url = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}{scope['path']}"
    event["request"] = {"method": scope["method"], "url": url, "headers": headers}
    return event


def start_asyncio_integration() -> None:
    """Errors of the event loop's own tasks too (called once the loop runs)."""
    import sentry_sdk
    from sentry_sdk.integrations.asyncio import enable_asyncio_integration

    if sentry_sdk.get_client().is_active():
        enable_asyncio_integration(task_spans=False)
