"""Django's stock middleware without the thread hops.

Under ASGI, Django runs every stock middleware's process_request and process_response
through sync_to_async: a hop to the request's thread and back, twice per middleware,
per request. The classes below run those methods inline on the event loop, which is
safe because they only read and write headers and cookies. Where a method can do I/O
(a session or message store that a view used), it still runs in the thread.
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.messages.storage import default_storage
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponsePermanentRedirect
from django.middleware import clickjacking, common, csrf, security
from django.utils.deprecation import MiddlewareMixin
from django.utils.functional import SimpleLazyObject, empty


class InlineHooksMixin(MiddlewareMixin):
    """Run process_request / process_response on the event loop (they do no I/O)."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase | None = None
        process_request = getattr(self, "process_request", None)
        if process_request is not None:
            response = process_request(request)
        if response is None:
            response = await self.get_response(request)  # type: ignore[misc]
        process_response = getattr(self, "process_response", None)
        if process_response is not None:
            response = process_response(request, response)
        assert response is not None
        return response


class SecurityMiddleware(InlineHooksMixin, security.SecurityMiddleware):
    pass


# Load balancers and orchestrators probe by address (Kubernetes sends the pod IP as Host):
# these answer whatever the Host. Every other path still checks it against ALLOWED_HOSTS.
PROBE_PATHS = frozenset({"/api/health", "/api/ready"})


class CommonMiddleware(InlineHooksMixin, common.CommonMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponsePermanentRedirect | None:
        if request.path in PROBE_PATHS:
            return None  # no Host check, no slash or www redirect: a probe asked for this path
        return super().process_request(request)


class CsrfViewMiddleware(InlineHooksMixin, csrf.CsrfViewMiddleware):
    async def process_view(self, request: HttpRequest, *args: Any) -> HttpResponseBase | None:  # type: ignore[override]
        # The handler awaits a coroutine process_view inline, instead of hopping to a thread.
        return super().process_view(request, *args)


class AuthenticationMiddleware(InlineHooksMixin, auth.AuthenticationMiddleware):
    pass  # request.user is lazy: loaded only if a view asks for it


class XFrameOptionsMiddleware(InlineHooksMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(InlineHooksMixin, sessions.SessionMiddleware):
    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.process_request(request)  # a lazy store: no query yet
        response = await self.get_response(request)  # type: ignore[misc]
        session = request.session
        if session.accessed or session.modified or settings.SESSION_SAVE_EVERY_REQUEST:
            # Saving the session is database I/O: do it in the request's thread.
            return await sync_to_async(self.process_response)(request, response)
        return self.process_response(request, response)


class MessageMiddleware(InlineHooksMixin, messages.MessageMiddleware):
    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # The default storage builds a cookie signer: do that only for requests that use
        # messages (the admin's), not for every API call.
        storage = SimpleLazyObject(lambda: default_storage(request))
        request._messages = storage  # type: ignore[attr-defined]
        response: HttpResponse = await self.get_response(request)  # type: ignore[misc]
        if storage._wrapped is empty:
            return response
        if storage.used or storage.added_new:
            # Storing messages may write the session: database I/O, so in the thread.
            return await sync_to_async(self.process_response)(request, response)
        return self.process_response(request, response)
