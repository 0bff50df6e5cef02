"""PostgreSQL: trouble is a 503 with Retry-After, not a 500 (here, a pool with no
connection free in time); outbox workers in many processes never share a key."""

import threading
import time
from collections import Counter

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections, transaction
from django.test import AsyncClient
from psycopg_pool import PoolTimeout

from outbox import store
from outbox.models import Message

from {{ cookiecutter.project_slug }}.errors import DATABASE_RETRY_AFTER


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
        response = await AsyncClient().get("/api/blog/posts")
    finally:
        pool.timeout = previous_timeout
        for held_connection in held:
            pool.putconn(held_connection)

    assert held
    assert response.status_code == 503
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_hold_the_same_key() -> None:
    """Four workers (threads, each with its own connection, as processes would have) claim
    200 messages of 20 keys at once: each message is handled once, each key's in order."""
    with transaction.atomic():
        for n in range(200):
            store.record("test.concurrent", [f"key-{n % 20}"], {"n": n})
    handled: list[tuple[str, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while Message.objects.filter(state="pending").exists():
                claim = store.claim(topics=["test.concurrent"], limit=5, lease=60)
                for message in claim.messages:
                    with lock:
                        handled.append((message.key, message.payload["n"]))
                time.sleep(0.001)  # while it works, the others claim
                store.finish(claim, {})
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=work) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert Counter(n for _, n in handled).most_common(1)[0][1] == 1  # none twice
    assert sorted(n for _, n in handled) == list(range(200))  # none lost
    for key in {key for key, _ in handled}:
        ns = [n for k, n in handled if k == key]
        assert ns == sorted(ns), key
