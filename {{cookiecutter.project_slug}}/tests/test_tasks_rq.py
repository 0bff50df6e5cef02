"""The project's tasks on RQ (django-tasks-rq), a queue in Redis: a backend that cannot
enqueue in the caller's transaction. The project's code enqueues there once the transaction
commits (outbox/transactional.py), never before, so an RQ worker never runs a task against
the state from before the change that asked for it. The worker is `manage.py rqworker` in a
process of its own, started with TASKS naming RQ (tests/settings_rq.py)."""

import os
import subprocess
import sys
import time
{%- if cookiecutter.use_elasticsearch == "yes" %}
import uuid
{%- endif %}
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import django_rq
{%- if cookiecutter.use_elasticsearch == "yes" %}
import httpx
{%- endif %}
import pytest
from django.conf import LazySettings, settings
from django.contrib.auth.models import Group
from django.db import transaction
{% if cookiecutter.use_elasticsearch == "yes" %}
from blog.models import Post
{%- endif %}
from outbox.transactional import enqueue_with_change

from . import settings_rq
from .conftest import WAIT_LIMIT
from .processes import database_url
from .task_examples import note_group_name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def on_rq(settings: LazySettings) -> Iterator[None]:
    """This process enqueues on RQ too, into an empty queue."""
    settings.TASKS = settings_rq.TASKS
    settings.RQ_QUEUES = settings_rq.RQ_QUEUES
    queue().connection.flushdb()
    yield
    queue().connection.flushdb()


def queue() -> Any:
    return django_rq.get_queue("default")


class RQWorker:
    def __init__(self, **environment: str) -> None:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings_rq",
            "DATABASE_URL": database_url(),
            "LOG_LEVEL": "WARNING",
            **environment,
        }
        command = [
            *(sys.executable, "manage.py", "rqworker", "default"),
            *("--job-class", "django_tasks_rq.Job", "--worker-class", "rq.worker.SimpleWorker"),
        ]
        self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env)

    def wait_until_ended(self, jobs: int) -> None:
        """Until `jobs` jobs have ended, done or failed, since the test emptied the queue (a
        job being taken is on no list for a moment: an empty queue is not enough)."""
        deadline = time.monotonic() + WAIT_LIMIT
        while queue().finished_job_registry.count + queue().failed_job_registry.count < jobs:
            assert self.process.poll() is None, "the RQ worker stopped"
            assert time.monotonic() < deadline, "the RQ worker is still busy"
            time.sleep(0.05)

    def stop(self) -> None:
        """A warm shutdown, then a kill: on a loaded machine RQ's shutdown was seen to hang
        for over 10 s after it left its pub/sub channel (what the tests check is done)."""
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def rq_worker() -> Iterator[RQWorker]:
    worker = RQWorker()
    yield worker
    worker.stop()


def test_a_task_of_a_transaction_is_on_the_queue_only_once_it_commits(
    rq_worker: RQWorker, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    with transaction.atomic():
        group = Group.objects.create(name="draft")
        enqueue_with_change(note_group_name, str(notes), group.pk)
        assert queue().count == 0  # not before the commit: a worker could take it now
        group.name = "published"
        group.save()
        time.sleep(1)  # a worker that had the task by now would read the state before

    rq_worker.wait_until_ended(1)
    assert notes.read_text().splitlines() == ["published"]


def test_a_rolled_back_transaction_puts_nothing_on_the_queue(rq_worker: RQWorker) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        group = Group.objects.create(name="draft")
        enqueue_with_change(note_group_name, "unused", group.pk)
        raise RuntimeError("the change failed")

    assert queue().count == 0
{% if cookiecutter.use_elasticsearch == "yes" %}

@pytest.mark.elasticsearch
def test_a_post_published_in_a_transaction_that_then_sleeps_is_indexed_as_published(
    osmem_clone: Any, settings: LazySettings
) -> None:
    """The issue's case: had the indexing task been on the queue before the commit, the
    worker would have read the post as a draft meanwhile, and left it out of the index."""
    engine = {
        "ELASTICSEARCH_URL": osmem_clone.url,
        "ELASTICSEARCH_NODE_CLASS": "tests.search.engine.PlainMediaTypeNode",
        "ELASTICSEARCH_INDEX": f"test-posts-{uuid.uuid4().hex[:8]}",
    }
    worker = RQWorker(**engine)
    try:
        post = Post.objects.create(title="bilby", published=False)
        worker.wait_until_ended(1)  # the draft's task ran: it is not in the index
        with transaction.atomic():
            Post.objects.filter(pk=post.pk).update(published=True)
            time.sleep(1)
        worker.wait_until_ended(2)
    finally:
        worker.stop()

    found = httpx.post(
        f"{osmem_clone.url}/{engine['ELASTICSEARCH_INDEX']}/_search",
        json={"query": {"match": {"title": "bilby"}}},
    ).json()
    assert [hit["_source"]["published"] for hit in found["hits"]["hits"]] == [True]
{% endif %}