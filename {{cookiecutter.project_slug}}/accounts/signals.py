"""Tokens revoked when their session ends or the password changes."""

from typing import Any

from allauth.account.signals import password_changed, password_reset, password_set
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from .headless import SESSION_TOKEN_KEY
from .models import ApiToken


@receiver(user_logged_out)
def revoke_the_sessions_token(request: HttpRequest | None, **kwargs: Any) -> None:
    """Logging out revokes the access token the login gave."""
    token_id = request.session.get(SESSION_TOKEN_KEY) if request is not None else None
    if token_id is not None:
        ApiToken.objects.filter(pk=token_id, revoked_at=None).update(revoked_at=timezone.now())


@receiver(password_changed)
@receiver(password_set)
@receiver(password_reset)
def revoke_the_other_tokens(request: HttpRequest, user: Any, **kwargs: Any) -> None:
    """A new password ends every other way in: the user's tokens but the one of this session
    (Django ends the other sessions itself: their password hash no longer matches)."""
    tokens = ApiToken.objects.filter(user=user, revoked_at=None)
    keep = request.session.get(SESSION_TOKEN_KEY) if hasattr(request, "session") else None
    if keep is not None:
        tokens = tokens.exclude(pk=keep)
    tokens.update(revoked_at=timezone.now())
