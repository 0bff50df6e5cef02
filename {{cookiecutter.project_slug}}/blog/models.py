from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models, transaction

from .signals import posts_changed


def changed(ids: Iterable[int | None]) -> None:
    """Tell posts_changed's receivers, in the current transaction."""
    if known := [pk for pk in ids if pk is not None]:
        posts_changed.send(sender=Post, ids=known)


class PostQuerySet(models.QuerySet["Post"]):
    """Bulk writes that send posts_changed in their transaction, like Post.save() does.
    The async forms (aupdate, adelete, abulk_create) run these in a thread."""

    def update(self, **kwargs: Any) -> int:
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
        objs = list(objs)
        with transaction.atomic(using=self.db, savepoint=False):
            count = super().bulk_update(objs, fields, batch_size=batch_size)
            changed(post.pk for post in objs)
        return count


class Post(models.Model):
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    published = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
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
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            super().save(*args, **kwargs)
            changed([self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        pk = self.pk
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            deleted = super().delete(*args, **kwargs)
            changed([pk])
        return deleted
