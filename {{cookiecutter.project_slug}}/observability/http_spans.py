"""A span for every outgoing HTTP call made with httpx (webhook deliveries), by the maintained
httpx instrumentation, with the URL's query left out: receivers' URLs carry their tokens
there, and the instrumentation would record the full URL."""

from typing import Any


def trace_http_calls() -> None:
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(
        request_hook=without_query, async_request_hook=async_without_query
    )


def without_query(span: Any, request: Any) -> None:
    if span.is_recording():
        span.set_attribute("url.full", str(request.url).split("?", 1)[0])


async def async_without_query(span: Any, request: Any) -> None:
    without_query(span, request)
