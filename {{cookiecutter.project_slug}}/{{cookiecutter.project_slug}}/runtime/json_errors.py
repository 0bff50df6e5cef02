"""JSON error answers everywhere under /api/, whoever made them.

Ninja answers its own errors in JSON, but a URL no operation serves gets Django's HTML
404 page, a wrong method Ninja's plain-text 405, a bad Host header Django's HTML 400.
This middleware gives each such answer under /api/ the body {"detail": <reason>}, with
the same status and headers (Allow included), the reason saying what was expected. The
admin and the docs page keep their HTML.
"""

import json
from typing import Any

from asgiref.sync import markcoroutinefunction
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse, HttpResponseBase

API_PREFIX = "/api/"
JSON = "application/json"


class JsonErrorsMiddleware:
    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith(JSON)
        ):
            return response
        return as_json(response, reason(request, response))


def host_allowed(request: HttpRequest) -> bool:
    try:
        request.get_host()
    except DisallowedHost:
        return False
    return True


def reason(request: HttpRequest, response: HttpResponseBase) -> str:
    """What went wrong, and what was expected instead."""
    if response.status_code == 404:
        return (
            "Not Found: no operation has this path (ids in paths are whole numbers; see /api/docs)"
        )
    if response.status_code == 405 and response.has_header("Allow"):
        return f"Method Not Allowed: this path answers {response['Allow']}"
    if response.status_code == 400 and not host_allowed(request):
        return "Bad Request: the Host header names no host this server serves (ALLOWED_HOSTS)"
    return response.reason_phrase


def as_json(response: HttpResponseBase, detail: str) -> HttpResponseBase:
    """The same answer (status, headers, cookies) with the JSON body {"detail": detail}."""
    body = json.dumps({"detail": detail}).encode()
    if not isinstance(response, HttpResponse):  # streamed: swap in a plain response
        replacement = HttpResponse(status=response.status_code)
        for header, value in response.items():
            replacement[header] = value
        replacement.cookies = response.cookies
        response = replacement
    response.content = body
    response["Content-Type"] = JSON
    if "Content-Length" in response:
        response["Content-Length"] = str(len(body))
    return response
