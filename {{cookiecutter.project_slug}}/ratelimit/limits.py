"""Rate limits: Ninja throttles that count in the key-value store (keyvalue/).

With the `redis` store the count is one for every worker and replica, taken atomically, so
together they let through at most the configured rate per client. On the event loop the
check is awaited (operation.py); sync operations (in their request's thread) call
allow_request as Ninja does.

A store that fails or is slow does not stop the API: the request is served ("fails open"),
and the log says so, with how many requests went unchecked.
"""

import contextvars
import ipaddress
import logging
import re
import threading
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from keyvalue import Hit, StoreUnavailable, get_store
from observability import metrics

logger = logging.getLogger(__name__)

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*(s|sec|m|min|h|hour|d|day)\s*$")
# Seconds between two "failed open" lines: one line per outage, not one per request.
FAIL_OPEN_LOG_INTERVAL = 10.0


def parse_rate(setting: str, rate: str) -> tuple[int, float]:
    """The rate "100/m" as (100, 60.0); also "10/s", "1000/h", "5/d", "30/5m"."""
    match = RATE.match(rate)
    if not match or int(match[1]) < 1:
        raise ImproperlyConfigured(
            f"{setting}={rate!r}: expected <count>/<period>, e.g. 100/m (periods s, m, h, d)"
        )
    return int(match[1]), int(match[2] or 1) * PERIODS[match[3][0]]


class FailOpenLog:
    """Counts the requests let through unchecked and logs them, once per interval."""

    def __init__(self) -> None:
        self.total = 0
        self.unlogged = 0
        self.next_line_at = 0.0
        self.lock = threading.Lock()

    def record(self, scope: str, error: StoreUnavailable) -> None:
        metrics.rate_limit_failed_open(scope)
        with self.lock:
            self.total += 1
            self.unlogged += 1
            now = time.monotonic()
            if now < self.next_line_at:
                return
            self.next_line_at = now + FAIL_OPEN_LOG_INTERVAL
            unlogged, self.unlogged = self.unlogged, 0
        logger.warning(
            "Rate limit %s failed open: %s (failed_open=%d since the last line, %d in all)",
            scope,
            error,
            unlogged,
            self.total,
        )


fail_open_log = FailOpenLog()
# The last check's retry_after, for Ninja's wait(), which it calls right after allow_request.
_retry_after: contextvars.ContextVar[float] = contextvars.ContextVar("retry_after", default=0.0)


class RateLimit(BaseThrottle):
    """At most `rate` requests per identity and scope; a subclass says who the identity is."""

    def __init__(self, scope: str, rate: str, *, setting: str) -> None:
        self.scope = scope
        self.rate = rate
        self.limit, self.window = parse_rate(setting, rate)

    def identity(self, request: HttpRequest) -> str | None:
        """Who is counted; None: not limited."""
        raise NotImplementedError

    def key(self, request: HttpRequest) -> str | None:
        identity = self.identity(request)
        return None if identity is None else f"ratelimit:{self.scope}:{identity}"

    def allow_request(self, request: HttpRequest) -> bool:
        """Ninja's sync check, for sync operations (they run in a thread)."""
        key = self.key(request)
        if key is None:
            return True
        try:
            hit = get_store().hit(key, self.limit, self.window)
        except StoreUnavailable as error:
            fail_open_log.record(self.scope, error)
            return True
        _retry_after.set(hit.retry_after)
        return hit.allowed

    async def acheck(self, request: HttpRequest) -> Hit:
        """The check on the event loop: awaits the store, never blocks the loop."""
        key = self.key(request)
        if key is None:
            return Hit(True, 0.0)
        try:
            return await get_store().ahit(key, self.limit, self.window)
        except StoreUnavailable as error:
            fail_open_log.record(self.scope, error)
            return Hit(True, 0.0)

    def wait(self) -> float | None:
        return _retry_after.get()


class ClientIPRateLimit(RateLimit):
    """Per client IP: REMOTE_ADDR, which uvicorn --proxy-headers sets from trusted proxies
    only (never a client-sent X-Forwarded-For). An IPv6 client is counted by its /64: one
    host is usually given a whole /64, and could otherwise take a new address per request."""

    def identity(self, request: HttpRequest) -> str | None:
        return client_network(request.META.get("REMOTE_ADDR") or "")


def client_network(address: str) -> str:
    """ "203.0.113.7" as it is; "2001:db8:1:2::7" as "2001:db8:1:2::/64"."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class UserRateLimit(RateLimit):
    """Per signed-in user: request.auth, which the async auth classes loaded (accounts/auth.py).
    Ninja's UserRateThrottle reads request.user, a sync query on the event loop."""

    def identity(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        if user is None or not user.is_authenticated:
            return None  # anonymous callers never get this far on a write
        return str(user.pk)


def write_throttles() -> list[BaseThrottle]:
    """Writes per signed-in user, one count for every write of the API (WRITE_RATE; empty:
    no limit), past which a 429 with Retry-After."""
    rate = settings.WRITE_RATE
    return [UserRateLimit("write", rate, setting="WRITE_RATE")] if rate else []
