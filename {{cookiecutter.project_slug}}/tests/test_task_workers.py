"""Task workers in processes of their own, against the test database: any number of them
run each task once, and a task whose worker is killed runs again after its lease."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from outbox import store
from outbox.models import QueuedTask

from .processes import database_url
from .task_examples import note_run, note_slowly

pytestmark = pytest.mark.django_db(transaction=True)

# Each process runs `workers` task workers on its loop until nothing is due.
WORKERS = """
import asyncio, sys
import django
django.setup()
from outbox.worker import TaskWorker

async def main(workers):
    await asyncio.gather(*(TaskWorker().run_until_idle() for _ in range(workers)))

asyncio.run(main(int(sys.argv[1])))
"""
# One worker that runs until it is killed.
FOREVER = """
import asyncio
import django
django.setup()
from outbox.worker import TaskWorker

asyncio.run(TaskWorker().run())
"""


def worker_process(code: str, *args: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "OUTBOX_POLL_INTERVAL": "0.1",
        "LOG_LEVEL": "WARNING",
        "TASKS_LEASE_MARGIN": "0.5",  # a killed worker's task is taken again soon after
    }
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], cwd=settings.BASE_DIR, env=environment
    )


def test_a_thousand_tasks_across_four_workers_in_two_processes_run_once_each(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    for number in range(1000):
        note_run.enqueue(str(runs), number)

    processes = [worker_process(WORKERS, "2") for _ in range(2)]
    for process in processes:
        assert process.wait(300) == 0

    counts = Counter(runs.read_text().split())
    assert sorted(counts) == sorted(str(number) for number in range(1000))
    assert [number for number, times in counts.items() if times > 1] == []
    assert not QueuedTask.objects.exclude(status=QueuedTask.Status.SUCCESSFUL).exists()


def test_two_claims_at_once_never_lease_the_same_task(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The second of two claims made at the same moment waits for the first one's write.
    The first holds its write until the second has read (or 5 s have passed): without the
    serializing lock both would read, and lease, the same five tasks. Unlike the thousand
    tasks above, this does not rely on a race showing up."""
    for number in range(10):
        note_run.enqueue(str(tmp_path / "runs"), number)
    first_has_read, second_has_read = threading.Event(), threading.Event()
    leased: dict[str, list[object]] = {}
    write = store.update_alike

    def write_when_both_have_read(rows: list[QueuedTask], fields: list[str]) -> None:
        if threading.current_thread().name == "first":
            first_has_read.set()
            second_has_read.wait(timeout=5)  # at once, unless a lock holds the second back
        else:
            second_has_read.set()
        write(rows, fields)

    def claim() -> None:
        try:
            name = threading.current_thread().name
            leased[name] = [row.pk for row in store.claim(name, ["default"], 5)]
        finally:
            connection.close()

    monkeypatch.setattr(store, "update_alike", write_when_both_have_read)
    first = threading.Thread(target=claim, name="first")
    first.start()
    assert first_has_read.wait(timeout=60)
    second = threading.Thread(target=claim, name="second")
    second.start()
    first.join(60)
    second.join(60)

    assert len(leased["first"]) == len(leased["second"]) == 5
    assert set(leased["first"]).isdisjoint(leased["second"])


def test_a_killed_workers_task_runs_again_after_its_lease_and_once_only(
    tmp_path: Path,
) -> None:
    runs = tmp_path / "runs"
    result = note_slowly.enqueue(str(runs), 7)
    victim = worker_process(FOREVER)
    try:
        deadline = time.monotonic() + 60
        while "start 7" not in (runs.read_text() if runs.exists() else ""):
            assert time.monotonic() < deadline, "the task never started"
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)  # mid-task: no outcome written, no hand-back
    finally:
        victim.wait(30)
    successor = worker_process(FOREVER)
    try:
        deadline = time.monotonic() + 60
        while not QueuedTask.objects.filter(pk=result.id, status="SUCCESSFUL").exists():
            assert time.monotonic() < deadline, "the task did not run again"
            time.sleep(0.05)
    finally:
        successor.terminate()
        successor.wait(30)

    assert runs.read_text().split("\n")[:-1] == ["start 7", "start 7", "end 7"]
    assert note_slowly.get_result(result.id).attempts == 2
