"""SQLite as a web server's database: writers queue for their turn (in the process first,
then in SQLite), and a lock held past the wait is a 503 with Retry-After, not a 500."""

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import OperationalError, connection, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper as StockDatabaseWrapper
from django.test import AsyncClient

from accounts.models import User

from {{ cookiecutter.project_slug }}.errors import DATABASE_RETRY_AFTER
from {{ cookiecutter.project_slug }}.runtime.sqlite.base import DatabaseWrapper, _write_lock

from .conftest import bearer

WRITERS = 8


def file_database(path: Path, *, backend: type = DatabaseWrapper, **options: Any) -> Any:
    """A connection with the project's SQLite backend and options, to a database file of
    the test's own (the test database is shared by the whole run)."""
    settings = {**connection.settings_dict, "NAME": str(path)}
    settings["OPTIONS"] = {**settings["OPTIONS"], **options}
    return backend(settings, alias="file")


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
    would fail at once ("database is locked"); immediate ones wait for the lock. Each
    thread uses Django's stock backend, as writers in separate processes would: the
    project's backend queues the threads of one process before they reach SQLite."""
    errors: list[Exception] = []
    start = threading.Barrier(WRITERS)

    def write() -> None:
        connections["file"] = file_database(database_file, backend=StockDatabaseWrapper)
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


@pytest.mark.skipif(
    settings.STOCK_SQLITE_BACKEND,
    reason="STOCK_SQLITE_BACKEND is on: Django's backend serves, not runtime/sqlite",
)
def test_the_project_uses_its_backend() -> None:
    backend = connection.settings_dict["ENGINE"]
    assert backend == "{{ cookiecutter.project_slug }}.runtime.sqlite"


@pytest.mark.parametrize("ending", ["commit", "rollback", "close"])
def test_a_transaction_holds_the_process_write_lock_until_it_ends(
    database_file: Path, ending: str
) -> None:
    """However a transaction ends, the next writer of the process may go: a lock left held
    would stop every write of the process."""
    database = connections["file"] = file_database(database_file)
    try:
        if ending == "commit":
            with transaction.atomic(using="file"):
                database.cursor().execute("INSERT INTO counter VALUES (1)")
                held = _write_lock.locked()
        elif ending == "rollback":
            with pytest.raises(RuntimeError), transaction.atomic(using="file"):
                database.cursor().execute("INSERT INTO counter VALUES (1)")
                held = _write_lock.locked()
                raise RuntimeError("the change failed")
        else:
            database.ensure_connection()
            database._start_transaction_under_autocommit()  # as atomic() does
            held = _write_lock.locked()
            database.close()  # e.g. the connection broke mid-transaction
        released = not _write_lock.locked()  # before the connection is closed below
    finally:
        database.close()
        del connections["file"]

    assert held is True
    assert released is True


def test_a_writer_waits_for_the_process_lock_no_longer_than_the_timeout(
    database_file: Path,
) -> None:
    holder = file_database(database_file)
    holder.ensure_connection()
    holder._start_transaction_under_autocommit()  # as atomic() does
    errors: list[Exception] = []

    def write() -> None:
        waiter = file_database(database_file, timeout=0.2)
        try:
            waiter.ensure_connection()
            waiter._start_transaction_under_autocommit()
        except OperationalError as exc:
            errors.append(exc)
        finally:
            waiter.close()

    try:
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(5)
    finally:
        holder.close()

    assert [str(error) for error in errors] == ["database is locked"]  # a 503 in the API


def close_connection() -> None:
    connection.close()


@pytest.mark.django_db(transaction=True)
async def test_a_locked_database_is_a_503_with_retry_after(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = await bearer(alice)
    # Writers wait 0.2 s for the lock, from the request thread's next connection on.
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "timeout", 0.2)
    await sync_to_async(close_connection)()
    # Another connection to the test database holds SQLite's write lock.
    holder = sqlite3.connect(connection.settings_dict["NAME"])
    holder.execute("BEGIN IMMEDIATE")
    try:
        response = await AsyncClient().post(
            "/api/probe/groups", {"name": "waits"}, "application/json", headers=headers
        )
    finally:
        holder.rollback()
        holder.close()
        monkeypatch.undo()
        await sync_to_async(close_connection)()

    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER)
    assert response.json() == {"detail": "The database is busy or unavailable; try again shortly"}
