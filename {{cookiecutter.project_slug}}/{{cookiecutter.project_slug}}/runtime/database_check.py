"""One bounded look at PostgreSQL before `migrate` and when the server starts, so a
missing database, a refused connection or bad credentials is one clear line.

Without it, `migrate` on PostgreSQL waited for the pool's timeout and ended in "couldn't
get a connection after 10.00 sec", the cause buried in pool warnings above. The look
opens one connection of its own (no pool), within CONNECT_TIMEOUT seconds. Registered as
a database check: Django runs those for `migrate` and `check --database default`.
"""

import logging
from typing import Any

import psycopg
from django.core.checks import CheckMessage, Error, Tags, register
from django.db import connections

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3  # seconds


def database_problem(alias: str = "default") -> str | None:
    """What stops a connection to the database, in one line; None when it connects."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return None
    return postgresql_problem(connection.get_connection_params())


def postgresql_problem(params: dict[str, Any]) -> str | None:
    params = {k: v for k, v in params.items() if k not in ("cursor_factory", "context")}
    params["connect_timeout"] = min(int(params.get("connect_timeout") or 99), CONNECT_TIMEOUT)
    where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
    name, user = params.get("dbname", ""), params.get("user", "")
    try:
        psycopg.connect(**params).close()
    except psycopg.OperationalError as error:
        text = str(error)
        if f'database "{name}" does not exist' in text:
            return (
                f'Database "{name}" does not exist on the PostgreSQL server at {where}: '
                "create it with `make db` (manage.py create_database)"
            )
        if "password authentication failed" in text or f'role "{user}" does not exist' in text:
            return (
                f"The PostgreSQL server at {where} refused user {user!r}: "
                "check the user and password in DATABASE_URL"
            )
        if "refused" in text or "could not translate host name" in text:
            return (
                f"Nothing accepts connections at {where}: start PostgreSQL "
                "(`docker compose up -d db`) or fix the host and port in DATABASE_URL"
            )
        if "timeout" in text.lower():
            return f"No answer from {where} within {CONNECT_TIMEOUT} s: is DATABASE_URL right?"
        return f"Cannot connect to PostgreSQL at {where}: {text.strip().splitlines()[-1]}"
    return None


@register(Tags.database)
def check_database_reachable(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    databases: list[str] = kwargs.get("databases") or []
    return [
        Error(problem, id="database.E001")
        for alias in databases
        if (problem := database_problem(alias))
    ]


async def log_database_problem() -> None:
    """At server start: say once, clearly, what keeps the database out of reach."""
    from asgiref.sync import sync_to_async

    if problem := await sync_to_async(database_problem, thread_sensitive=False)():
        logger.error("%s", problem)
