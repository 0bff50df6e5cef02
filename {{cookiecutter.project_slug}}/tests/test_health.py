"""GET /api/health and GET /api/ready."""

import asyncio

import pytest
from django.conf import LazySettings
from django.test import AsyncClient

from {{ cookiecutter.project_slug }} import health

from .conftest import OWN_MIDDLEWARE

pytestmark = pytest.mark.django_db(transaction=True)


async def test_health_answers_without_checking_anything() -> None:
    response = await AsyncClient().get("/api/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_checks_the_database(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only the database: other apps' checks have tests of their own.
    monkeypatch.setattr(health, "ready_checks", lambda: {"database": health.check_database})

    response = await AsyncClient().get("/api/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok"},
        "tasks": {"due": 0, "oldest_due_seconds": None, "failed": 0},
    }


async def test_ready_is_a_503_naming_a_dependency_that_hangs(
    monkeypatch: pytest.MonkeyPatch, settings: LazySettings
) -> None:
    async def hangs() -> None:
        await asyncio.sleep(60)

    settings.READY_CHECK_TIMEOUT = 0.2
    monkeypatch.setattr(
        health, "ready_checks", lambda: {"database": health.check_database, "queue": hangs}
    )

    response = await AsyncClient().get("/api/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["checks"] == {"database": "ok", "queue": "timed out after 0.2 s"}


async def test_ready_is_a_503_naming_a_dependency_that_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fails() -> None:
        raise ConnectionRefusedError("secret internals")

    monkeypatch.setattr(health, "ready_checks", lambda: {"database": fails})

    response = await AsyncClient().get("/api/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failed: ConnectionRefusedError"}


async def test_ready_runs_the_checks_at_the_same_time(
    monkeypatch: pytest.MonkeyPatch, settings: LazySettings
) -> None:
    # Each check waits until the other has started: run one after the other, one times out.
    first_started, second_started = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        first_started.set()
        await second_started.wait()

    async def second() -> None:
        second_started.set()
        await first_started.wait()

    settings.READY_CHECK_TIMEOUT = 1
    monkeypatch.setattr(health, "ready_checks", lambda: {"first": first, "second": second})

    response = await AsyncClient().get("/api/ready")

    assert response.json()["checks"] == {"first": "ok", "second": "ok"}


def test_health_checks_are_exempt_from_the_https_redirect(settings: LazySettings) -> None:
    from django.test import Client

    settings.SECURE_SSL_REDIRECT = True

    assert Client().get("/api/health").status_code == 200
    assert Client().get("/api/probe/sync").status_code == 301


@pytest.mark.parametrize("method", ["head", "options"])
@pytest.mark.parametrize("path", ["/api/health", "/api/ready"])
async def test_probes_answer_head_and_options(
    method: str, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "ready_checks", lambda: {"database": health.check_database})

    response = await getattr(AsyncClient(), method)(path)

    assert response.status_code == 200


@OWN_MIDDLEWARE
def test_probes_answer_whatever_the_host_and_nothing_else_does(
    settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.test import Client

    # The database only: a search client made on this sync client's loop would outlive it.
    monkeypatch.setattr(health, "ready_checks", lambda: {"database": health.check_database})
    # As documented for production; a Kubernetes probe sends the pod's IP as Host.
    settings.ALLOWED_HOSTS = ["api.example.com"]
    pod = Client(HTTP_HOST="10.1.2.3:8000")

    assert pod.get("/api/health").status_code == 200
    assert pod.get("/api/ready").status_code in (200, 503)  # answered, not refused
    assert pod.get("/api/probe/sync").status_code == 400
    assert pod.get("/api/health/").status_code == 400  # only the probes' exact paths


@pytest.mark.django_db(transaction=True)
async def test_ready_runs_its_checks_at_most_once_per_cache_time(
    monkeypatch: pytest.MonkeyPatch, settings: LazySettings
) -> None:
    """The probe is public and unthrottled: a flood of it runs the checks once per
    READY_CACHE_SECONDS, and once that has passed, an outage shows."""
    runs: list[int] = []
    real_check = health.check_database

    async def counted() -> None:
        runs.append(1)
        await real_check()

    monkeypatch.setattr(health, "check_database", counted)
    monkeypatch.setattr(health, "_last_answer", None)
    monkeypatch.setattr(health, "_running", None)
    settings.READY_CACHE_SECONDS = 60

    together = await asyncio.gather(*(AsyncClient().get("/api/ready") for _ in range(10)))
    later = await asyncio.gather(*(AsyncClient().get("/api/ready") for _ in range(10)))
    settings.READY_CACHE_SECONDS = 0  # the time has passed
    await AsyncClient().get("/api/ready")

    assert len({response.content for response in [*together, *later]}) == 1  # one answer
    assert len(runs) == 2  # the first ten shared one run, the next ten its answer
