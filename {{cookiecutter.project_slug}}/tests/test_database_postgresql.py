"""PostgreSQL: trouble is a 503 with Retry-After, not a 500 (here, a pool with no
connection free in time); outbox workers in many processes never share a key; a database
out of reach is one clear line at `migrate` and at server start."""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection, connections
from django.test import AsyncClient
from psycopg_pool import PoolTimeout

from outbox import store

from {{ cookiecutter.project_slug }}.errors import DATABASE_RETRY_AFTER
from {{ cookiecutter.project_slug }}.runtime.database_check import postgresql_problem

from .conftest import WrittenLines
from .task_examples import record

PROJECT_SETTINGS = "{{ cookiecutter.project_slug }}.settings"


def server_url(**parts: str) -> str:
    """The test server's URL, with some of its parts changed."""
    params = {**connection.get_connection_params(), **parts}
    return (
        f"postgres://{params['user']}@{params.get('host') or '127.0.0.1'}:"
        f"{params.get('port') or 5432}/{params['dbname']}"
    )


def migrate(url: str) -> str:
    """`manage.py migrate` in a process of its own, as a user runs it; what it printed."""
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        env={**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0, result.stdout
    return result.stderr


@pytest.mark.parametrize(
    ("parts", "line"),
    [
        ({"dbname": "no_such_db"}, 'Database "no_such_db" does not exist on the PostgreSQL server'),
        ({"port": "9"}, "Nothing accepts connections at "),
        ({"user": "no_such_user"}, "refused user 'no_such_user': check the user and password"),
    ],
)
def test_migrate_says_in_one_line_why_the_database_is_out_of_reach(
    parts: dict[str, str], line: str
) -> None:
    printed = migrate(server_url(**parts))

    assert line in printed
    assert "couldn't get a connection" not in printed  # the pool's timeout is not waited for
    assert "Traceback" not in printed


def test_create_database_makes_the_database_once() -> None:
    name = f"made_{uuid.uuid4().hex[:8]}"
    params = {**connection.get_connection_params(), "dbname": name}
    environment = {
        **os.environ,
        "DATABASE_URL": server_url(dbname=name),
        "DJANGO_SETTINGS_MODULE": PROJECT_SETTINGS,
    }
    assert "does not exist" in (postgresql_problem(params) or "")
    try:
        said = [
            subprocess.run(
                [sys.executable, "manage.py", "create_database"],
                env=environment,
                cwd=settings.BASE_DIR,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for _ in range(2)
        ]
        assert postgresql_problem(params) is None
        assert [line.split(".")[0] for line in said] == [
            f'Created database "{name}"',
            f'Database "{name}" exists already',
        ]
    finally:
        server = {**params, "dbname": "postgres"}
        with psycopg.connect(**server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


async def test_the_server_start_logs_a_database_out_of_reach(
    written_lines: WrittenLines, monkeypatch: pytest.MonkeyPatch
) -> None:
    from {{ cookiecutter.project_slug }}.runtime import database_check

    # On the class: the check connects from a thread of its own, with its own connection.
    backend = type(connections["default"])
    real_params = backend.get_connection_params
    monkeypatch.setattr(
        backend,
        "get_connection_params",
        lambda self: {**real_params(self), "dbname": "no_such_db"},
    )

    await database_check.log_database_problem()

    [said] = [line for line in written_lines() if "no_such_db" in line]
    assert "ERROR" in said and "make db" in said


@pytest.mark.django_db(transaction=True)
async def test_an_exhausted_pool_is_a_503_with_retry_after() -> None:
    # The view will run in the thread of sync_to_async work: it must ask the pool for a
    # connection, not reuse one that an earlier test's ORM call left open there.
    await sync_to_async(connections.close_all)()
    pool = connection.pool  # type: ignore[attr-defined]  # the PostgreSQL backend's
    assert pool is not None, "the project's settings turn psycopg's pool on"
    held = []
    try:
        while True:  # take every connection the pool will give
            held.append(pool.getconn(timeout=0.5))
    except PoolTimeout:
        pass
    previous_timeout, pool.timeout = pool.timeout, 0.5
    try:
        # The view's thread asks the pool for a connection, and waits in vain.
        response = await AsyncClient().get("/api/probe/groups/1")
    finally:
        pool.timeout = previous_timeout
        for held_connection in held:
            pool.putconn(held_connection)

    assert held
    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_claim_the_same_task() -> None:
    """Four workers (threads, each with its own connection, as processes would have) claim
    200 tasks at once, five at a time: each task is claimed once (the advisory lock)."""
    for n in range(200):
        record.enqueue(str(n))
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(worker_id: str) -> None:
        try:
            while rows := store.claim(worker_id, ["default"], 5):
                with lock:
                    claimed.extend(row.pk for row in rows)
                time.sleep(0.001)  # while it works, the others claim
                store.finish_all([(row, store.Outcome()) for row in rows])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert Counter(claimed).most_common(1)[0][1] == 1  # none twice
    assert len(claimed) == 200  # none left
