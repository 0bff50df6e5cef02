"""Search under WSGI (gunicorn): Django runs each async view on a new event loop there, so
a client kept per loop would leak one client, and its sockets, per request."""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.test import Client

from search import client as search_client
from search.client import close_all, get_client
from search.documents import ensure_index, index_name

from .conftest import PLAIN_NODE

pytestmark = pytest.mark.elasticsearch

PROJECT_DIR = Path(__file__).resolve().parents[2]
SEARCHES = 1000


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def an_index_with_a_post() -> None:
    try:
        await ensure_index()
        document = {"title": "wsgi", "body": "", "published": True, "created_at": "2026-01-01"}
        await get_client().index(index=index_name(), id="1", document=document)
        await get_client().indices.refresh(index=index_name())
    finally:
        await close_all()


def test_a_view_on_a_short_lived_loop_closes_its_client() -> None:
    asyncio.run(an_index_with_a_post())
    before = open_files(os.getpid())

    for _ in range(50):  # the sync test client runs the view as WSGI does
        assert Client().get("/api/search", {"q": "wsgi"}).json()["total"] == 1

    assert search_client.clients.clients == {}
    assert open_files(os.getpid()) <= before + 2


@pytest.fixture
def gunicorn(search_engine: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The project under gunicorn (one WSGI worker process): its URL, and the worker's pid."""
    port = 8000 + os.getpid() % 1000
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "ELASTICSEARCH_URL": search_engine,
        "ELASTICSEARCH_NODE_CLASS": PLAIN_NODE,
        "ELASTICSEARCH_INDEX": settings.ELASTICSEARCH_INDEX,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}"),
            "{{ cookiecutter.project_slug }}.wsgi:application",
        ],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/api/health")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None, "did not start"
                time.sleep(0.1)
        children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        yield url, int(children[0])
    finally:
        server.terminate()
        server.wait(10)


def test_a_thousand_searches_under_gunicorn_leave_open_files_flat(
    gunicorn: tuple[str, int],
) -> None:
    url, worker = gunicorn
    asyncio.run(an_index_with_a_post())
    counts = []
    with httpx.Client(base_url=url) as client:
        for n in range(1, SEARCHES + 1):
            assert client.get("/api/search", params={"q": "wsgi"}).json()["total"] == 1
            if n in (100, SEARCHES):
                counts.append(open_files(worker))

    after_100, after_1000 = counts
    assert after_1000 - after_100 <= 5, counts  # one leaked client per search would add 900
