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
SynchronousOnlyOperation there. Every function below returns evaluated results.
"""

from asgiref.sync import sync_to_async
from django.db import transaction
from django.db.models import QuerySet

from .models import Post


class PostsNotFound(Post.DoesNotExist):
    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"Posts not found: {ids}")
        self.ids = ids


def _posts(published: bool | None) -> QuerySet[Post]:
    posts = Post.objects.all()
    return posts if published is None else posts.filter(published=published)


# Native async ORM -------------------------------------------------------------------------


async def get_post(post_id: int) -> Post:
    """One post; raises Post.DoesNotExist."""
    return await Post.objects.aget(pk=post_id)


async def list_posts(
    *, published: bool | None = None, offset: int = 0, limit: int = 20
) -> list[Post]:
    """A page of posts, newest first, evaluated here with `async for` (see the module doc)."""
    return [post async for post in _posts(published)[offset : offset + limit]]


async def count_posts(*, published: bool | None = None) -> int:
    return await _posts(published).acount()


async def create_post(*, title: str, body: str = "", published: bool = False) -> Post:
    return await Post.objects.acreate(title=title, body=body, published=published)


# sync_to_async -----------------------------------------------------------------------------


async def get_post_in_thread(post_id: int) -> Post:
    """The classic form, same result as get_post(): the sync ORM call runs in a thread.

    Prefer get_post(); this stays to show the form you will meet in older code.
    """
    return await sync_to_async(Post.objects.get)(pk=post_id)


async def list_published_in_thread(*, limit: int = 20) -> list[Post]:
    """sync_to_async(list) forces the query inside the thread.

    `sync_to_async(Post.objects.filter)(...)` would NOT work: filter() only builds a lazy
    QuerySet, so the query would run later, in async code, and fail.
    """
    # mypy cannot pick list()'s overload through sync_to_async's ParamSpec; the call is fine.
    return await sync_to_async(list)(_posts(True)[:limit])  # type: ignore[call-arg]


def _publish_posts(post_ids: list[int]) -> list[int]:
    # All or nothing: each post is locked and published in turn inside one transaction;
    # an unknown id raises, and the atomic block rolls back the posts already published.
    with transaction.atomic():
        missing = []
        for post_id in dict.fromkeys(post_ids):  # unique, in the order given
            post = Post.objects.select_for_update().filter(pk=post_id).first()
            if post is None:
                missing.append(post_id)
                continue
            post.published = True
            post.save(update_fields=["published", "updated_at"])
        if missing:
            raise PostsNotFound(missing)
    return list(dict.fromkeys(post_ids))


# One sync function in one thread: transaction.atomic() has no async form, and the whole
# transaction must run on the one connection of that thread.
publish_posts = sync_to_async(_publish_posts)
