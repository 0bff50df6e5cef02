"""The project's user model (from the first migration, as Django recommends: swapping it
later, once tables hold data, is painful), and API tokens."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """Django's user, as is. Add fields here; every reference goes through
    settings.AUTH_USER_MODEL or get_user_model()."""


class ApiToken(models.Model):
    """A bearer token. Only its SHA-256 digest is stored: the token is shown once, when made.

    `prefix` is the token's first characters, not secret, so people and the admin can tell
    tokens apart (as GitHub's and Stripe's tokens do).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
