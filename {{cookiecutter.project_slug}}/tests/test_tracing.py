"""Tracing, end to end: the project served by uvicorn with OTEL_EXPORTER_OTLP_ENDPOINT set,
a real OTLP/HTTP receiver (tests/otlp.py) taking what it exports."""

import json
{%- if cookiecutter.use_blog == "yes" %}
import os
{%- endif %}
from collections.abc import Iterator
{%- if cookiecutter.use_blog == "yes" %}
from dataclasses import asdict
{%- endif %}
from pathlib import Path

import httpx
import pytest

from accounts.tokens import issue_token

from .conftest import MakeUser
from .otlp import OtlpReceiver, Span
from .served import Server, free_port, served
{%- if cookiecutter.use_webhooks == "yes" %}
from .test_webhooks import SECRET, Receiver
{%- endif %}

pytestmark = pytest.mark.django_db(transaction=True)

SERVER, CLIENT, CONSUMER = 2, 3, 5  # OTLP span kinds
CALLER_TRACE, CALLER_SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    receiver.start()
    yield receiver
    receiver.stop()


def tracing(receiver: OtlpReceiver) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",  # spans leave within 50 ms, not 5 s
        "OUTBOX_POLL_INTERVAL": "0.1",
        "EMAIL_URL": "consolemail://",
    }


def server_span(receiver: OtlpReceiver, name: str) -> Span:
    def found(spans: list[Span]) -> Span | None:
        return next((s for s in spans if s.kind == SERVER and s.name == name), None)

    span: Span = receiver.wait_for(found)
    return span


def descendants(spans: list[Span], root: Span) -> list[Span]:
    below, parents = [], {root.span_id}
    for span in sorted(spans, key=lambda s: s.start):
        if span.trace_id == root.trace_id and span.parent_id in parents:
            below.append(span)
            parents.add(span.span_id)
    return below


def system_of(span: Span) -> str:
    """The database a client span calls (the stable attribute name, or the older one)."""
    return str(span.attributes.get("db.system.name") or span.attributes.get("db.system"))


def linked_runs(spans: list[Span], names: set[str]) -> list[Span] | None:
    """The task runs linked to a request, once there is one of each name."""
    runs = [s for s in spans if s.kind == CONSUMER and s.links]
    return runs if {s.name for s in runs} >= names else None


def access_line(server: Server, path: str) -> dict[str, str]:
    for line in server.log_lines():
        if line.startswith("{") and '"logger": "access"' in line:
            entry = json.loads(line)
            if entry["path"] == path:
                return dict(entry)
    raise AssertionError(f"no access line for {path}")


def test_a_request_is_one_trace_named_by_its_route_with_its_sql(
    receiver: OtlpReceiver, tmp_path: Path
) -> None:
    with served(tracing(receiver), tmp_path / "server.log") as server:
        created = httpx.post(
            f"{server.url}/_allauth/app/v1/auth/signup",
            json={"email": "ada@example.com", "username": "ada", "password": "a rare passphrase"},
        )
        assert created.status_code == 401  # signed up; the address is to be verified
        caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"  # a W3C traceparent
        read = httpx.get(f"{server.url}/api/probe/groups/12345", headers={"traceparent": caller})
        assert read.status_code == 404
        request = server_span(receiver, "POST /_allauth/app/v1/auth/signup")
        group = server_span(receiver, "GET /api/probe/groups/{group_id}")
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
    queries = [s for s in descendants(receiver.spans, group) if s.kind == CLIENT]
    assert [s.name for s in queries] == ["SELECT auth_group"]
    assert queries[0].attributes["db.query.text"].startswith("SELECT")
    assert "12345" not in json.dumps(queries[0].attributes)  # the SQL, never its parameters
    inserts = {s.name for s in descendants(receiver.spans, request) if s.kind == CLIENT}
    assert "INSERT accounts_user" in inserts
    # The request's log line names its trace and span.
    assert line["trace_id"] == request.trace_id
    assert line["span_id"]
    # The confirmation email's task: a run of its own, linked to the sign-up.
    task = receiver.wait_for(lambda spans: next((s for s in spans if s.kind == CONSUMER), None))
    assert task.name.startswith("task ")
    assert (request.trace_id, request.span_id) in task.links
    assert task.trace_id != request.trace_id
{%- if cookiecutter.cache == "redis" %}


def test_a_rate_limit_check_is_a_redis_span(receiver: OtlpReceiver, tmp_path: Path) -> None:
    with served(tracing(receiver), tmp_path / "server.log") as server:
        assert httpx.get(f"{server.url}/api/probe/async").status_code == 200
        request = server_span(receiver, "GET /api/probe/async")
        spans = receiver.wait_for(lambda spans: descendants(spans, request))
    assert any(system_of(s) == "redis" for s in spans), spans
{%- endif %}
{%- if cookiecutter.use_blog == "yes" %}


def test_a_publish_traces_its_tasks_and_a_read_its_queries(
    receiver: OtlpReceiver,
    tmp_path: Path,
    make_user: MakeUser,
{%- if cookiecutter.use_elasticsearch == "yes" %}
    osmem_clone: object,
{%- endif %}
) -> None:
    _, token = issue_token(make_user("ada"), name="test")
    environment = tracing(receiver)
{%- if cookiecutter.use_webhooks == "yes" %}
    hooks = Receiver(free_port())
    hooks.start()
    environment.update(WEBHOOK_URLS=hooks.url, WEBHOOK_SECRET=SECRET)
{%- endif %}
{%- if cookiecutter.use_elasticsearch == "yes" %}
    environment.update(
        ELASTICSEARCH_URL=osmem_clone.url,  # type: ignore[attr-defined]
        ELASTICSEARCH_NODE_CLASS="tests.search.engine.PlainMediaTypeNode",
    )
{%- endif %}
    with served(environment, tmp_path / "server.log") as server:
        created = httpx.post(
            f"{server.url}/api/blog/posts",
            json={"title": "traced", "published": True},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201
        post_id = created.json()["id"]
        assert httpx.get(f"{server.url}/api/blog/posts/{post_id}").status_code == 200
{%- if cookiecutter.use_elasticsearch == "yes" %}
        assert httpx.get(f"{server.url}/api/search", params={"q": "traced"}).status_code == 200
        search = server_span(receiver, "GET /api/search")
{%- endif %}
        publish = server_span(receiver, "POST /api/blog/posts")
        read = server_span(receiver, "GET /api/blog/posts/{post_id}")
        expected = {
{%- if cookiecutter.use_elasticsearch == "yes" %}
            "task index_posts",
{%- endif %}
{%- if cookiecutter.use_webhooks == "yes" %}
            "task deliver",
{%- endif %}
        }
        tasks = receiver.wait_for(lambda spans: linked_runs(spans, expected))
{%- if cookiecutter.use_webhooks == "yes" %}
        hooks.stop()
{%- endif %}

    if picture := os.environ.get("TRACE_SPANS_FILE"):  # the README's picture is drawn from these
        shown = {publish.trace_id} | {s.trace_id for s in tasks}
        spans = [asdict(s) for s in receiver.spans if s.trace_id in shown]
        Path(picture).write_text(json.dumps(spans))
    assert {s.name for s in descendants(receiver.spans, read)} >= {"SELECT blog_post"}
    assert all(link == (publish.trace_id, publish.span_id) for s in tasks for link in s.links)
{%- if cookiecutter.use_elasticsearch == "yes" %}
    assert [s.name for s in descendants(receiver.spans, search)] == ["search"]
    assert descendants(receiver.spans, search)[0].attributes["db.system.name"] == "elasticsearch"
{%- endif %}
{%- if cookiecutter.use_webhooks == "yes" %}
    delivery = [s for s in tasks if s.name == "task deliver"]
    assert len(delivery) == 1, [s.name for s in tasks]
    posts = [
        s
        for s in descendants(receiver.spans, delivery[0])
        if s.kind == CLIENT and s.attributes.get("http.request.method") == "POST"
    ]
    assert len(posts) == 1
    assert "secret-token" not in json.dumps(posts[0].attributes)  # the receiver URL's token
{%- endif %}
{%- endif %}
