from django.conf import settings
from django.db import models


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

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The list endpoint filters on published and sorts newest first.
            models.Index(fields=["published", "-created_at"], name="blog_post_published_created"),
            models.Index(fields=["-created_at"], name="blog_post_created"),
        ]

    def __str__(self) -> str:
        return self.title
