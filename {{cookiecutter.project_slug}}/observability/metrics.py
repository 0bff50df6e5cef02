"""Prometheus metrics, on when METRICS_TOKEN is set (served at /metrics: observability/views.py).

With several worker processes (scripts/serve), each writes its samples to files in
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; scripts/serve makes a fresh
one) and a scrape reads them all, whichever worker answers it. Counts and histograms add up
across workers; gauges of a process (in flight, threads, pool) add up over live workers;
gauges of the shared queue take the most recent sample. Off, prometheus-client is not imported.
"""

from django.conf import settings

_metrics: "Metrics | None" = None
KNOWN_METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        self.request_duration = Histogram(
            "http_server_request_duration_seconds",
            "Requests by route, method and status, and how long they took",
            ["route", "method", "status"],
        )
        self.requests_in_flight = Gauge(
            "http_server_active_requests", "Requests being served", multiprocess_mode="livesum"
        )
        self.request_threads = Gauge(
            "request_threads",
            "Request threads: lent to a request (in_use) or kept for the next (kept)",
            ["state"],
            multiprocess_mode="livesum",
        )
        self.database_pool = Gauge(
            "database_pool_connections",
            "PostgreSQL pool connections: in use, idle, and requests waiting for one",
            ["state"],
            multiprocess_mode="livesum",
        )
        self.queue = Gauge(
            "tasks_queue",
            "Background tasks: due now, failed (given up), and the oldest due task's wait in s",
            ["measure"],
            multiprocess_mode="mostrecent",
        )
        self.task_runs = Counter(
            "tasks_runs",
            "Task runs by task and outcome (succeeded, retrying, failed)",
            ["task", "outcome"],
        )
        self.rate_limit_failed_open = Counter(
            "rate_limit_failed_open",
            "Rate-limit checks let through because the counting store was unavailable",
            ["scope"],
        )


def get() -> Metrics | None:
    """The metrics, or None when they are off (METRICS_TOKEN unset)."""
    global _metrics
    if _metrics is None and settings.METRICS_TOKEN:
        _metrics = Metrics()
    return _metrics


def method_label(method: str | None) -> str:
    return method if method in KNOWN_METHODS else "_OTHER"


def task_finished(task: str, outcome: str) -> None:
    metrics = get()
    if metrics is not None:
        metrics.task_runs.labels(task, outcome).inc()


def rate_limit_failed_open(scope: str) -> None:
    metrics = get()
    if metrics is not None:
        metrics.rate_limit_failed_open.labels(scope).inc()


def exposition() -> tuple[bytes, str]:
    """The scrape's body and content type: every worker's samples in multiprocess mode."""
    import os

    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        REGISTRY,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry), CONTENT_TYPE_LATEST


def process_ended() -> None:
    """This worker's live gauges out of the sums (lifespan shutdown)."""
    import os

    if _metrics is not None and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
