"""The API's error answers: one set of schemas for every operation, and database trouble
mapped once to a 503 (never a 500).

A locked SQLite database (a writer waited longer than its timeout), an unreachable
PostgreSQL server, or a pool with no connection free in time all reach the view as
django.db.OperationalError (psycopg's PoolTimeout is one too). The client gets a short
message and Retry-After; the log gets the details, once.
"""

import logging
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema

logger = logging.getLogger(__name__)

# Seconds a client should wait before it tries again after a 503 from the database.
DATABASE_RETRY_AFTER = 5


class Message(Schema):
    """Every error answer but 422: what went wrong, in one sentence."""

    detail: str


class ValidationIssue(Schema):
    type: str
    loc: list[str | int]
    msg: str


class ValidationErrors(Schema):
    """422: the request was understood but its values are not valid, one issue per value."""

    detail: list[ValidationIssue]


def add_error_handlers(api: NinjaAPI) -> None:
    def database_unavailable(request: HttpRequest, exc: Any) -> HttpResponse:
        logger.error("Database unavailable on %s: %r", request.path, exc)
        detail = "The database is busy or unavailable; try again shortly"
        response = api.create_response(request, {"detail": detail}, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response

    api.add_exception_handler(OperationalError, database_unavailable)
    api.add_exception_handler(InterfaceError, database_unavailable)
