"""The ORM helpers, and the lazy-QuerySet gotcha they exist to avoid."""

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import SynchronousOnlyOperation
from django.core.management import CommandError, call_command
from django.db.models import QuerySet

from accounts.models import User
from blog import queries
from blog.models import Post

from .conftest import MakeUser

ANONYMOUS = AnonymousUser()

pytestmark = pytest.mark.django_db(transaction=True)


async def test_lazy_queryset_evaluated_in_async_code_raises() -> None:
    await Post.objects.acreate(title="one", published=True)
    lazy = Post.objects.filter(published=True)  # no query yet

    with pytest.raises(SynchronousOnlyOperation):
        list(lazy)  # the query runs here, on the event loop


async def test_sync_to_async_on_filter_alone_still_fails() -> None:
    await Post.objects.acreate(title="one", published=True)
    # filter() runs in the thread, but it only builds the QuerySet: nothing is queried there.
    lazy = await sync_to_async(Post.objects.filter)(published=True)

    with pytest.raises(SynchronousOnlyOperation):
        [post.title for post in lazy]


async def test_sync_to_async_list_evaluates_in_the_thread() -> None:
    await Post.objects.acreate(title="one", published=True)

    qs = Post.objects.filter(published=True)
    posts: list[Post] = await sync_to_async(list)(qs)  # type: ignore[call-arg]

    assert [post.title for post in posts] == ["one"]


async def test_lazy_relation_read_in_async_code_raises(alice: User) -> None:
    await Post.objects.acreate(title="one", author=alice)
    post = await Post.objects.aget(title="one")  # the author is not loaded

    with pytest.raises(SynchronousOnlyOperation):
        post.author  # noqa: B018  (the query runs here, on the event loop)


async def test_queries_load_the_author_with_the_post(alice: User) -> None:
    created = await Post.objects.acreate(title="one", author=alice, published=True)

    post = await queries.get_post(created.pk, viewer=ANONYMOUS)
    (listed,) = await queries.list_posts(viewer=ANONYMOUS)

    assert post.author is not None and post.author.username == "alice"  # no query here
    assert listed.author is not None and listed.author.username == "alice"


async def test_native_and_thread_getters_agree() -> None:
    post = await Post.objects.acreate(title="same", published=True)

    found = await queries.get_post(post.pk, viewer=ANONYMOUS)
    assert found == await queries.get_post_in_thread(post.pk, viewer=ANONYMOUS) == post


async def test_the_thread_getter_hides_a_draft_as_get_post_does(alice: User) -> None:
    draft = await Post.objects.acreate(title="draft", author=alice)

    with pytest.raises(Post.DoesNotExist):
        await queries.get_post_in_thread(draft.pk, viewer=ANONYMOUS)
    assert await queries.get_post_in_thread(draft.pk, viewer=alice) == draft


async def test_missing_post_raises_does_not_exist() -> None:
    with pytest.raises(Post.DoesNotExist):
        await queries.get_post(1, viewer=ANONYMOUS)


async def test_list_posts_returns_an_evaluated_list() -> None:
    await Post.objects.acreate(title="draft")
    await Post.objects.acreate(title="live", published=True)

    posts = await queries.list_posts(viewer=ANONYMOUS, published=True)

    assert isinstance(posts, list)
    assert [post.title for post in posts] == ["live"]
    assert await queries.count_posts(viewer=ANONYMOUS) == 1  # drafts are not for anonymous eyes


async def test_list_published_in_thread_returns_only_published() -> None:
    await Post.objects.acreate(title="draft")
    await Post.objects.acreate(title="live", published=True)

    assert [post.title for post in await queries.list_published_in_thread()] == ["live"]


async def test_publish_rolls_back_posts_published_before_the_bad_id(staff: User) -> None:
    first = await Post.objects.acreate(title="published first, then rolled back")
    last = await Post.objects.acreate(title="after the bad id")

    with pytest.raises(queries.PostsNotFound) as raised:
        await queries.publish_posts(staff, [first.pk, 999_999, last.pk])

    assert raised.value.ids == [999_999]
    await first.arefresh_from_db()
    await last.arefresh_from_db()
    assert (first.published, last.published) == (False, False)


async def test_publish_locks_the_rows_it_changes(
    monkeypatch: pytest.MonkeyPatch, staff: User
) -> None:
    # SELECT ... FOR UPDATE, so a concurrent edit or delete waits for the publish. (SQLite
    # has no row locks and drops the clause: its write transactions lock the whole file.)
    locked: list[type] = []
    real_select_for_update = QuerySet.select_for_update

    def recording(self: QuerySet[Post], *args: Any, **kwargs: Any) -> QuerySet[Post]:
        locked.append(self.model)
        return real_select_for_update(self, *args, **kwargs)

    monkeypatch.setattr(QuerySet, "select_for_update", recording)
    posts = [await Post.objects.acreate(title=title) for title in ("one", "two")]

    await queries.publish_posts(staff, [post.pk for post in posts])

    assert locked == [Post, Post]


async def test_publish_ignores_repeated_ids(staff: User) -> None:
    post = await Post.objects.acreate(title="twice")

    assert await queries.publish_posts(staff, [post.pk, post.pk]) == [post.pk]


def test_seed_posts_creates_the_count_asked(db: None) -> None:
    call_command("seed_posts", "--count", "25")

    assert Post.objects.count() == 25
    assert 0 < Post.objects.filter(published=True).count() < 25


def test_seed_posts_gives_every_post_an_author_who_may_edit_it(db: None) -> None:
    call_command("seed_posts", "--count", "5")

    author = User.objects.get(username="demo-author")
    assert not author.has_usable_password()
    assert set(Post.objects.values_list("author", flat=True)) == {author.pk}


def test_seed_posts_prefers_the_named_author_then_the_first_superuser(
    make_user: MakeUser, alice: User
) -> None:
    admin = User.objects.create_superuser("admin")

    call_command("seed_posts", "--count", "2")
    call_command("seed_posts", "--count", "3", "--author", "alice")

    assert Post.objects.filter(author=admin).count() == 2
    assert Post.objects.filter(author=alice).count() == 3
    assert not User.objects.filter(username="demo-author").exists()


def test_seed_posts_names_a_missing_author(db: None) -> None:
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("seed_posts", "--author", "nobody")


def test_seed_posts_rejects_a_count_below_one(db: None) -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("seed_posts", "--count", "0")
