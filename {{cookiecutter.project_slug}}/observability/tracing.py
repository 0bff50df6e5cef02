"""OpenTelemetry traces, on when OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set.

The SDK reads the standard OTEL_* variables (service name, resource attributes, sampler,
batch sizes). Spans leave through a BatchSpanProcessor: its one thread of the process sends
them over OTLP/HTTP, so the event loop never waits on the collector. What makes the spans:
- the server span: observability/server_span.py (pure ASGI), named by the request's route by
  observability/middleware.py;
- SQL: observability/sql_spans.py;
{%- if cookiecutter.use_elasticsearch == "yes" %}
- Elasticsearch: the client's own spans (elasticsearch-py 8.13+ makes them once an SDK is set up);
{%- endif %}
{%- if cookiecutter.cache == "redis" %}
- Redis: its maintained instrumentation;
{%- endif %}
{%- if cookiecutter.use_webhooks == "yes" %}
- outgoing HTTP calls (webhook deliveries): observability/http_spans.py;
{%- endif %}
- background work: a task records the traceparent of the request that enqueued it
  (outbox/backend.py), and its run is a span linked to that trace (task_span below).
Off, none of this is imported: the request path does not change.
"""

import contextlib
import os
from collections.abc import Iterator
from typing import Any

from django.conf import settings

_enabled = False


def enabled() -> bool:
    return _enabled


def start_tracing() -> None:
    """The process's tracer provider and instrumentations (once; from AppConfig.ready)."""
    global _enabled
    if _enabled:
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from .sql_spans import trace_sql

    # The stable HTTP attribute names (http.request.method, http.response.status_code, ...),
    # not the old ones some instrumentations still default to.
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")
    service = os.environ.get("OTEL_SERVICE_NAME") or settings.TRACING_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    trace_sql()
{%- if cookiecutter.cache == "redis" %}
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    RedisInstrumentor().instrument()
{%- endif %}
{%- if cookiecutter.use_webhooks == "yes" %}
    from .http_spans import trace_http_calls

    trace_http_calls()
{%- endif %}
    _enabled = True


def traced(app: Any) -> Any:
    """`app` with a server span around each request (observability/server_span.py)."""
    from .server_span import ServerSpan

    return ServerSpan(app)


def name_server_span(method: str, route: str) -> None:
    """The request's span named by its route (`DELETE /api/me/tokens/{token_id}`)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)


def current_traceparent() -> str:
    """The W3C traceparent of the current span ('' outside one, or with tracing off)."""
    if not _enabled:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")


def log_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the current span, as hex, for log lines; None outside one."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


@contextlib.contextmanager
def task_span(name: str, traceparent: str, attributes: dict[str, Any]) -> Iterator[None]:
    """A task's run: a trace of its own, linked to the request that enqueued it."""
    if not _enabled:
        yield
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    linked = trace.get_current_span(extract({"traceparent": traceparent})).get_span_context()
    links = [trace.Link(linked)] if linked.is_valid else []
    tracer = trace.get_tracer(__name__)
    with tracer.start_as_current_span(
        f"task {name}", kind=trace.SpanKind.CONSUMER, links=links, attributes=attributes
    ):
        yield


def stop_tracing() -> None:
    """Sends what is still batched (lifespan shutdown)."""
    if _enabled:
        from opentelemetry import trace

        provider: Any = trace.get_tracer_provider()
        provider.shutdown()
