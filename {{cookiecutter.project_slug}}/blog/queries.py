"""Every ORM call of the blog, named for what it does. Views only call these.

Two ways to reach the ORM from async code, and when to use which:

- Native async ORM (aget, acount, acreate, `async for`): one query per await. Use it for
  single reads and writes. Django still runs the query in a thread under the hood, but
  the code reads straight and nothing lazy escapes.
- sync_to_async around a sync function: for whatever must stay sync, above all
  transactions (there is no async transaction.atomic()) and multi-step work that should
  hold one connection from start to end.

The gotcha: a QuerySet is lazy. Returned un-evaluated to async code, it runs its query
wherever it is first iterated (in a schema, in a template) and raises
SynchronousOnlyOperation there. Every function below returns evaluated results. The same
goes for a relation: `post.author` on a post loaded without it runs a query on first
access, so every read here loads the author with select_related().

Who may see or change what is decided in permissions.py; `viewer` is the caller (an
AnonymousUser when nobody is signed in).
"""

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async
from django.db import connection, transaction
from django.db.models import QuerySet

from .models import Post
from .permissions import Viewer, can_change, can_publish, visible_posts

if TYPE_CHECKING:  # for the annotations only: code reaches the model via AUTH_USER_MODEL
    from accounts.models import User


class PostsNotFound(Post.DoesNotExist):
    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"Posts not found: {ids}")
        self.ids = ids


class PublishForbidden(Exception):
    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"Not allowed to publish: {ids}")
        self.ids = ids


class ChangeForbidden(Exception):
    pass


def _posts(viewer: Viewer, published: bool | None = None) -> QuerySet[Post]:
    posts = Post.objects.select_related("author").filter(visible_posts(viewer))
    return posts if published is None else posts.filter(published=published)


# Native async ORM -------------------------------------------------------------------------


async def get_post(post_id: int, *, viewer: Viewer) -> Post:
    """One post the viewer may see; raises Post.DoesNotExist (also for a hidden draft)."""
    return await _posts(viewer).aget(pk=post_id)


async def list_posts(
    *, viewer: Viewer, published: bool | None = None, offset: int = 0, limit: int = 20
) -> list[Post]:
    """A page of the posts the viewer may see, newest first, evaluated here with
    `async for` (see the module doc)."""
    return [post async for post in _posts(viewer, published)[offset : offset + limit]]


# Rows read per query of an export: memory holds this many posts, whatever the total.
EXPORT_CHUNK = 500


async def export_posts(*, viewer: Viewer) -> AsyncIterator[Post]:
    """Every post the viewer may see, oldest first, one chunk per query (keyset: id > the
    last one sent). Memory stays flat, and nothing of the query outlives a chunk: between
    two, no cursor is open and, on PostgreSQL, the connection is back in the pool, so a slow
    client holds none. A client that goes away stops it before the next chunk."""
    after = 0
    while True:
        chunk = await sync_to_async(_export_chunk)(viewer, after)
        for post in chunk:
            yield post
        if len(chunk) < EXPORT_CHUNK:
            return
        after = chunk[-1].pk


def _export_chunk(viewer: Viewer, after: int) -> list[Post]:
    try:
        return list(_posts(viewer).filter(pk__gt=after).order_by("pk")[:EXPORT_CHUNK])
    finally:
        if getattr(connection, "pool", None) is not None:
            connection.close()  # with psycopg's pool: the connection goes back to it


async def count_posts(*, viewer: Viewer, published: bool | None = None) -> int:
    return await _posts(viewer, published).acount()


async def create_post(
    *, author: "User", title: str, body: str = "", published: bool = False
) -> Post:
    return await Post.objects.acreate(author=author, title=title, body=body, published=published)


# sync_to_async -----------------------------------------------------------------------------


async def get_post_in_thread(post_id: int, *, viewer: Viewer) -> Post:
    """The classic form, same result as get_post(): the sync ORM call runs in a thread.

    Prefer get_post(); this stays to show the form you will meet in older code.
    """
    return await sync_to_async(_posts(viewer).get)(pk=post_id)


async def list_published_in_thread(*, limit: int = 20) -> list[Post]:
    """sync_to_async(list) forces the query inside the thread.

    `sync_to_async(Post.objects.filter)(...)` would NOT work: filter() only builds a lazy
    QuerySet, so the query would run later, in async code, and fail.
    """
    # mypy cannot pick list()'s overload through sync_to_async's ParamSpec; the call is fine.
    published = Post.objects.select_related("author").filter(published=True)
    return await sync_to_async(list)(published[:limit])  # type: ignore[call-arg]


def _publish_posts(user: Viewer, post_ids: list[int]) -> list[int]:
    # All or nothing: the posts are locked and published inside one transaction; an id
    # the user cannot see (unknown, or someone else's draft) or may not publish raises,
    # and the atomic block rolls back the posts already published. Rows are locked in id
    # order, so two publishes of the same posts in another order cannot deadlock.
    with transaction.atomic():
        missing, forbidden = [], []
        for post_id in sorted(set(post_ids)):
            post = _posts(user).select_for_update(of=("self",)).filter(pk=post_id).first()
            if post is None:
                missing.append(post_id)
            elif not can_publish(user, post):
                forbidden.append(post_id)
            elif not post.published:
                post.published = True
                post.save(update_fields=["published", "updated_at"])
        if missing:
            raise PostsNotFound(missing)
        if forbidden:
            raise PublishForbidden(forbidden)
    return list(dict.fromkeys(post_ids))


def _locked_post(user: Viewer, post_id: int) -> Post:
    post = _posts(user).select_for_update(of=("self",)).filter(pk=post_id).first()
    if post is None:
        raise Post.DoesNotExist(f"Post {post_id} does not exist")
    if not can_change(user, post):
        raise ChangeForbidden(f"Not allowed to change post {post_id}")
    return post


def _update_post(user: Viewer, post_id: int, changes: dict[str, object]) -> Post:
    # Read, check and write under the row lock: a concurrent change cannot slip in between.
    with transaction.atomic():
        post = _locked_post(user, post_id)
        for field, value in changes.items():
            setattr(post, field, value)
        if changes:
            post.save(update_fields=[*changes, "updated_at"])
    return post


def _delete_post(user: Viewer, post_id: int) -> None:
    with transaction.atomic():
        _locked_post(user, post_id).delete()


# One sync function in one thread: transaction.atomic() has no async form, and the whole
# transaction must run on the one connection of that thread.
publish_posts = sync_to_async(_publish_posts)
update_post = sync_to_async(_update_post)
delete_post = sync_to_async(_delete_post)
