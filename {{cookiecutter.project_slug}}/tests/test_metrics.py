"""Prometheus metrics: counted in every worker process, read whole by any one scrape, and
shown only to the holder of METRICS_TOKEN."""

import time
from pathlib import Path

import httpx
import pytest
from django.conf import LazySettings, settings
from django.test import Client
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from keyvalue import StoreUnavailable
from observability import metrics
from outbox.worker import TaskWorker
from ratelimit.limits import FailOpenLog

from .served import served
from .task_examples import note_run

TOKEN = "a-metrics-token-for-the-tests"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def workers_that_counted(folder: Path) -> set[str]:
    """The pids of the processes whose request histogram has a file: those that served one."""
    return {path.stem.rsplit("_", 1)[1] for path in folder.glob("histogram_*.db")}


@pytest.mark.django_db(transaction=True)
def test_a_scrape_counts_every_request_of_both_workers(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    environment = {
        "METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "METRICS_SAMPLE_SECONDS": "0.2",
    }
    ok = invalid = 0
    with served(environment, tmp_path / "server.log", workers=2) as server:
        # A connection per request, so that both workers take some; until both have.
        deadline = time.monotonic() + 60
        while ok < 100 or len(workers_that_counted(folder)) < 2:
            assert time.monotonic() < deadline, "one worker took every connection for 60 s"
            answer = httpx.get(f"{server.url}/api/probe/async", params={"delay": "0"})
            assert answer.status_code == 200
            ok += 1
        for _ in range(7):
            answer = httpx.get(f"{server.url}/api/probe/async", params={"delay": "soon"})
            assert answer.status_code == 422
            invalid += 1
        anonymous = httpx.get(f"{server.url}/metrics")
        wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer guess"})
        scrape = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})

    assert (anonymous.status_code, wrong.status_code, scrape.status_code) == (401, 401, 200)
    assert "http_server" not in anonymous.text + wrong.text
    found = samples(scrape.text)
    route = ("route", "/api/probe/async")
    count = "http_server_request_duration_seconds_count"
    get_200 = frozenset({route, ("method", "GET"), ("status", "200")})
    get_422 = frozenset({route, ("method", "GET"), ("status", "422")})
    assert found[(count, get_200)] == ok
    assert found[(count, get_422)] == invalid
    assert found[("http_server_active_requests", frozenset())] == 1  # the scrape itself
    assert ("tasks_queue", frozenset({("measure", "due")})) in found
    if not settings.STOCK_ASGI_HANDLER:  # Django's own handler has no kept threads to show
        assert ("request_threads", frozenset({("state", "kept")})) in found
{%- if cookiecutter.database == "postgresql" %}
    assert found[("database_pool_connections", frozenset({("state", "in_use")}))] >= 0
{%- endif %}


def test_the_metrics_page_is_not_there_without_a_token(
    client: Client, settings: LazySettings
) -> None:
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404


@pytest.fixture
def metrics_on(settings: LazySettings) -> metrics.Metrics:
    settings.METRICS_TOKEN = TOKEN
    found = metrics.get()
    assert found is not None
    return found


def test_a_rate_limit_check_that_failed_open_is_counted(metrics_on: metrics.Metrics) -> None:
    labels = {"scope": "probe-test"}
    before = REGISTRY.get_sample_value("rate_limit_failed_open_total", labels) or 0
    FailOpenLog().record("probe-test", StoreUnavailable("Redis counting failed"))
    assert REGISTRY.get_sample_value("rate_limit_failed_open_total", labels) == before + 1


@pytest.mark.django_db(transaction=True)
async def test_task_runs_are_counted_by_task_and_outcome(
    metrics_on: metrics.Metrics, tmp_path: Path
) -> None:
    labels = {"task": note_run.module_path, "outcome": "succeeded"}
    before = REGISTRY.get_sample_value("tasks_runs_total", labels) or 0
    await note_run.aenqueue(str(tmp_path / "runs"), 1)
    await note_run.aenqueue(str(tmp_path / "runs"), 2)
    await TaskWorker().run_until_idle()
    assert REGISTRY.get_sample_value("tasks_runs_total", labels) == before + 2
