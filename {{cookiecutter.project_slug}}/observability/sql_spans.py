"""A span for every SQL query, on SQLite and PostgreSQL alike.

Django's own hook (`connection.execute_wrappers`, added to each connection as it is made)
rather than the psycopg and sqlite3 instrumentations: one piece of code for both databases,
and no proxy around the connections that Django's psycopg pool hands out. The span holds
the SQL with its placeholders, never the parameters (they can be personal data).
"""

import re
from collections.abc import Callable
from typing import Any

from django.db.backends.signals import connection_created
from opentelemetry import trace

tracer = trace.get_tracer(__name__)
SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite"}
# The first table a query names, as Django quotes it on both databases.
FIRST_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"([^"]+)"')


def trace_sql() -> None:
    connection_created.connect(_wrap_connection, dispatch_uid="observability.sql_spans")


def _wrap_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if traced_query not in connection.execute_wrappers:
        connection.execute_wrappers.append(traced_query)


def traced_query(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    connection = context["connection"]
    operation = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "SQL"
    attributes = {
        "db.system.name": SYSTEMS.get(connection.vendor, connection.vendor),
        "db.namespace": str(connection.settings_dict.get("NAME") or ""),
        "db.operation.name": operation,
        "db.query.text": sql,
    }
    table = FIRST_TABLE.search(sql)
    name = f"{operation} {table.group(1)}" if table else operation
    with tracer.start_as_current_span(name, kind=trace.SpanKind.CLIENT, attributes=attributes):
        return execute(sql, params, many, context)
