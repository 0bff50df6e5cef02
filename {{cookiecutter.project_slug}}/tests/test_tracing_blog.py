"""Tracing of the blog's work, end to end: a publish and the tasks it enqueues{% if cookiecutter.use_elasticsearch == "yes" %}, a search{% endif %},
a read, served by uvicorn with a real OTLP/HTTP receiver (tests/otlp.py) taking the spans."""

import json
import os
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from accounts.tokens import issue_token

from .conftest import MakeUser
from .otlp import (
    CLIENT,
    OtlpReceiver,
    descendants,
    linked_runs,
    server_span,
    system_of,
    tracing_environment,
)
from .served import {% if cookiecutter.use_webhooks == "yes" %}free_port, {% endif %}served
{%- if cookiecutter.use_webhooks == "yes" %}
from .test_webhooks import SECRET, Receiver
{%- endif %}

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_publish_traces_its_tasks_and_a_read_its_queries(
    otlp_receiver: OtlpReceiver,
    tmp_path: Path,
    make_user: MakeUser,
{%- if cookiecutter.use_elasticsearch == "yes" %}
    osmem_clone: object,
{%- endif %}
) -> None:
    _, token = issue_token(make_user("ada"), name="test")
    environment = tracing_environment(otlp_receiver)
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
        search = server_span(otlp_receiver, "GET /api/search")
{%- endif %}
        publish = server_span(otlp_receiver, "POST /api/blog/posts")
        read = server_span(otlp_receiver, "GET /api/blog/posts/{post_id}")
        expected = {
{%- if cookiecutter.use_elasticsearch == "yes" %}
            "task index_posts",
{%- endif %}
{%- if cookiecutter.use_webhooks == "yes" %}
            "task deliver",
{%- endif %}
        }
        tasks = otlp_receiver.wait_for(lambda spans: linked_runs(spans, expected))
{%- if cookiecutter.use_webhooks == "yes" %}
        hooks.stop()
{%- endif %}

    if picture := os.environ.get("TRACE_SPANS_FILE"):  # the README's picture is drawn from these
        shown = {publish.trace_id} | {s.trace_id for s in tasks}
        spans = [asdict(s) for s in otlp_receiver.spans if s.trace_id in shown]
        Path(picture).write_text(json.dumps(spans))
    assert {s.name for s in descendants(otlp_receiver.spans, read)} >= {"SELECT blog_post"}
    assert all(link == (publish.trace_id, publish.span_id) for s in tasks for link in s.links)
{%- if cookiecutter.use_elasticsearch == "yes" %}
    (search_call,) = descendants(otlp_receiver.spans, search)
    assert search_call.name == "search"
    assert system_of(search_call) == "elasticsearch"
{%- endif %}
{%- if cookiecutter.use_webhooks == "yes" %}
    delivery = [s for s in tasks if s.name == "task deliver"]
    assert len(delivery) == 1, [s.name for s in tasks]
    posts = [
        s
        for s in descendants(otlp_receiver.spans, delivery[0])
        if s.kind == CLIENT and s.attributes.get("http.request.method") == "POST"
    ]
    assert len(posts) == 1
    assert "secret-token" not in json.dumps(posts[0].attributes)  # the receiver URL's token
{%- endif %}
