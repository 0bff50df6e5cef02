"""The server span of each request: a pure ASGI layer around the app, in place of
opentelemetry-instrumentation-asgi. It does less (HTTP only, the attributes below, no header
capture, no metrics of its own: observability/metrics.py has them) and so costs less: 562
against 645 us of CPU per request to an async endpoint that does nothing else, 417 with tracing
off (the bench of a bake with the examples, bench/tracing.py), which brings tracing within the
1.5x we aim for. The Django instrumentation is no option: its sync middleware would hop to a
thread on every request.

The span starts as `METHOD` and is named by the route once Django has matched it
(observability/middleware.py). An incoming W3C `traceparent` makes it a child of the caller's
span. No query string is recorded: one can carry a secret.
"""

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from opentelemetry import trace
from opentelemetry.propagate import extract

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]

tracer = trace.get_tracer(__name__)
PROPAGATED = (b"traceparent", b"tracestate")


class ServerSpan:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self.excluded = frozenset(settings.TRACING_EXCLUDED_PATHS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.excluded:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": scope["path"],
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        if client := scope.get("client"):
            attributes["client.address"] = client[0]
        carrier = {}
        for name, value in scope["headers"]:
            if name in PROPAGATED:
                carrier[name.decode()] = value.decode("latin-1")
            elif name == b"user-agent":
                attributes["user_agent.original"] = value.decode("latin-1")
        parent = extract(carrier) if carrier else None
        with tracer.start_as_current_span(
            method, context=parent, kind=trace.SpanKind.SERVER, attributes=attributes
        ) as span:

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status = message["status"]
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(trace.StatusCode.ERROR)
                await send(message)

            await self.app(scope, receive, sending)
