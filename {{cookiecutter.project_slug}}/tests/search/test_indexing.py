"""The index follows the database: every write path, through an indexing task, to osmem."""

import asyncio
from typing import Any

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import LazySettings
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import AsyncClient

from accounts.models import User
from blog.models import Post
from outbox.models import QueuedTask
from outbox.worker import TaskWorker
from search import indexing
from search.client import get_client
from search.documents import index_name, versions_behind_alias
from search.indexing import NotIndexed, index_posts
from search.rebuild import rebuild_index

from ..conftest import bearer, wait_until
from .conftest import Relay, apply_changes

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db(transaction=True)]


async def found(query: str) -> list[str]:
    """Titles of the hits, as the API answers them."""
    response = await AsyncClient().get("/api/search", {"q": query, "size": "50"})
    assert response.status_code == 200, response.content
    return sorted(hit["title"] for hit in response.json()["hits"])


async def api(user: User, method: str, path: str, data: Any = None) -> Any:
    response = await getattr(AsyncClient(), method)(
        f"/api/blog/posts{path}", data, content_type="application/json", headers=await bearer(user)
    )
    assert response.status_code < 300, response.content
    return response.json() if response.content else None


async def test_api_writes_reach_the_index(alice: User) -> None:
    draft = await api(alice, "post", "", {"title": "quokka draft"})
    await api(alice, "post", "", {"title": "quokka live", "published": True})
    await apply_changes()
    assert await found("quokka") == ["quokka live"]  # a draft is never searchable

    await api(alice, "post", "/publish", {"ids": [draft["id"]]})
    await apply_changes()
    assert await found("quokka") == ["quokka draft", "quokka live"]

    await api(alice, "patch", f"/{draft['id']}", {"title": "wombat renamed"})
    await apply_changes()
    assert await found("quokka") == ["quokka live"]
    assert await found("wombat") == ["wombat renamed"]

    await api(alice, "patch", f"/{draft['id']}", {"published": False})
    await apply_changes()
    assert await found("wombat") == []

    live = await Post.objects.aget(title="quokka live")
    await api(alice, "delete", f"/{live.pk}")
    await apply_changes()
    assert await found("quokka") == []


async def test_admin_writes_reach_the_index(make_user: Any) -> None:
    admin = await sync_to_async(make_user)("root", staff=True)
    admin.is_superuser = True
    await admin.asave()
    client = AsyncClient()
    await client.aforce_login(admin)
    add = await client.post(
        "/admin/blog/post/add/", {"title": "numbat", "body": "b", "published": "on"}
    )
    assert add.status_code == 302, add.content
    post = await Post.objects.aget(title="numbat")
    await apply_changes()
    assert await found("numbat") == ["numbat"]

    change = await client.post(
        f"/admin/blog/post/{post.pk}/change/", {"title": "numbat edited", "body": "b"}
    )  # published left unchecked: unpublished
    assert change.status_code == 302, change.content
    await apply_changes()
    assert await found("numbat") == []

    await Post.objects.filter(pk=post.pk).aupdate(published=True)
    await apply_changes()
    assert await found("numbat") == ["numbat edited"]

    delete = await client.post(
        "/admin/blog/post/",
        {"action": "delete_selected", "_selected_action": [post.pk], "post": "yes"},
    )
    assert delete.status_code == 302, delete.content
    await apply_changes()
    assert await found("numbat") == []


async def test_queryset_writes_and_commands_reach_the_index() -> None:
    await sync_to_async(call_command)("seed_posts", "--count", "30", stdout=None)
    await apply_changes()
    published = await Post.objects.filter(published=True).acount()
    assert (await get_client().count(index=index_name()))["count"] == published

    first_two = [pk async for pk in Post.objects.values_list("pk", flat=True)[:2]]
    await Post.objects.filter(pk__in=first_two).adelete()
    await apply_changes()
    assert (await get_client().count(index=index_name()))["count"] == await Post.objects.filter(
        published=True
    ).acount()

    await Post.objects.filter(published=True).aupdate(published=False)
    await apply_changes()
    assert (await get_client().count(index=index_name()))["count"] == 0


async def test_engine_down_then_up_the_worker_catches_up(
    settings: LazySettings, relay: Relay, alice: User
) -> None:
    settings.OUTBOX_MAX_RETRY_DELAY = 0.2
    settings.OUTBOX_POLL_INTERVAL = 0.05
    await relay.switch_off()  # the engine is down
    await api(alice, "post", "", {"title": "platypus", "published": True})
    indexing = QueuedTask.objects.filter(task_path="search.indexing.index_posts")
    worker = asyncio.create_task(TaskWorker().run())
    try:

        async def retried() -> bool:
            errors = indexing.values_list("errors", flat=True)
            return any([len(attempts) >= 2 async for attempts in errors])

        await wait_until(retried)  # failing, retrying
        await relay.switch_on()  # the engine is back, at the same address
        await wait_until(indexing.filter(status="SUCCESSFUL").aexists)
    finally:
        worker.cancel()
    await get_client().indices.refresh(index=index_name())
    assert await found("platypus") == ["platypus"]


async def test_a_restarted_process_applies_what_was_pending(alice: User) -> None:
    """Changes saved while no worker ran (the process stopped) are applied by the next one."""
    await api(alice, "post", "", {"title": "echidna", "published": True})
    assert await QueuedTask.objects.filter(status="READY").acount() == 1  # nobody ran it

    await apply_changes()  # a new process's worker

    assert await found("echidna") == ["echidna"]
    assert await QueuedTask.objects.filter(status="SUCCESSFUL").acount() == 1


def write_elsewhere(author: User) -> None:
    """A post created and one deleted on a connection of their own, as another process
    would: the rebuild reads the posts through one open cursor, and a write on the same
    connection would hold SQLite's write lock until that cursor ends."""
    try:
        Post.objects.create(title="late kiwi", published=True, author=author)
        Post.objects.filter(title="dingo").delete()
    finally:
        connection.close()


async def test_rebuild_under_concurrent_searches_never_drops_and_loses_nothing(
    alice: User,
) -> None:
    await Post.objects.abulk_create(
        [Post(title=f"kiwi {n}", body="kiwi", published=True) for n in range(600)]
    )
    await Post.objects.acreate(title="dingo", published=True)
    await apply_changes()
    first_version = await versions_behind_alias()
    totals: list[int] = []
    rebuilding = True

    async def search_all_the_time() -> None:
        while rebuilding:
            response = await AsyncClient().get("/api/search", {"q": "kiwi"})
            totals.append(response.json()["total"])

    async def write_during_the_rebuild() -> None:
        async def new_version_exists() -> bool:
            versions = await get_client().indices.get(index=f"{index_name()}-v*")
            return bool(versions.keys() - set(first_version))

        await wait_until(new_version_exists)
        await sync_to_async(write_elsewhere, thread_sensitive=False)(alice)
        # Applied to the old version, the alias's until the swap. In a thread of its own, as
        # the served worker runs: its round ends by closing its thread's connection.
        async with ThreadSensitiveContext():
            await TaskWorker().run_until_idle()

    searches = asyncio.create_task(search_all_the_time())
    writes = asyncio.create_task(write_during_the_rebuild())
    await wait_until(lambda: asyncio.sleep(0, bool(totals)))  # searching before it starts
    summary = await rebuild_index(chunk_size=50, progress=lambda summary: None)
    await writes
    rebuilding = False
    await searches
    await apply_changes()  # what the rebuild found behind and queued again

    # How many searches fit in the rebuild depends on the machine; none may see fewer posts.
    assert min(totals) >= 600, totals
    assert await versions_behind_alias() == [summary.version] != first_version
    versions = await get_client().indices.get(index=f"{index_name()}-v*")
    assert list(versions) == [summary.version]  # the old version is gone
    assert await found('"late kiwi"') == ["late kiwi"]
    assert await found("dingo") == []
    assert (await get_client().count(index=index_name()))["count"] == 601


async def test_rebuild_replaces_an_index_from_before_aliases() -> None:
    await get_client().indices.create(index=index_name())  # a plain index, as older bakes made
    await Post.objects.acreate(title="bilby", published=True)

    await rebuild_index(progress=lambda summary: None)

    assert await versions_behind_alias() != []
    assert await found("bilby") == ["bilby"]


async def test_a_stale_write_that_lands_late_never_overwrites_a_newer_one(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task reads a post published, then its bulk request lands late (a slow engine);
    meanwhile another task read it unpublished and deleted it from the index. The late,
    older write is refused: the draft stays out of search."""
    post = await Post.objects.acreate(title="platypus", author=alice, published=True)
    held = asyncio.Event()
    released = asyncio.Event()
    real_bulk = type(get_client()).bulk

    async def bulk_that_lands_late(client: Any, **kwargs: Any) -> Any:
        if not held.is_set():  # the first task's request: held until the newer one is in
            held.set()
            await released.wait()
        return await real_bulk(client, **kwargs)

    monkeypatch.setattr(type(get_client()), "bulk", bulk_that_lands_late)
    stale = asyncio.create_task(index_posts.acall([post.pk]))  # reads "published"
    await held.wait()
    await Post.objects.filter(pk=post.pk).aupdate(published=False)
    await index_posts.acall([post.pk])
    released.set()
    await stale  # refused as older, which counts as done: no error

    await get_client().indices.refresh(index=index_name())
    assert await found("platypus") == []


async def test_an_indexing_task_fails_for_its_own_posts_only(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two tasks that run at once share one bulk request; the engine refuses one post: that
    post's task fails (to be retried), the other's succeeds."""
    kept = await Post.objects.acreate(title="kept", author=alice, published=True)
    refused = await Post.objects.acreate(title="refused", author=alice, published=True)
    bulks: list[list[int]] = []

    async def write(ids: list[int]) -> dict[int, str]:
        bulks.append(ids)
        return {refused.pk: "index 400: refused"}

    monkeypatch.setattr(indexing.batches, "write", write)
    outcomes = await asyncio.gather(
        index_posts.acall([kept.pk]), index_posts.acall([refused.pk]), return_exceptions=True
    )

    assert bulks == [sorted([kept.pk, refused.pk])]  # one request for both
    assert outcomes[0] is None
    assert isinstance(outcomes[1], NotIndexed)


async def test_a_deleted_post_never_comes_back_from_a_stale_write(alice: User) -> None:
    """A task that read a post before it was deleted writes after the delete: refused."""
    post = await Post.objects.acreate(title="quoll", author=alice, published=True)
    await apply_changes()
    stale = await Post.objects.aget(pk=post.pk)
    await post.adelete()
    await apply_changes()

    answer = (
        await get_client()
        .options(ignore_status=409)
        .index(
            index=index_name(),
            id=str(stale.pk),
            document={"title": stale.title},
            version=stale.revision,  # as index_posts() writes it
            version_type="external_gte",
            refresh=True,
        )
    )

    assert answer.meta.status == 409
    assert await found("quoll") == []


async def test_every_write_raises_the_revision(alice: User) -> None:
    post = await Post.objects.acreate(title="one", author=alice)
    assert post.revision == 1
    post.title = "two"
    await post.asave()
    assert post.revision == 2  # read again from the database
    await Post.objects.filter(pk=post.pk).aupdate(title="three")
    await sync_to_async(Post.objects.bulk_update)([post], ["title"])
    await post.arefresh_from_db()
    assert post.revision == 4


def test_changes_waiting_in_the_outbox_become_tasks_on_upgrade(alice: User) -> None:
    """Indexing was outbox messages before it was tasks: the upgrade's migration moves the
    waiting and failed ones over, so no change is lost."""
    queuedtask = ("outbox", "0002_queuedtask")
    before: list[tuple[str, str | None]] = [queuedtask, ("search", None)]
    after = [("search", "0001_changes_become_tasks")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    message = executor.loader.project_state(queuedtask).apps.get_model("outbox", "Message")
    for key, state in [("7", "pending"), ("3", "failed"), ("7", "pending"), ("5", "done")]:
        message.objects.create(topic="search.post", key=key, state=state)

    executor = MigrationExecutor(connection)
    executor.migrate(after)

    # Only columns the tasks' table had then (later migrations add more).
    moved = QueuedTask.objects.filter(task_path="search.indexing.index_posts").only(
        "status", "args"
    )
    assert [(task.status, task.args) for task in moved] == [("READY", [[3, 7]])]
    assert not message.objects.exists()
    executor.migrate(executor.loader.graph.leaf_nodes())  # and on, to where the tests were
