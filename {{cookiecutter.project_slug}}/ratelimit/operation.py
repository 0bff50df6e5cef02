"""Throttles awaited on the event loop.

Ninja checks throttles synchronously, even in an async operation: a check that asks Redis
would stop the loop, and every request on it, for a network round trip (measured by the
template's bench/ratelimit.py). AsyncChecksOperation is Ninja's AsyncOperation with the RateLimit
checks awaited; AsyncThrottleChecks makes the API use it for every async operation.
"""

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import Throttled
from ninja.operation import AsyncOperation

from .limits import RateLimit


class AsyncChecksOperation(AsyncOperation):
    async def _run_checks(self, request: HttpRequest) -> HttpResponse | None:  # type: ignore[override]
        # Ninja's AsyncOperation._run_checks (1.7), with the throttles awaited.
        if self.csrf_exempt:
            request._ninja_csrf_exempt = True  # type: ignore[attr-defined]
        if self.auth_callbacks:
            error = await self._run_authentication(request)
            if error:
                return error
        if self.throttle_objects:
            return await self._acheck_throttles(request)
        return None

    async def _acheck_throttles(self, request: HttpRequest) -> HttpResponse | None:
        waits: list[float | None] = []
        for throttle in self.throttle_objects:
            if isinstance(throttle, RateLimit):
                hit = await throttle.acheck(request)
                if not hit.allowed:
                    waits.append(hit.retry_after)
            elif not throttle.allow_request(request):  # one of Ninja's own, in memory
                waits.append(throttle.wait())
        if not waits:
            return None
        wait = max((w for w in waits if w is not None), default=None)
        response = self.api.on_exception(request, Throttled(wait=wait))  # type: ignore[arg-type]
        if wait is not None:
            response["Retry-After"] = str(math.ceil(wait))  # integer seconds (RFC 9110)
        return response


class AsyncThrottleChecks(NinjaAPI):
    """A NinjaAPI whose async operations await their throttles (AsyncChecksOperation)."""

    def _get_bound_routers(self) -> Any:
        bound_routers = super()._get_bound_routers()
        for bound in bound_routers:
            for path_view in bound.path_operations.values():
                for operation in path_view.operations:
                    if type(operation) is AsyncOperation:
                        operation.__class__ = AsyncChecksOperation
        return bound_routers
