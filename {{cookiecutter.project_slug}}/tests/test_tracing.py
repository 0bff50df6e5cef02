"""Tracing, end to end: the project served by uvicorn with OTEL_EXPORTER_OTLP_ENDPOINT set,
a real OTLP/HTTP receiver (tests/otlp.py) taking what it exports."""

import json
from pathlib import Path

import httpx
import pytest

from .otlp import (
    CLIENT,
    CONSUMER,
    OtlpReceiver,
    descendants,
    server_span,
{%- if cookiecutter.cache == "redis" %}
    system_of,
{%- endif %}
    tracing_environment,
)
from .served import Server, served

pytestmark = pytest.mark.django_db(transaction=True)

CALLER_TRACE, CALLER_SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


def access_line(server: Server, path: str) -> dict[str, str]:
    for line in server.log_lines():
        if line.startswith("{") and '"logger": "access"' in line:
            entry = json.loads(line)
            if entry["path"] == path:
                return dict(entry)
    raise AssertionError(f"no access line for {path}")


def test_a_request_is_one_trace_named_by_its_route_with_its_sql(
    otlp_receiver: OtlpReceiver, tmp_path: Path
) -> None:
    with served(tracing_environment(otlp_receiver), tmp_path / "server.log") as server:
        created = httpx.post(
            f"{server.url}/_allauth/app/v1/auth/signup",
            json={"email": "ada@example.com", "username": "ada", "password": "a rare passphrase"},
        )
        assert created.status_code == 401  # signed up; the address is to be verified
        caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"  # a W3C traceparent
        read = httpx.get(f"{server.url}/api/probe/groups/12345", headers={"traceparent": caller})
        assert read.status_code == 404
        request = server_span(otlp_receiver, "POST /_allauth/app/v1/auth/signup")
        group = server_span(otlp_receiver, "GET /api/probe/groups/{group_id}")
        line = access_line(server, "/_allauth/app/v1/auth/signup")

    # The standard HTTP attributes, and the route, never the raw path, in the name.
    assert request.attributes["http.route"] == "/_allauth/app/v1/auth/signup"
    assert group.attributes["http.route"] == "/api/probe/groups/{group_id}"
    assert group.attributes["http.request.method"] == "GET"
    assert group.attributes["http.response.status_code"] == 404
    assert request.service == "{{ cookiecutter.project_slug }}"
    # Each request its own trace, or its caller's; its queries are spans below it.
    assert (group.trace_id, group.parent_id) == (CALLER_TRACE, CALLER_SPAN)
    assert request.trace_id != group.trace_id and request.parent_id == ""
    queries = [s for s in descendants(otlp_receiver.spans, group) if s.kind == CLIENT]
    assert [s.name for s in queries] == ["SELECT auth_group"]
    assert queries[0].attributes["db.query.text"].startswith("SELECT")
    assert "12345" not in json.dumps(queries[0].attributes)  # the SQL, never its parameters
    inserts = {s.name for s in descendants(otlp_receiver.spans, request) if s.kind == CLIENT}
    assert "INSERT accounts_user" in inserts
    # The request's log line names its trace and span.
    assert line["trace_id"] == request.trace_id
    assert line["span_id"]
    # The confirmation email's task: a run of its own, linked to the sign-up.
    task = otlp_receiver.wait_for(
        lambda spans: next((s for s in spans if s.kind == CONSUMER), None)
    )
    assert task.name.startswith("task ")
    assert (request.trace_id, request.span_id) in task.links
    assert task.trace_id != request.trace_id
{%- if cookiecutter.cache == "redis" %}


def test_a_rate_limit_check_is_a_redis_span(otlp_receiver: OtlpReceiver, tmp_path: Path) -> None:
    with served(tracing_environment(otlp_receiver), tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/api/probe/async").status_code == 200
        request = server_span(otlp_receiver, "GET /api/probe/async")
        spans = otlp_receiver.wait_for(lambda spans: descendants(spans, request))
    assert any(system_of(s) == "redis" for s in spans), spans
{%- endif %}
