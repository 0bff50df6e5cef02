"""The API's two ways in, both natively async (Ninja awaits them on the event loop: no
thread hop just to authenticate).

- BearerToken: `Authorization: Bearer <token>` (accounts/tokens.py), for programs.
- SessionUser: Django's session cookie (the admin login), for the browser and the docs
  page; unsafe methods must carry the CSRF token (Ninja checks it for cookie auth).

Reads also accept anonymous callers (`READ`), writes do not (`WRITE`). A request that
presents a bearer token that is not valid is refused (401) even where anonymous callers
are allowed: a typo in a token must not quietly read as "anonymous".
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie
from ninja.security.http import HttpAuthBase

from .tokens import user_for_token


class BearerToken(HttpAuthBase):
    openapi_scheme = "bearer"

    def __call__(self, request: HttpRequest) -> Any:
        # Parsed here rather than by ninja's HttpBearer, which logs the whole header
        # (the secret) when its scheme is not "Bearer" and DEBUG is on.
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if not scheme:
            return None  # no header: let the next way in try
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError()
        return self.authenticate(request, token.strip())

    async def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = await user_for_token(token)
        if user is None:
            raise AuthenticationError()
        return user


class SessionUser(APIKeyCookie):
    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        # Ninja checks CSRF before it looks for the cookie: without this, a caller with no
        # session at all would get "CSRF check failed" (403) instead of a 401.
        if self.param_name not in request.COOKIES:
            return None
        return super()._get_key(request)

    async def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        if not key:
            return None
        user = await request.auser()
        return user if user.is_authenticated else None


class Anonymous:
    """Lets a read through without credentials: request.auth is an AnonymousUser."""

    is_async = True

    async def __call__(self, request: HttpRequest) -> AnonymousUser:
        return AnonymousUser()


WRITE = [BearerToken(), SessionUser()]
READ = [*WRITE, Anonymous()]
# Ninja lists only the auth classes as an operation's security (and extends that list with
# this one): the empty requirement tells OpenAPI clients that reads work without credentials.
READ_OPENAPI: dict[str, Any] = {"security": [{}]}


def add_error_handlers(api: NinjaAPI) -> None:
    def unauthenticated(request: HttpRequest, exc: Any) -> HttpResponse:
        # The same answer for a missing, malformed, unknown, expired or revoked token.
        detail = "Authentication required: a valid bearer token or session"
        response = api.create_response(request, {"detail": detail}, status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response

    api.add_exception_handler(AuthenticationError, unauthenticated)
