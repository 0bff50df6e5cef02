"""allauth's headless token strategy, issuing the API's own bearer tokens (accounts/tokens.py):
a login through /_allauth/ answers an `access_token` that works on the whole API.

The session token (`X-Session-Token`, for the rest of allauth's flows) stays allauth's own.
The access token is tied to that session: logging out revokes it (accounts/signals.py).
"""

from datetime import timedelta

from allauth.headless.tokens.strategies.sessions import SessionTokenStrategy
from django.conf import settings
from django.http import HttpRequest

from .models import User
from .tokens import issue_token

SESSION_TOKEN_KEY = "api_token_id"


class ApiTokenStrategy(SessionTokenStrategy):  # type: ignore[misc]  # allauth is untyped
    def create_access_token(self, request: HttpRequest) -> str | None:
        user = request.user
        if not isinstance(user, User):
            return None
        record, token = issue_token(
            user, name="login", expires_in=timedelta(days=settings.LOGIN_TOKEN_DAYS)
        )
        request.session[SESSION_TOKEN_KEY] = record.pk
        return token
