"""Django's Tasks framework on the outbox backend (outbox/backend.py, outbox/worker.py):
the API's contract, and the promises of a task written in its caller's transaction."""

import asyncio
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import LazySettings
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import AsyncClient
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string

from outbox import store
from outbox.compat import InvalidTask, TaskResultDoesNotExist, TaskResultStatus, task
from outbox.models import QueuedTask
from outbox.outages import Outages
from outbox.worker import TaskWorker, _workers

from . import task_examples
from .conftest import WrittenLines, wait_until
from .task_examples import (
    add,
    always_fails,
    fails_while_told,
    lost_once,
    name_of_group,
    naps,
    record,
    refuses,
    sleeps,
    succeeds_on_the_third_attempt,
    waits_forever,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def quick_retries(settings: LazySettings) -> None:
    settings.OUTBOX_MAX_RETRY_DELAY = 0  # a failed attempt is due again at once


def enqueue_then_roll_back() -> None:
    with transaction.atomic():
        add.enqueue(1, 2)
        raise RuntimeError("the change failed")


async def test_a_task_of_a_rolled_back_transaction_never_exists() -> None:
    with pytest.raises(RuntimeError):
        await sync_to_async(enqueue_then_roll_back)()

    assert await QueuedTask.objects.acount() == 0
    assert await TaskWorker().run_until_idle() == 0


def enqueue_then_change(group_id: int, *, row_written: bool = True) -> str:
    with transaction.atomic():
        result = name_of_group.enqueue(group_id)
        # Written in this transaction, not after it: no crash between the commit and an
        # enqueue can lose it.
        assert QueuedTask.objects.filter(pk=result.id).exists() is row_written
        Group.objects.filter(pk=group_id).update(name="published")
    return str(result.id)


async def test_a_committed_task_runs_once_with_the_state_that_committed() -> None:
    group = await Group.objects.acreate(name="draft")
    result_id = await sync_to_async(enqueue_then_change)(group.pk)

    started = await TaskWorker().run_until_idle()
    again = await TaskWorker().run_until_idle()
    result = await name_of_group.aget_result(result_id)

    assert (started, again) == (1, 0)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "published"
    assert result.attempts == 1


async def test_a_result_reads_the_same_through_both_apis() -> None:
    enqueued = await add.aenqueue(2, 3)
    assert enqueued.status == TaskResultStatus.READY
    await TaskWorker().run_until_idle()

    result = await add.aget_result(enqueued.id)
    same = await sync_to_async(add.get_result)(enqueued.id)

    assert result.return_value == same.return_value == 5
    assert result.enqueued_at and result.started_at and result.finished_at
    assert result.started_at <= result.finished_at
    assert result.errors == [] and len(result.worker_ids) == 1
    with pytest.raises(TaskResultDoesNotExist):
        await add.aget_result("no-such-id")


async def test_run_after_holds_a_task_until_then() -> None:
    later = await add.using(run_after=timezone.now() + timedelta(hours=1)).aenqueue(1, 1)
    now = await add.using(run_after=timezone.now() - timedelta(seconds=1)).aenqueue(2, 2)

    await TaskWorker().run_until_idle()

    assert (await add.aget_result(later.id)).status == TaskResultStatus.READY
    assert (await add.aget_result(now.id)).status == TaskResultStatus.SUCCESSFUL


async def test_higher_priority_runs_first() -> None:
    task_examples.ran.clear()
    await record.using(priority=-10).aenqueue("low")
    await record.aenqueue("normal")
    await record.using(priority=10).aenqueue("high")

    await TaskWorker(concurrency=1).run_until_idle()

    assert task_examples.ran == ["high", "normal", "low"]


async def test_a_queue_the_backend_does_not_serve_is_refused() -> None:
    with pytest.raises(InvalidTask, match="Queue 'elsewhere' is not valid"):
        add.using(queue_name="elsewhere")


async def test_a_failing_task_is_retried_then_given_up_on_with_its_errors() -> None:
    enqueued = await always_fails.aenqueue()

    await TaskWorker().run_until_idle()
    result = await always_fails.aget_result(enqueued.id)

    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3
    assert [error.exception_class for error in result.errors] == [RuntimeError] * 3
    assert "no luck" in result.errors[-1].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018


async def test_the_context_tells_a_task_its_attempt() -> None:
    enqueued = await succeeds_on_the_third_attempt.aenqueue()

    await TaskWorker().run_until_idle()
    result = await succeeds_on_the_third_attempt.aget_result(enqueued.id)

    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 3)
    assert len(result.errors) == 2


async def test_a_task_past_its_timeout_fails_alone() -> None:
    slow = await sleeps.aenqueue(5)
    quick = await add.aenqueue(1, 1)

    await TaskWorker().run_until_idle()
    slow_result = await sleeps.aget_result(slow.id)

    assert slow_result.status == TaskResultStatus.FAILED
    assert [error.exception_class for error in slow_result.errors] == [TimeoutError]
    assert (await add.aget_result(quick.id)).return_value == 2


async def test_arguments_that_are_not_json_are_refused_and_nothing_is_written() -> None:
    with pytest.raises(TypeError):
        await add.aenqueue(object(), 1)

    assert await QueuedTask.objects.acount() == 0


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"max_attempts": 0}, "max_attempts must be a whole number"),
        ({"timeout": -1}, "timeout must be seconds"),
        ({"priority": 1000}, "priority must be a whole number"),
    ],
)
def test_bad_task_options_are_refused(options: dict[str, int], reason: str) -> None:
    with pytest.raises(InvalidTask, match=reason):
        task(**options)(task_examples.plain)


async def lose_a_worker() -> None:
    """A worker claims every due task, then dies; its leases end."""
    await sync_to_async(store.claim)("lost-worker", ["default"], 10)
    assert await TaskWorker().run_until_idle() == 0  # held while the leases run
    await QueuedTask.objects.aupdate(lease_until=timezone.now())


async def test_a_lost_workers_task_runs_again_after_its_lease() -> None:
    enqueued = await add.aenqueue(1, 2)
    await lose_a_worker()

    await TaskWorker().run_until_idle()
    result = await add.aget_result(enqueued.id)

    assert (result.status, result.return_value, result.attempts) == ("SUCCESSFUL", 3, 2)
    assert [error.exception_class_path for error in result.errors] == ["outbox.store.WorkerLost"]


async def test_a_lost_attempt_counts_toward_the_tasks_attempts() -> None:
    enqueued = await lost_once.aenqueue()
    await lose_a_worker()

    assert await TaskWorker().run_until_idle() == 0
    result = await lost_once.aget_result(enqueued.id)

    # Its only attempt was the lost one: given up on, not run a second time.
    assert result.status == TaskResultStatus.FAILED
    assert [error.exception_class_path for error in result.errors] == ["outbox.store.WorkerLost"]


def test_a_lost_workers_late_outcome_is_not_written_over_the_next_attempt() -> None:
    """The first worker's lease ended and a second worker took the task: the first one's
    outcome, coming late, is refused; the second one's is written."""
    enqueued = add.enqueue(1, 2)
    [first] = store.claim("slow-worker", ["default"], 10)
    QueuedTask.objects.update(lease_until=timezone.now())
    [second] = store.claim("next-worker", ["default"], 10)

    late = store.finish(first, store.Outcome(error={"exception_class_path": "x", "traceback": ""}))
    written = store.finish(second, store.Outcome(return_value=3))

    assert (late, written) == (False, True)
    result = add.get_result(enqueued.id)
    assert (result.status, result.return_value) == (TaskResultStatus.SUCCESSFUL, 3)


async def stop_a_worker_once_it_runs(task_id: str) -> None:
    """Start a worker, and stop it (as a server's shutdown does) once it runs the task."""
    running = QueuedTask.objects.filter(pk=task_id, status="RUNNING")
    worker = asyncio.create_task(TaskWorker().run())
    await wait_until(running.aexists)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker


async def test_a_stopping_worker_lets_the_attempt_under_way_finish(
    settings: LazySettings,
) -> None:
    settings.TASKS_STOP_GRACE = 5.0
    enqueued = await naps.aenqueue(0.5)
    await stop_a_worker_once_it_runs(enqueued.id)

    result = await naps.aget_result(enqueued.id)
    assert (result.status, result.return_value, result.attempts) == (
        TaskResultStatus.SUCCESSFUL,
        "rested",
        1,
    )


async def test_a_stopped_worker_hands_back_the_task_it_was_running(
    settings: LazySettings,
) -> None:
    settings.TASKS_STOP_GRACE = 0.2  # past it, the attempt under way is cancelled
    enqueued = await waits_forever.aenqueue()
    await stop_a_worker_once_it_runs(enqueued.id)

    row = await QueuedTask.objects.aget(pk=enqueued.id)
    assert (row.status, row.worker_ids, row.lease_until) == ("READY", [], None)


async def test_a_stopping_worker_hands_its_tasks_back() -> None:
    enqueued = await add.aenqueue(1, 2)
    await sync_to_async(store.claim)("stopping-worker", ["default"], 10)

    handed_back = await sync_to_async(store.release)("stopping-worker")
    await TaskWorker().run_until_idle()
    result = await add.aget_result(enqueued.id)

    assert handed_back == 1
    assert (result.status, result.attempts) == (TaskResultStatus.SUCCESSFUL, 1)


async def test_a_task_that_gives_up_fails_without_its_retries() -> None:
    enqueued = await refuses.aenqueue()

    await TaskWorker().run_until_idle()
    result = await refuses.aget_result(enqueued.id)

    assert (result.status, result.attempts) == (TaskResultStatus.FAILED, 1)
    assert result.errors[0].exception_class_path == "outbox.backend.GiveUp"


async def test_ready_shows_the_task_queue() -> None:
    await always_fails.aenqueue()
    await TaskWorker().run_until_idle()
    await add.aenqueue(1, 1)
    await add.using(run_after=timezone.now() + timedelta(hours=1)).aenqueue(1, 1)

    tasks = (await AsyncClient().get("/api/ready")).json()["tasks"]

    assert (tasks["due"], tasks["failed"]) == (1, 1)
    assert 0 <= tasks["oldest_due_seconds"] < 60


def test_the_command_drains_the_queue_and_retries_what_failed() -> None:
    enqueued = always_fails.enqueue()

    def tasks(*options: str) -> str:
        out = StringIO()
        call_command("tasks", *options, stdout=out)
        return out.getvalue()

    drained = tasks("--drain")
    retried = tasks("--retry-failed")

    assert "Ran 3 attempts." in drained and "failed: 1" in drained
    assert "1 failed tasks are due again." in retried and "Due: 1 " in retried
    assert always_fails.get_result(enqueued.id).status == TaskResultStatus.READY


def test_the_tasks_of_a_removed_function_can_be_forgotten_not_those_of_a_live_one() -> None:
    QueuedTask.objects.create(task_path="removed_app.tasks.gone")
    add.enqueue(1, 1)

    out = StringIO()
    call_command("tasks", "--forget", "removed_app.tasks.gone", stdout=out)
    with pytest.raises(
        CommandError, match=r"Still tasks, not forgotten: tests\.task_examples\.add"
    ):
        call_command("tasks", "--forget", "tests.task_examples.add")

    assert "Forgot 1 tasks of removed_app.tasks.gone." in out.getvalue()
    assert list(QueuedTask.objects.values_list("task_path", flat=True)) == [
        "tests.task_examples.add"
    ]


async def test_a_task_of_a_function_no_longer_there_fails_at_once() -> None:
    row = await QueuedTask.objects.acreate(task_path="removed_app.tasks.gone")

    await TaskWorker().run_until_idle()
    await row.arefresh_from_db()

    assert (row.status, len(row.worker_ids)) == ("FAILED", 1)
    assert row.errors[0]["exception_class_path"] == "outbox.backend.GiveUp"


def test_retry_delays_grow_with_jitter_up_to_the_setting(settings: LazySettings) -> None:
    settings.OUTBOX_MAX_RETRY_DELAY = 30
    assert 0.5 <= store.retry_delay(1) <= 1
    assert 4 <= store.retry_delay(4) <= 8
    assert 15 <= store.retry_delay(20) <= 30


async def test_a_task_that_keeps_failing_is_logged_when_it_starts_then_summed_up_then_ended(
    settings: LazySettings, monkeypatch: pytest.MonkeyPatch, written_lines: WrittenLines
) -> None:
    settings.OUTBOX_MAX_RETRY_DELAY = 3600  # each attempt is made due by the test
    now = [0.0]
    worker = TaskWorker()
    worker.outages = Outages(summary_every=60, clock=lambda: now[0])
    monkeypatch.setattr(task_examples, "failing", True)
    await fails_while_told.aenqueue()

    async def attempt_at(seconds: float) -> None:
        now[0] = seconds
        await QueuedTask.objects.filter(status="READY").aupdate(due_at=timezone.now())
        await worker.run_until_idle()

    for seconds in (0, 1, 2, 30, 61, 62):
        await attempt_at(seconds)
    monkeypatch.setattr(task_examples, "failing", False)
    await attempt_at(70)
    await attempt_at(71)

    said = [line for line in written_lines() if "tasks: tests.task_examples" in line]
    assert len(said) == 3, said
    assert "tests.task_examples.fails_while_told is failing: RuntimeError: told to fail" in said[0]
    assert (
        "fails_while_told still failing after 61 s: RuntimeError: told to fail; 5 retries"
        in (said[1])
    )
    assert "fails_while_told works again after 70 s (6 retries)" in said[2]


async def test_a_task_given_up_on_is_logged_once(written_lines: WrittenLines) -> None:
    enqueued = await refuses.aenqueue()

    await TaskWorker().run_until_idle()

    said = [line for line in written_lines() if enqueued.id in line]
    assert len(said) == 2, said  # the worker's, and Django's (its logger "django.tasks")
    assert "failed after 1 attempts: GiveUp: retrying will not mend this" in said[0]


async def test_the_lifespan_runs_a_worker_that_a_commit_wakes(
    settings: LazySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.OUTBOX_POLL_INTERVAL = 3600  # only the wake-up can make it look in time
    claims = asyncio.Event()  # the worker's first look at the table is done
    real_claim = store.claim

    def claim(*args: Any) -> list[QueuedTask]:
        found = real_claim(*args)
        loop.call_soon_threadsafe(claims.set)
        return found

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(store, "claim", claim)
    incoming = asyncio.Queue[dict[str, Any]]()
    incoming.put_nowait({"type": "lifespan.startup"})
    sent: list[dict[str, Any]] = []
    results = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await asyncio.wait_for(claims.wait(), timeout=10)  # found nothing; now it waits
            enqueued = await add.aenqueue(2, 3)

            async def ran() -> bool:
                result = await add.aget_result(enqueued.id)
                results.append(result)
                return result.status == TaskResultStatus.SUCCESSFUL

            await wait_until(ran)
            incoming.put_nowait({"type": "lifespan.shutdown"})

    application = import_string(settings.ASGI_APPLICATION)
    await application({"type": "lifespan", "asgi": {"version": "3.0"}}, incoming.get, send)

    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert results[-1].return_value == 5
    assert _workers == {}  # stopped


def test_finished_tasks_are_purged_after_their_keep_time() -> None:
    old, new = add.enqueue(1, 1), add.enqueue(2, 2)
    always_fails.enqueue()
    waiting = add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(3, 3)
    async_to_sync(TaskWorker().run_until_idle)()
    QueuedTask.objects.filter(pk=old.id).update(finished_at=timezone.now() - timedelta(days=2))

    assert store.purge(store.SUCCESSFUL, timedelta(days=1)) == 1
    assert store.purge(store.FAILED, timedelta(days=30)) == 0  # it failed just now
    assert store.purge(store.FAILED, timedelta(0)) == 1  # by when it failed
    assert set(QueuedTask.objects.values_list("pk", flat=True)) == {new.id, waiting.id}


def test_an_idle_worker_looks_without_taking_the_write_lock() -> None:
    """SQLite has one write lock, PostgreSQL's claims one advisory lock: a worker that
    finds nothing due takes neither."""
    add.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(1, 1)

    with CaptureQueriesContext(connection) as queries:
        claimed = store.claim("idle-worker", ["default"], 10)

    assert claimed == []
    taken = [q["sql"] for q in queries if q["sql"].startswith(("BEGIN", "SELECT pg_advisory"))]
    assert taken == []
    assert len(queries) == 1  # the read
