"""Django's SQLite backend, with write transactions queued in the process, not in SQLite.

SQLite has one write lock. A writer that finds it taken sleeps in SQLite's busy handler
(1, 2, 5 ... 100 ms, again and again) and whoever tries at the right moment goes first,
so under load some writers wait for seconds. Here the threads of one process take turns
on a lock of their own before BEGIN IMMEDIATE, and a thread that waits is woken as soon
as the lock is free. SQLite's busy handler is then left for writers in other processes.

Measured (the template's bench, one uvicorn worker, 20 clients writing rows at once): p99 of
a write from 1.2 s down to 0.19 s, max from 2.5 s to 0.26 s, 146 to 174-218 writes/s.
"""

import threading
from typing import Any

from django.db import OperationalError
from django.db.backends.sqlite3 import base

_write_lock = threading.Lock()


class DatabaseWrapper(base.DatabaseWrapper):
    _holds_write_lock = False

    def _start_transaction_under_autocommit(self) -> None:
        # The outermost atomic block only: savepoints run inside it. Waits no longer than
        # SQLite itself would (the "timeout" option); past it, the usual "database is
        # locked" error, which the API answers with a 503.
        timeout = self.settings_dict["OPTIONS"].get("timeout", 5.0)
        if not _write_lock.acquire(timeout=timeout):
            raise OperationalError("database is locked")
        self._holds_write_lock = True
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # private: not in the stubs
        except BaseException:
            self._release_write_lock()
            raise

    def _release_write_lock(self) -> None:
        if self._holds_write_lock:
            self._holds_write_lock = False
            _write_lock.release()

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # private: not in the stubs
        finally:
            self._release_write_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # private: not in the stubs
        finally:
            self._release_write_lock()

    def _close(self) -> Any:
        try:
            return super()._close()  # type: ignore[misc]  # private: not in the stubs
        finally:
            self._release_write_lock()
