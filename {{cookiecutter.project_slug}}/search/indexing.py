"""The index follows the database, through tasks.

Every write of posts sends blog's posts_changed inside its transaction; enqueue_changes()
enqueues index_posts() with the posts' ids there (outbox/transactional.py: in the same
transaction with the outbox backend, on its commit with another). The task reads each post as
it is now and indexes it (published) or deletes it from the index (a draft, or gone), in
one bulk request. Reading the current state makes the task idempotent: run twice, or after
a newer one, it writes nothing wrong.

Order between tasks does not matter, and a stale state never overwrites a newer one (a task
that read a post, then wrote late): each write carries the post's revision, which the
database raises at every write (blog/models.py), as an external version, and the engine
refuses an older one (409, counted as done: the index is already newer). A draft's delete
carries its revision too; a gone post's carries GONE, above any revision: it never comes
back. Deletes leave a versioned tombstone, so a late stale write cannot bring a post back.
"""

from typing import Any

from blog.models import Post
from outbox.compat import task
from outbox.transactional import enqueue_with_change

from .batches import Batches
from .client import request_client
from .documents import ensure_index, index_name, post_document

# Posts per task: a bulk write of thousands of posts is several requests of a sane size.
POSTS_PER_TASK = 500
# The version of a gone post's delete: above every revision it had (ids are never reused).
GONE = 2**62


class NotIndexed(Exception):
    """Some posts of the batch were refused: the task is retried (all of it: idempotent)."""


def enqueue_changes(sender: type[Post], ids: list[int], **kwargs: Any) -> None:
    """Receiver of blog's posts_changed (inside the writing transaction)."""
    ids = sorted(set(ids))
    for start in range(0, len(ids), POSTS_PER_TASK):
        enqueue_with_change(index_posts, ids[start : start + POSTS_PER_TASK])


# Retried until it succeeds (an engine down for days catches up when it is back), at most
# OUTBOX_MAX_RETRY_DELAY apart.
@task(max_attempts=100_000, timeout=60)
async def index_posts(ids: list[int]) -> None:
    """Make the index match the database for these posts (with the other indexing tasks
    running at the same time: batches.py)."""
    if failed := await batches.run(ids):
        reasons = "; ".join(f"{pk} {why}" for pk, why in sorted(failed.items())[:5])
        raise NotIndexed(f"{len(failed)} of {len(ids)} posts not indexed: {reasons}")


async def write_posts(ids: list[int]) -> dict[int, str]:
    """Read the posts, write them in one bulk request; answers why each failed one did."""
    posts = {post.pk: post async for post in Post.objects.filter(pk__in=ids)}
    operations: list[dict[str, Any]] = []
    for pk in ids:
        post = posts.get(pk)
        version = post.revision if post else GONE
        # external_gte: the same state written again (a retry) is no conflict.
        meta = {"_id": str(pk), "version": version, "version_type": "external_gte"}
        if post and post.published:
            operations += [{"index": meta}, post_document(post)]
        else:
            operations.append({"delete": meta})
    async with request_client() as client:
        await ensure_index(client)
        answer = await client.bulk(index=index_name(), operations=operations)
    failed = {}
    for item in answer["items"]:
        [(action, result)] = item.items()
        if result["status"] >= 300 and not already_applied(action, result["status"]):
            failed[int(result["_id"])] = f"{action} {result['status']}: {result.get('error')}"
    return failed


batches = Batches(write_posts)


def already_applied(action: str, status: int) -> bool:
    """409: the index holds a newer version of the post. A delete of what is not in the
    index (a draft never published): nothing to do."""
    return status == 409 or (action == "delete" and status == 404)
