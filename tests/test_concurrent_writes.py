"""The embedded default under real uvicorn: 200 concurrent creates, then 200 concurrent
publishes, and SQLite takes them all (no "database is locked" 500s)."""

import asyncio
from pathlib import Path

import pytest
from conftest import (
    NO_WRITE_THROTTLE,
    BakedProject,
    count_published_posts,
    create_then_publish,
    running_uvicorn,
)

pytestmark = pytest.mark.slow

WRITES = 200


def test_sqlite_takes_200_concurrent_creates_then_publishes(
    default_project: BakedProject, tmp_path: Path
) -> None:
    assert default_project.context["database"] == "sqlite"
    token = default_project.api_token("sqlite-writer")
    log = tmp_path / "uvicorn.log"
    with running_uvicorn(default_project, log, env=NO_WRITE_THROTTLE) as server:
        outcome = asyncio.run(create_then_publish(server.url, token, WRITES))

    print(f"\nSQLite, {WRITES} concurrent creates then publishes: {outcome}")
    assert outcome.server_errors() == 0, log.read_text()[-3000:]
    assert outcome.create_statuses == [201] * WRITES
    assert outcome.publish_statuses == [200] * WRITES
    assert count_published_posts(default_project, "sqlite-writer") == WRITES
