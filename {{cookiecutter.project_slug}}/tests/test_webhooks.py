"""Signed webhooks on publish, against a real receiver on loopback: a task per delivery,
enqueued with the publish, run by the task worker, retried when it should be and only then."""

import base64
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.conf import LazySettings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import AsyncClient
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from accounts.models import User
from blog.models import Post
from outbox.worker import TaskWorker, start_worker, stop_worker
from webhooks.delivery import deliver
from webhooks.models import Delivery, StoppedReceiver
from webhooks.models import deliveries as delivery_tasks
from webhooks.signing import signed_headers

from .conftest import bearer, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "whsec_" + base64.b64encode(b"a test key of 32 bytes, no less.").decode()
PROJECT_DIR = Path(__file__).resolve().parents[1]


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on loopback: notes each POST, answers `status` (200 by default)."""

    port: int
    received: list[Received] = field(default_factory=list)
    status: int = 200
    delay: float = 0.0  # seconds it takes to answer
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks?token=secret-token"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay)
                receiver.received.append(Received(dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def receiver(settings: LazySettings) -> Iterator[Receiver]:
    probe = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = probe.server_address[1]
    probe.server_close()
    receiver = Receiver(int(port))
    receiver.start()
    settings.WEBHOOK_URLS = [receiver.url]
    settings.WEBHOOK_SECRET = SECRET
    yield receiver
    receiver.stop()


async def publish(author: User, title: str = "news") -> int:
    response = await AsyncClient().post(
        "/api/blog/posts",
        {"title": title, "published": True},
        content_type="application/json",
        headers=await bearer(author),
    )
    assert response.status_code == 201
    return int(response.json()["id"])


async def deliveries() -> list[Delivery]:
    return [delivery async for delivery in delivery_tasks().order_by("enqueued_at")]


def last_error(delivery: Delivery) -> str:
    """What the last attempt's error said (its traceback's last line, without the class)."""
    return str(delivery.errors[-1]["traceback"]).strip().splitlines()[-1].split(": ", 1)[-1]


def attempts(delivery: Delivery) -> int:
    return len(delivery.worker_ids)


async def test_a_publish_is_delivered_signed(receiver: Receiver, alice: User) -> None:
    post_id = await publish(alice)

    await TaskWorker().run_until_idle()

    (received,) = receiver.received
    # Verified as a receiver would, with the Standard Webhooks library.
    body = Webhook(SECRET).verify(received.body, received.headers)
    assert body["event"] == "posts.published"
    assert [post["id"] for post in body["posts"]] == [post_id]
    assert body["id"] == received.headers["webhook-id"]
    assert abs(int(received.headers["webhook-timestamp"]) - time.time()) < 60
    assert [delivery.status for delivery in await deliveries()] == ["SUCCESSFUL"]


async def test_a_delivery_signed_with_another_secret_is_refused(
    receiver: Receiver, alice: User
) -> None:
    await publish(alice)
    await TaskWorker().run_until_idle()
    (received,) = receiver.received
    other = "whsec_" + base64.b64encode(b"another key of 32 bytes, no less").decode()

    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(received.body, received.headers)


async def test_a_replayed_body_with_a_fresh_timestamp_is_refused(
    receiver: Receiver, alice: User
) -> None:
    """The timestamp is signed: a receiver that refuses old timestamps cannot be fooled
    with an old body and a new header."""
    await publish(alice)
    await TaskWorker().run_until_idle()
    (received,) = receiver.received
    replayed = {**received.headers, "webhook-timestamp": str(int(time.time()) + 1)}

    assert Webhook(SECRET).verify(received.body, received.headers)  # the genuine one does
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(received.body, replayed)


def test_a_delivery_is_never_signed_with_an_empty_or_short_key() -> None:
    short = "whsec_" + base64.b64encode(b"16 bytes of key.").decode()
    for secret in ["", "whsec_", short, "a-plain-secret-of-some-length"]:
        with pytest.raises(ValueError):
            signed_headers("id", 0, b"{}", secret)


async def test_a_delivery_to_a_url_no_longer_configured_is_given_up(
    receiver: Receiver, alice: User, settings: LazySettings, caplog: pytest.LogCaptureFixture
) -> None:
    await publish(alice)
    settings.WEBHOOK_URLS = []  # removed before the worker got to it

    await TaskWorker().run_until_idle()

    (delivery,) = await deliveries()
    assert (delivery.status, receiver.received) == ("FAILED", [])
    assert "no longer in WEBHOOK_URLS" in last_error(delivery)
    assert "no longer in WEBHOOK_URLS" in caplog.text


async def test_a_slow_receiver_gets_every_delivery_once(
    receiver: Receiver, alice: User, settings: LazySettings
) -> None:
    """Each delivery is a task with its own time and outcome: however long the others take,
    none is failed, nor sent twice. (The outbox's batches shared one time bound: one round
    of slow receivers once failed, and resent, deliveries that had succeeded.)"""
    # 80 deliveries of 0.5 s, 10 at once (the worker's TASKS_CONCURRENCY): 4 s of work.
    receiver.delay = 0.5
    for n in range(80):
        await Post.objects.acreate(title=f"news {n}", author=alice, published=True)

    started = time.monotonic()
    await TaskWorker().run_until_idle()
    took = time.monotonic() - started

    ids = [received.headers["webhook-id"] for received in receiver.received]
    assert len(ids) == 80
    assert len(set(ids)) == 80  # none twice
    assert [delivery.status for delivery in await deliveries()] == ["SUCCESSFUL"] * 80
    assert took < 80 * 0.5  # concurrent: 4 s of receiver time at 10 at once, not 40


async def test_a_delivery_that_raises_touches_no_other(receiver: Receiver, alice: User) -> None:
    await publish(alice)
    broken = await deliver.aenqueue("broken", receiver.url)  # type: ignore[call-arg,unused-ignore]

    await TaskWorker().run_until_idle()

    statuses = {delivery.args[0]: delivery.status for delivery in await deliveries()}
    assert len(receiver.received) == 1
    assert statuses.pop("broken") == "READY"  # retried later
    assert list(statuses.values()) == ["SUCCESSFUL"]
    failed = await delivery_tasks().aget(pk=broken.id)
    assert "missing 2 required positional arguments" in last_error(failed)


async def test_drafts_edits_and_a_rollback_deliver_nothing(receiver: Receiver, alice: User) -> None:
    draft = await Post.objects.acreate(title="draft", author=alice)
    published = await Post.objects.acreate(title="out", author=alice, published=True)
    published.title = "edited"
    await published.asave()  # already announced

    await TaskWorker().run_until_idle()

    assert len(receiver.received) == 1
    assert [p["id"] for p in json.loads(receiver.received[0].body)["posts"]] == [published.pk]
    assert draft.pk not in {p["id"] for p in json.loads(receiver.received[0].body)["posts"]}


async def test_a_bulk_publish_is_sent_in_bodies_of_a_hundred(receiver: Receiver) -> None:
    await Post.objects.abulk_create(Post(title=f"p{n}", published=True) for n in range(250))

    await TaskWorker().run_until_idle()

    sizes = sorted(len(json.loads(received.body)["posts"]) for received in receiver.received)
    assert sizes == [50, 100, 100]


async def test_publishing_again_after_unpublishing_announces_again(
    receiver: Receiver, alice: User
) -> None:
    post = await Post.objects.acreate(title="twice", author=alice, published=True)
    await Post.objects.filter(pk=post.pk).aupdate(published=False)
    await Post.objects.filter(pk=post.pk).aupdate(published=True)

    await TaskWorker().run_until_idle()

    assert len(receiver.received) == 2


async def test_a_receiver_down_then_up_gets_it_by_retry(receiver: Receiver, alice: User) -> None:
    receiver.stop()
    await publish(alice)

    await TaskWorker().run_until_idle()
    (pending,) = await deliveries()
    receiver.start()
    due_in = (pending.due_at - timezone.now()).total_seconds()
    await delivery_tasks().filter(pk=pending.pk).aupdate(due_at=timezone.now())
    await TaskWorker().run_until_idle()

    assert (pending.status, attempts(pending)) == ("READY", 1)
    assert last_error(pending).startswith("could not connect")
    assert due_in <= 5  # the first retry within 5 s
    assert len(receiver.received) == 1
    assert [delivery.status for delivery in await deliveries()] == ["SUCCESSFUL"]


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_are_retried(receiver: Receiver, alice: User, status: int) -> None:
    receiver.status = status
    await publish(alice)

    await TaskWorker().run_until_idle()

    (delivery,) = await deliveries()
    assert (delivery.status, last_error(delivery)) == ("READY", f"answered {status}")


@pytest.mark.parametrize("status", [400, 401, 404, 301])
async def test_other_refusals_are_not_retried(receiver: Receiver, alice: User, status: int) -> None:
    receiver.status = status
    await publish(alice)

    await TaskWorker().run_until_idle()
    await delivery_tasks().aupdate(due_at=timezone.now())
    await TaskWorker().run_until_idle()

    (delivery,) = await deliveries()
    assert (delivery.status, attempts(delivery)) == ("FAILED", 1)
    assert len(receiver.received) == 1


async def test_a_410_stops_the_receiver(receiver: Receiver, alice: User) -> None:
    receiver.status = 410
    await publish(alice, "first")
    await TaskWorker().run_until_idle()
    await publish(alice, "second")
    await TaskWorker().run_until_idle()

    assert len(receiver.received) == 1
    assert await StoppedReceiver.objects.filter(url=receiver.url).aexists()
    assert [delivery.status for delivery in await deliveries()] == ["FAILED"]  # none for "second"


async def test_too_old_a_delivery_fails_and_can_be_requeued(
    receiver: Receiver, alice: User, settings: LazySettings
) -> None:
    receiver.stop()
    await publish(alice)
    settings.WEBHOOK_MAX_AGE = 60
    await delivery_tasks().aupdate(enqueued_at=timezone.now() - timedelta(minutes=5))

    await TaskWorker().run_until_idle()
    (failed,) = await deliveries()
    receiver.start()
    output = StringIO()
    await sync_to_async(call_command)("webhooks", "--retry-failed", stdout=output)
    await TaskWorker().run_until_idle()

    assert (failed.status, attempts(failed)) == ("FAILED", 1)
    assert "WEBHOOK_MAX_AGE" in last_error(failed)
    assert "Requeued 1 failed deliveries." in output.getvalue()
    assert len(receiver.received) == 1
    assert [delivery.status for delivery in await deliveries()] == ["SUCCESSFUL"]


async def test_pending_deliveries_are_sent_by_the_next_worker(
    receiver: Receiver, alice: User
) -> None:
    """The process stopped before delivering: the deliveries wait in the database, and the
    worker of the next start (the lifespan's) sends them."""
    await publish(alice)  # no worker runs: as if the process stopped right after

    start_worker()
    try:

        async def delivered() -> bool:  # sent, and the worker has noted it
            return [delivery.status for delivery in await deliveries()] == ["SUCCESSFUL"]

        await wait_until(delivered)
    finally:
        await stop_worker()

    assert len(receiver.received) == 1


async def test_the_secret_and_the_token_stay_out_of_the_log(
    receiver: Receiver, alice: User, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.status = 400
    await publish(alice)

    await TaskWorker().run_until_idle()

    assert "answered 400" in caplog.text
    assert "secret-token" not in caplog.text
    assert SECRET not in caplog.text


def test_deliveries_waiting_in_the_outbox_become_tasks_on_upgrade() -> None:
    """Deliveries were outbox messages before they were tasks: the upgrade's migration moves
    the waiting and failed ones over, so none is lost."""
    before, after = [("webhooks", "0001_initial")], [("webhooks", "0002_deliveries_are_tasks")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    message = executor.loader.project_state(before).apps.get_model("outbox", "Message")
    payload = {"url": "https://example.com/hooks", "event": "posts.published", "posts": []}
    for key, state in [("waiting", "pending"), ("gave-up", "failed"), ("sent", "done")]:
        message.objects.create(topic="webhooks.deliver", key=key, payload=payload, state=state)

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    # Only columns the tasks' table had then (later migrations add more).
    moved = {
        row.args[0]: (row.status, row.args[1:]) for row in delivery_tasks().only("status", "args")
    }
    assert moved == {
        "waiting": ("READY", [payload["url"], "posts.published", []]),
        "gave-up": ("FAILED", [payload["url"], "posts.published", []]),
    }
    assert not message.objects.filter(topic="webhooks.deliver").exists()
    executor.migrate(executor.loader.graph.leaf_nodes())  # and on, to where the tests were


@pytest.mark.parametrize(
    ("urls", "secret", "message"),
    [
        ("ftp://example.com/hooks", SECRET, "WEBHOOK_URLS entry 1 is not an http(s) URL"),
        ("https://ok.example.com,not a url", SECRET, "WEBHOOK_URLS entry 2 is not an http(s)"),
        ("https://ok.example.com", "short", "WEBHOOK_SECRET must start with whsec_"),
        ("https://ok.example.com", "whsec_c2hvcnQ=", "WEBHOOK_SECRET must hold 24 bytes"),
    ],
)
def test_bad_webhook_settings_stop_the_start(urls: str, secret: str, message: str) -> None:
    result = check_with({"WEBHOOK_URLS": urls, "WEBHOOK_SECRET": secret})

    assert result.returncode != 0
    assert message in result.stderr
    assert "ftp://" not in result.stderr  # the entry itself may hold a token: not echoed


def check_with(settings: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "{{ cookiecutter.project_slug }}.settings",
        "SECRET_KEY": "x" * 50,
        **settings,
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return result
