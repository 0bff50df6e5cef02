"""Tasks the tests enqueue (the Tasks framework runs module-level functions only).

The outbox backend's options (max_attempts, timeout) reach it as Django 6.1 forwards them;
django-stubs does not know @task takes options yet, hence the ignores (the backport's own
types, on Django 5.2, do)."""

import asyncio

from django.contrib.auth.models import Group

from outbox.backend import GiveUp
from outbox.compat import AnyContext, task

ran: list[str] = []  # what record() was asked to note, in the order it ran
failing = False  # whether fails_while_told() fails


def plain(value: int) -> int:
    """Not a task: the tests make tasks of it with options of their own."""
    return value


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def record(label: str) -> None:
    ran.append(label)


@task
async def name_of_group(group_id: int) -> str:
    """What the database holds when the task runs."""
    return (await Group.objects.aget(pk=group_id)).name


@task(max_attempts=3)
def always_fails() -> None:
    raise RuntimeError("no luck")


@task(takes_context=True, max_attempts=3)
def succeeds_on_the_third_attempt(context: AnyContext) -> int:
    if context.attempt < 3:
        raise RuntimeError(f"attempt {context.attempt}")
    return context.attempt


@task(timeout=0.2, max_attempts=1)
async def sleeps(seconds: float) -> None:
    await asyncio.sleep(seconds)


@task
async def naps(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "rested"


@task
async def waits_forever() -> None:
    """Runs until its worker stops."""
    await asyncio.Event().wait()


@task(max_attempts=1)
def lost_once() -> str:
    return "ran"


@task(max_attempts=100)
def fails_while_told() -> None:
    if failing:
        raise RuntimeError("told to fail")


@task
def refuses() -> None:
    raise GiveUp("retrying will not mend this")


@task
def note_run(path: str, number: int) -> None:
    """Appends its number to a file that several worker processes share (one short write,
    O_APPEND: lines do not interleave)."""
    note(path, str(number))


def note(path: str, line: str) -> None:
    with open(path, "a") as runs:
        runs.write(f"{line}\n")


@task
def note_group_name(path: str, group_id: int) -> None:
    """Notes the group's name as the task finds it in the database."""
    note(path, Group.objects.get(pk=group_id).name)


@task(timeout=5)
async def note_slowly(path: str, number: int) -> None:
    """Notes its start, waits a second, notes its end: a worker killed meanwhile leaves it
    started and not ended."""
    await asyncio.to_thread(note, path, f"start {number}")
    await asyncio.sleep(1)
    await asyncio.to_thread(note, path, f"end {number}")
