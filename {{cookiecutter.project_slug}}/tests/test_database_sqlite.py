"""SQLite as a web server's database: writers queue for their turn, and a lock held past
the wait is a 503 with Retry-After, not a 500."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper
from django.test import AsyncClient

from {{ cookiecutter.project_slug }}.errors import DATABASE_RETRY_AFTER

WRITERS = 8


def file_database(path: Path) -> DatabaseWrapper:
    """A connection with the project's SQLite options, to a database file (the test
    database lives in memory, where journal modes and file locks do not apply)."""
    return DatabaseWrapper({**connection.settings_dict, "NAME": str(path)}, alias="file")


@pytest.fixture
def database_file(tmp_path: Path, django_db_blocker: Any) -> Iterator[Path]:
    """A file with one table; the tests may connect to it (pytest-django allows only the
    test database otherwise)."""
    path = tmp_path / "db.sqlite3"
    with django_db_blocker.unblock():
        setup = file_database(path)
        with setup.cursor() as cursor:
            cursor.execute("CREATE TABLE counter (n integer)")
        setup.close()
        yield path


def test_connections_use_wal_and_synchronous_normal(database_file: Path) -> None:
    database = file_database(database_file)
    with database.cursor() as cursor:
        journal = cursor.execute("PRAGMA journal_mode").fetchone()[0]
        synchronous = cursor.execute("PRAGMA synchronous").fetchone()[0]
    database.close()

    assert (journal, synchronous) == ("wal", 1)  # 1 is NORMAL


def test_concurrent_read_then_write_transactions_all_commit(database_file: Path) -> None:
    """The shape of publish: read, then write, in one transaction. Deferred transactions
    would fail at once ("database is locked"); immediate ones wait for the lock."""
    errors: list[Exception] = []
    start = threading.Barrier(WRITERS)

    def write() -> None:
        connections["file"] = file_database(database_file)  # this thread's own connection
        try:
            start.wait()
            with transaction.atomic(using="file"), connections["file"].cursor() as cursor:
                (count,) = cursor.execute("SELECT count(*) FROM counter").fetchone()
                time.sleep(0.01)  # others read meanwhile
                cursor.execute("INSERT INTO counter VALUES (%s)", [count + 1])
        except Exception as exc:
            errors.append(exc)
        finally:
            connections["file"].close()

    threads = [threading.Thread(target=write) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = sqlite3.connect(database_file).execute("SELECT n FROM counter ORDER BY n").fetchall()

    assert errors == []
    assert rows == [(n,) for n in range(1, WRITERS + 1)]  # serialised: each saw the last


@pytest.mark.django_db(transaction=True)
async def test_a_locked_database_is_a_503_with_retry_after() -> None:
    # Another connection to the test database holds the write lock on the posts table.
    holder = sqlite3.connect(connection.settings_dict["NAME"], uri=True)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute(
        "INSERT INTO blog_post (title, body, published, created_at, updated_at) "
        "VALUES ('x', '', 1, '2026-01-01', '2026-01-01')"
    )
    try:
        response = await AsyncClient().get("/api/blog/posts")
    finally:
        holder.rollback()
        holder.close()

    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert response.json() == {"detail": "The database is busy or unavailable; try again shortly"}
