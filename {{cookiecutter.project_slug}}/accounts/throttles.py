"""A per-user rate limit for writes, safe on the event loop.

Ninja's UserRateThrottle reads request.user, which loads the session user with a sync
query (SynchronousOnlyOperation in an async view). This one keys on request.auth, the
user the async auth classes already loaded: no query at all.
"""

from django.http import HttpRequest
from ninja.throttling import SimpleRateThrottle


class UserWriteThrottle(SimpleRateThrottle):
    scope = "write"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        user = getattr(request, "auth", None)
        if user is None or not user.is_authenticated:
            return None  # anonymous callers never get this far on a write
        return self.cache_format % {"scope": self.scope, "ident": user.pk}
