"""Enqueue a task as part of the change that asks for it, whatever the backend.

The outbox backend writes the task in the current transaction: it exists if and only if the
change commits. A backend that cannot (a queue in Redis, say) would hand the task to its
workers at once, before the change is committed or even if it rolls back, and a worker could
read the state from before the change. For such backends the task is enqueued once the
transaction commits (`transaction.on_commit`), never before. A crash between the commit and
the enqueue, or a queue that is down then, loses the task (logged, the change kept): the
price of such a backend.
"""

from typing import Any

from django.db import transaction

from .compat import AnyTask


def joins_transaction(task: AnyTask) -> bool:
    """Whether the task's backend writes the task in the caller's transaction."""
    return bool(getattr(task.get_backend(), "enqueues_in_transaction", False))


def enqueue_with_change(task: AnyTask, *args: Any, **kwargs: Any) -> None:
    """Enqueue in the current transaction if the backend can, else when it commits (at once
    outside a transaction)."""
    if joins_transaction(task):
        task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: task.enqueue(*args, **kwargs), robust=True)
