"""Django's deploy checks, taught that middleware.py subclasses the stock middleware.

Django finds SecurityMiddleware, XFrameOptionsMiddleware and CsrfViewMiddleware by their
stock dotted paths. With our subclasses in MIDDLEWARE it would warn that they are missing
(security.W001-W003, silenced in settings) and, worse, skip every check that depends on
them (HSTS, SSL redirect, X-Frame-Options, CSRF cookie ...). This check runs those again
as if MIDDLEWARE named the stock classes.
"""

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, register
from django.core.checks.security import base, csrf
from django.test.utils import override_settings
from django.utils.module_loading import import_string

STOCK_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
# The checks Django skips when it cannot find the stock classes by name.
MIDDLEWARE_DEPENDENT_CHECKS = [
    base.check_security_middleware,
    base.check_xframe_options_middleware,
    base.check_sts,
    base.check_sts_include_subdomains,
    base.check_sts_preload,
    base.check_content_type_nosniff,
    base.check_ssl_redirect,
    base.check_xframe_deny,
    base.check_referrer_policy,
    base.check_cross_origin_opener_policy,
    csrf.check_csrf_middleware,
    csrf.check_csrf_cookie_secure,
]
# Settings silence these for Django's own run; ours reports them under another id.
SILENCED_IN_SETTINGS = {"security.W001", "security.W002", "security.W003"}


def as_stock_path(path: str) -> str:
    middleware = import_string(path)
    for stock_path in STOCK_MIDDLEWARE:
        if isinstance(middleware, type) and issubclass(middleware, import_string(stock_path)):
            return stock_path
    return path


@register(Tags.security, deploy=True)
def check_middleware_as_stock(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    as_stock = [as_stock_path(path) for path in settings.MIDDLEWARE]
    if as_stock == list(settings.MIDDLEWARE):
        return []  # stock classes only: Django's own checks already ran these
    with override_settings(MIDDLEWARE=as_stock):
        messages = [message for check in MIDDLEWARE_DEPENDENT_CHECKS for message in check(None)]
    for message in messages:
        if message.id in SILENCED_IN_SETTINGS:
            message.id = f"middleware.{message.id}"
    return messages
