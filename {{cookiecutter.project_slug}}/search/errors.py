"""Every way a search can fail, mapped once to a clear HTTP answer (never a 500).

The detail is logged here; the client gets a short message without internals.
elasticsearch-py's classes do not nest the way one would guess: ConnectionTimeout is
not a ConnectionError, ApiError is not a TransportError, and UnsupportedProductError
carries status 200. So each is mapped by name.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    BadRequestError,
    ConnectionError,
    ConnectionTimeout,
    TransportError,
    UnsupportedProductError,
)
from ninja import NinjaAPI

from {{ cookiecutter.project_slug }}.errors import Message

logger = logging.getLogger(__name__)

MAX_REASON_LENGTH = 200
# What a search can answer besides its hits, for the operation's OpenAPI entry.
SEARCH_ERRORS = {400: Message, 502: Message, 503: Message, 504: Message}


def query_error_reason(exc: BadRequestError) -> str:
    """The engine's one-line reason for rejecting a query (e.g. "Failed to parse query [a:(]")."""
    try:
        causes = exc.body["error"]["root_cause"]
        reason = str(causes[0]["reason"] if causes else exc.body["error"]["reason"])
    except (KeyError, IndexError, TypeError):
        reason = "the query could not be parsed"
    return reason[:MAX_REASON_LENGTH]


def add_error_handlers(api: NinjaAPI) -> None:
    # Handlers take Any: Ninja's stub types them as (request, exc or exc class).
    def answer(status: int, detail: str) -> Callable[[HttpRequest, Any], HttpResponse]:
        def handler(request: HttpRequest, exc: Any) -> HttpResponse:
            logger.warning("Search failed with %s on %s: %r", status, request.path, exc)
            return api.create_response(request, {"detail": detail}, status=status)

        return handler

    def bad_query(request: HttpRequest, exc: Any) -> HttpResponse:
        # The engine's reason names its internals (parser classes, index names): logged,
        # not answered.
        logger.info("Search refused a query: %s", query_error_reason(exc))
        detail = "Malformed query: check the query_string syntax (quotes, brackets, field:value)"
        return api.create_response(request, {"detail": detail}, status=400)

    api.add_exception_handler(BadRequestError, bad_query)
    api.add_exception_handler(ConnectionTimeout, answer(504, "The search engine timed out"))
    api.add_exception_handler(ConnectionError, answer(503, "The search engine is unavailable"))
    api.add_exception_handler(
        AuthenticationException, answer(502, "The search engine refused our credentials")
    )
    api.add_exception_handler(
        AuthorizationException, answer(502, "The search engine refused our credentials")
    )
    api.add_exception_handler(
        UnsupportedProductError, answer(502, "The search server is not Elasticsearch")
    )
    api.add_exception_handler(ApiError, answer(502, "The search engine answered with an error"))
    api.add_exception_handler(TransportError, answer(502, "The search engine could not be read"))
