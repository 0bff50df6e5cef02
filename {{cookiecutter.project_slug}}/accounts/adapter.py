"""allauth's account adapter, changed in two ways: its emails are sent by a task
(accounts/mail.py), not in the request (the context is allauth's own, its send_mail's); and
failed logins are counted per login whatever the host name the request gave.
"""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest

from .mail import send_later


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        request = allauth_context.request
        defaults = {"request": request, "email": email, "current_site": get_current_site(request)}
        send_later(self.render_mail(template_prefix, email, {**defaults, **context}))

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        """allauth's key was the request's host and port, then the login: the port is the
        client's to choose (ALLOWED_HOSTS ignores it), so each port had 5 guesses of its
        own. Overrides a private method, which tests/test_account_flows.py would catch
        being renamed."""
        login = credentials.get("email", credentials.get("username", ""))
        return f"login:{str(login).lower()}"
