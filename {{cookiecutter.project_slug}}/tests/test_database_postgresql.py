"""PostgreSQL trouble is a 503 with Retry-After, not a 500: here, a pool with no
connection free in time."""

import pytest
from asgiref.sync import sync_to_async
from django.db import connection, connections
from django.test import AsyncClient
from psycopg_pool import PoolTimeout

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
