"""allauth's account adapter, changed in one way: its emails are sent by a task
(accounts/mail.py), not in the request. The context is allauth's own (its send_mail's)."""

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site

from .mail import send_later


class AccountAdapter(DefaultAccountAdapter):  # type: ignore[misc]  # allauth is untyped
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        request = allauth_context.request
        defaults = {"request": request, "email": email, "current_site": get_current_site(request)}
        send_later(self.render_mail(template_prefix, email, {**defaults, **context}))
