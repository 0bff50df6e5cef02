"""Per request: the server span named by its route, and the request metrics (count and
duration by route, method and status; in flight). Natively async: no hop to a thread.

The route is Django's URL pattern in the OpenAPI spelling (`/api/me/tokens/{token_id}`),
never the raw path, so that series and span names stay few. Installed by the settings only
when tracing or metrics are on.
"""

import asyncio
import re
import time
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from . import metrics, tracing

CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")
UNMATCHED = "unmatched"  # a 404 before any route: one series for all of them
CLIENT_CLOSED_REQUEST = 499


def route_of(request: HttpRequest) -> str:
    match = request.resolver_match
    if match is None or match.route is None:
        return UNMATCHED
    return "/" + CONVERTER.sub(r"{\1}", match.route)


class RequestTelemetryMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.metrics = metrics.get()
        self.tracing = tracing.enabled()
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        status = 500
        if self.metrics is not None:
            self.metrics.requests_in_flight.inc()
        try:
            response: HttpResponseBase = await self.get_response(request)
            status = response.status_code
            return response
        except asyncio.CancelledError:
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            route = route_of(request)
            method = metrics.method_label(request.method)
            if self.tracing and route != UNMATCHED:
                tracing.name_server_span(method, route)
            if self.metrics is not None:
                self.metrics.requests_in_flight.dec()
                self.metrics.request_duration.labels(route, method, str(status)).observe(
                    time.perf_counter() - started
                )
