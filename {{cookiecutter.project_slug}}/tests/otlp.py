"""A real OTLP/HTTP receiver for the tests: takes the spans the app exports (protobuf, decoded
with opentelemetry-proto) on a free loopback port, and keeps them for the test to read."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class Span:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: int
    start: int  # nanoseconds since the epoch
    end: int
    attributes: dict[str, Any]
    links: list[tuple[str, str]]  # (trace_id, span_id) of each linked span
    service: str


SERVER, CLIENT, CONSUMER = 2, 3, 5  # OTLP span kinds


def value_of(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def span_of(span: Any, service: str) -> Span:
    return Span(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_id=span.parent_span_id.hex(),
        name=span.name,
        kind=span.kind,
        start=span.start_time_unix_nano,
        end=span.end_time_unix_nano,
        attributes={a.key: value_of(a.value) for a in span.attributes},
        links=[(link.trace_id.hex(), link.span_id.hex()) for link in span.links],
        service=service,
    )


@dataclass
class OtlpReceiver:
    spans: list[Span] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    receiver.take(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def take(self, request: ExportTraceServiceRequest) -> None:
        found: list[Span] = []
        for resource_spans in request.resource_spans:
            resource = {a.key: value_of(a.value) for a in resource_spans.resource.attributes}
            service = str(resource.get("service.name", ""))
            for scope_spans in resource_spans.scope_spans:
                found.extend(span_of(span, service) for span in scope_spans.spans)
        with self.lock:
            self.spans.extend(found)

    def wait_for(self, condition: Callable[[list[Span]], Any], timeout: float = 30) -> Any:
        """The first truthy `condition(spans)` within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                found = condition(list(self.spans))
            if found:
                return found
            assert time.monotonic() < deadline, f"not received in {timeout} s: {self.spans}"
            time.sleep(0.05)


def tracing_environment(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # spans leave within 50 ms, not 5 s
        "OUTBOX_POLL_INTERVAL": "0.1",
        "EMAIL_URL": "consolemail://",
    }


def server_span(receiver: OtlpReceiver, name: str) -> Span:
    def found(spans: list[Span]) -> Span | None:
        return next((s for s in spans if s.kind == SERVER and s.name == name), None)

    span: Span = receiver.wait_for(found)
    return span


def descendants(spans: list[Span], root: Span) -> list[Span]:
    below, parents = [], {root.span_id}
    for span in sorted(spans, key=lambda s: s.start):
        if span.trace_id == root.trace_id and span.parent_id in parents:
            below.append(span)
            parents.add(span.span_id)
    return below


def system_of(span: Span) -> str:
    """The database a client span calls (the stable attribute name, or the older one)."""
    return str(span.attributes.get("db.system.name") or span.attributes.get("db.system"))


def linked_runs(spans: list[Span], names: set[str]) -> list[Span] | None:
    """The task runs linked to a request, once there is one of each name."""
    runs = [s for s in spans if s.kind == CONSUMER and s.links]
    return runs if {s.name for s in runs} >= names else None
