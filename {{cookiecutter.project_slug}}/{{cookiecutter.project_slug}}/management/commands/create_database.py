"""`manage.py create_database` (`make db`): create the PostgreSQL database DATABASE_URL
names, once, before the first `migrate`. Connects to the server's `postgres` database with
the same user; a database that exists already is left as it is.
"""

from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from psycopg import sql

from ...runtime.database_check import CONNECT_TIMEOUT, postgresql_problem


class Command(BaseCommand):
    help = "Create the PostgreSQL database that DATABASE_URL names, if it does not exist."

    def handle(self, *args: Any, **options: Any) -> None:
        params = connections["default"].get_connection_params()
        name = params["dbname"]
        server = {**params, "dbname": "postgres", "connect_timeout": CONNECT_TIMEOUT}
        if problem := postgresql_problem(server):
            raise CommandError(problem)
        with psycopg.connect(**server, autocommit=True) as admin:
            if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
                self.stdout.write(f'Database "{name}" exists already.')
                return
            try:
                admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.InsufficientPrivilege:
                raise CommandError(
                    f"User {params.get('user')!r} may not create databases: ask an "
                    f'administrator to run CREATE DATABASE "{name}" OWNER "{params.get("user")}"'
                ) from None
        self.stdout.write(self.style.SUCCESS(f'Created database "{name}". Next: make migrate'))
