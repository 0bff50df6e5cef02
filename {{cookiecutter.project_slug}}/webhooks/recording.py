"""Deliveries are enqueued with the publish, in its transaction (the outbox backend's
guarantee; on its commit with another backend): a publish that commits has its deliveries,
one that rolls back has none."""

import uuid
from typing import Any

from django.conf import settings

from blog.models import Post
from outbox.transactional import enqueue_with_change

from .delivery import deliver
from .models import Announced, StoppedReceiver

# Posts per delivery: a bulk publish of thousands is several bodies of a sane size.
POSTS_PER_DELIVERY = 100


def describe(post: Post) -> dict[str, Any]:
    return {
        "id": post.pk,
        "title": post.title,
        "author": post.author.get_username() if post.author else None,
        "created_at": post.created_at.isoformat(),
    }


def record_publishes(sender: object, ids: list[int], **kwargs: Any) -> None:
    """posts_changed receiver: the posts that are published now and were not announced get
    one delivery per receiver; posts no longer published may be announced again later."""
    if not settings.WEBHOOK_URLS:
        return  # webhooks off: not a query more per write
    published = list(Post.objects.filter(pk__in=ids, published=True).select_related("author"))
    announced = set(Announced.objects.filter(post_id__in=ids).values_list("post_id", flat=True))
    Announced.objects.filter(post_id__in=set(ids) - {post.pk for post in published}).delete()
    new = [post for post in published if post.pk not in announced]
    if not new:
        return
    # A concurrent publish of the same post may announce it too (at least once, as webhooks
    # are): receivers tell deliveries apart by id, and posts by theirs.
    Announced.objects.bulk_create([Announced(post=post) for post in new], ignore_conflicts=True)
    stopped = set(StoppedReceiver.objects.values_list("url", flat=True))
    for start in range(0, len(new), POSTS_PER_DELIVERY):
        posts = [describe(post) for post in new[start : start + POSTS_PER_DELIVERY]]
        for url in settings.WEBHOOK_URLS:
            if url not in stopped:
                enqueue_with_change(deliver, uuid.uuid4().hex, url, "posts.published", posts)
