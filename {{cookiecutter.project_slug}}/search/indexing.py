"""The index follows the database, through the outbox.

Every write of posts sends blog's posts_changed inside its transaction; record_changes()
writes one outbox message per post there, so the change and the message commit together.
The outbox worker then calls apply_changes() with a batch: it reads each post as it is
now and indexes it (published) or deletes it from the index (draft, or gone), in one bulk
request. Reading the current state makes a message idempotent, and the outbox gives each
post to one worker at a time, so the index ends in the database's state.
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
    ids = sorted({int(message.key) for message in messages if message.key.isdigit()})
    published = {post.pk: post async for post in Post.objects.filter(pk__in=ids, published=True)}
    operations: list[dict[str, Any]] = []
    for pk in ids:
        if pk in published:
            operations += [{"index": {"_id": str(pk)}}, post_document(published[pk])]
        else:
            operations.append({"delete": {"_id": str(pk)}})
    failed: dict[str, str] = {}
    if operations:
        await ensure_index()
        answer = await get_client().bulk(index=index_name(), operations=operations)
        for item in answer["items"]:
            [(action, result)] = item.items()
            # Deleting what is not in the index (a draft never published) is done too.
            if result["status"] >= 300 and not (action == "delete" and result["status"] == 404):
                failed[result["_id"]] = f"{action} {result['status']}: {result.get('error')}"
    return {message.pk: failed[message.key] for message in messages if message.key in failed}
