from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.db.models.expressions import Combinable

from .signals import posts_changed

NEXT_REVISION = F("revision") + 1


def changed(ids: Iterable[int | None]) -> None:
    """Tell posts_changed's receivers, in the current transaction."""
    if known := [pk for pk in ids if pk is not None]:
        posts_changed.send(sender=Post, ids=known)


class PostQuerySet(models.QuerySet["Post"]):
    """Bulk writes that send posts_changed in their transaction, like Post.save() does.
    The async forms (aupdate, adelete, abulk_create) run these in a thread."""

    def update(self, **kwargs: Any) -> int:
        kwargs.setdefault("revision", NEXT_REVISION)  # bulk_update() gives its own
        with transaction.atomic(using=self.db, savepoint=False):
            ids = list(self.select_for_update().values_list("pk", flat=True))
            count = super().update(**kwargs)
            changed(ids)
        return count

    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self.db, savepoint=False):
            ids = list(self.values_list("pk", flat=True))
            deleted = super().delete()
            changed(ids)
        return deleted

    def bulk_create(self, objs: Iterable["Post"], *args: Any, **kwargs: Any) -> list["Post"]:
        with transaction.atomic(using=self.db, savepoint=False):
            created = super().bulk_create(objs, *args, **kwargs)
            changed(post.pk for post in created)
        return created

    def bulk_update(
        self, objs: Iterable["Post"], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        """Django's bulk_update() writes through update() above, which sends posts_changed."""
        objs = list(objs)
        for post in objs:
            post.revision = NEXT_REVISION
        with transaction.atomic(using=self.db, savepoint=False):
            count = super().bulk_update(objs, [*fields, "revision"], batch_size=batch_size)
            revisions = dict(self.filter(pk__in=[p.pk for p in objs]).values_list("pk", "revision"))
        for post in objs:
            post.revision = revisions[post.pk]
        return count


class Post(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # One more at every write, counted by the database under the row's lock, so a later
    # state of the post always has a higher one, whatever the hosts' clocks say. The search
    # index keeps the state of the highest it was sent (search/indexing.py).
    revision = models.PositiveBigIntegerField(default=1, editable=False)
    # The user who wrote it. Deleting a user keeps their posts (without an author, only
    # staff may publish them).
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="posts",
    )

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list endpoint filters on published and sorts newest first.
            models.Index(fields=["published", "-created_at"], name="blog_post_published_created"),
            models.Index(fields=["-created_at"], name="blog_post_created"),
        ]

    def __str__(self) -> str:
        return self.title

    # The write paths of one post: each sends posts_changed in the same transaction.
    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            self.revision = NEXT_REVISION
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = [*kwargs["update_fields"], "revision"]
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)
            if isinstance(self.revision, Combinable):  # the database's count: read it back
                rows = type(self)._base_manager.using(kwargs.get("using"))
                self.revision = rows.values_list("revision", flat=True).get(pk=self.pk)
            changed([self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        pk = self.pk
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            deleted = super().delete(*args, **kwargs)
            changed([pk])
        return deleted
