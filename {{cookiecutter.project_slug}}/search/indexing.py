"""The index follows the database, through the outbox.

Every write of posts sends blog's posts_changed inside its transaction; record_changes()
writes one outbox message per post there, so the change and the message commit together.
The outbox worker then calls apply_changes() with a batch: it reads each post as it is
now and indexes it (published) or deletes it from the index (draft, or gone), in one bulk
request. Reading the current state makes a message idempotent, and the outbox gives each
post to one worker at a time, so the index ends in the database's state.

A stale state never overwrites a newer one, even from a worker that ran past its lease
(another then took the same post, read it later, and wrote first): each write carries the
newest outbox message id of its post as an external version. A later read always comes with
a message id at least as high (the database hands them out in order, whatever the hosts'
clocks), so the engine refuses the older write (409, counted as done: the index is already
newer). Deletes leave a versioned tombstone, so a late stale write cannot bring a post back.
"""

from typing import Any

from blog.models import Post
from outbox import store
from outbox.handlers import Failures
from outbox.models import Message

from .client import get_client
from .documents import ensure_index, index_name, post_document

TOPIC = "search.post"


def record_changes(sender: type[Post], ids: list[int], **kwargs: Any) -> None:
    """Receiver of blog's posts_changed (inside the writing transaction)."""
    store.record(TOPIC, (str(pk) for pk in ids))


async def apply_changes(messages: list[Message]) -> Failures:
    versions: dict[int, int] = {}
    for message in messages:
        if message.key.isdigit():
            pk = int(message.key)
            versions[pk] = max(versions.get(pk, 0), message.pk)
    published = {
        post.pk: post async for post in Post.objects.filter(pk__in=versions, published=True)
    }
    operations: list[dict[str, Any]] = []
    for pk, version in sorted(versions.items()):
        # external_gte: the same state written again (a retry) is no conflict.
        meta = {"_id": str(pk), "version": version, "version_type": "external_gte"}
        if pk in published:
            operations += [{"index": meta}, post_document(published[pk])]
        else:
            operations.append({"delete": meta})
    failed: dict[str, str] = {}
    if operations:
        await ensure_index()
        answer = await get_client().bulk(index=index_name(), operations=operations)
        for item in answer["items"]:
            [(action, result)] = item.items()
            if result["status"] >= 300 and not already_applied(action, result["status"]):
                failed[result["_id"]] = f"{action} {result['status']}: {result.get('error')}"
    return {message.pk: failed[message.key] for message in messages if message.key in failed}


def already_applied(action: str, status: int) -> bool:
    """409: the index holds a newer version of the post. A delete of what is not in the
    index (a draft never published): nothing to do."""
    return status == 409 or (action == "delete" and status == 404)
