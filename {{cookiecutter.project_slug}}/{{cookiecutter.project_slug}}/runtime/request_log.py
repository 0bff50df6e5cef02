"""Request ids, one access-log line per request, and the log formats (JSON and console).

RequestLogMiddleware is natively async (no thread hop). It takes the request id from the
X-Request-ID header when the caller (or a proxy) sent a sane one, makes one otherwise,
returns it in the response, and keeps it in a context variable: asgiref copies context
into sync_to_async threads, so every log line of the request carries it. A request whose
client went away before the answer still gets its access line, with status 499.
"""

import asyncio
import json
import logging
import re
import secrets
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

REQUEST_ID_HEADER = "X-Request-ID"
# Read straight from META: request.headers would build a dict of every header per request.
REQUEST_ID_META_KEY = "HTTP_X_REQUEST_ID"
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
TRACE_FIELDS = ("trace_id", "span_id")
CLIENT_CLOSED_REQUEST = 499
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")

request_id: ContextVar[str] = ContextVar("request_id", default="-")
access_log = logging.getLogger("access")


class RequestLogMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        incoming = request.META.get(REQUEST_ID_META_KEY, "")
        current = incoming if VALID_REQUEST_ID.fullmatch(incoming) else secrets.token_hex(16)
        # Also on the request: Django logs its "Not Found" lines after this returns.
        request.request_id = current  # type: ignore[attr-defined]
        token = request_id.set(current)
        started = time.perf_counter()
        status = 500
        try:
            response: HttpResponseBase = await self.get_response(request)
            response[REQUEST_ID_HEADER] = current
            status = response.status_code
            return response
        except asyncio.CancelledError:
            # The client went away and Django cancelled the view: 499, as nginx logs it.
            status = CLIENT_CLOSED_REQUEST
            raise
        finally:
            log_access(request, status, time.perf_counter() - started)
            request_id.reset(token)


def log_access(request: HttpRequest, status: int, seconds: float) -> None:
    method = request.method or "-"
    access_log.info(
        "%s %s %s",
        method,
        request.path,  # escaped by the formatters, as every client-sent value
        status,
        extra={
            "method": method,
            "path": request.path,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        },
    )


def escape_controls(text: str) -> str:
    return CONTROL_CHARACTERS.sub(
        lambda match: match.group().encode("unicode_escape").decode(), text
    )


class ConsoleFormatter(logging.Formatter):
    """The console format with control characters escaped in the message: a client puts
    `%0A` in a URL or a header, and a line that logs it must not become two lines (a forged
    one). Done here, once, for every call site; JSON lines escape them by construction."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (`-` outside a request), and with tracing
    on the current span's trace_id and span_id (observability/tracing.py)."""

    def __init__(self) -> None:
        super().__init__()
        from django.conf import settings

        self.tracing = getattr(settings, "TRACING", False)

    def filter(self, record: logging.LogRecord) -> bool:
        # Django's own request lines ("Not Found: ...") carry the request they are about.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id.get()
        if self.tracing:
            from observability.tracing import log_ids

            ids = log_ids()
            if ids is not None:
                record.trace_id, record.span_id = ids
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, trace_id and
    span_id (tracing on), and the access fields (method, path, status, duration_ms) when the
    record has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        entry.update({key: getattr(record, key) for key in TRACE_FIELDS if hasattr(record, key)})
        entry.update({key: getattr(record, key) for key in ACCESS_FIELDS if hasattr(record, key)})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
