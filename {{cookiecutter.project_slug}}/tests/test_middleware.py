"""The inline middleware still does the stock middleware's work, and the deploy checks see it."""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.test import AsyncClient, override_settings
from django.utils.functional import empty

from {{ cookiecutter.project_slug }}.runtime.checks import STOCK_MIDDLEWARE

from .conftest import OWN_MIDDLEWARE


async def test_security_headers_are_set_on_api_responses() -> None:
    response = await AsyncClient().get("/api/probe/async")

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db(transaction=True)
async def test_admin_works_with_sessions_saved_through_the_thread() -> None:
    user = await get_user_model().objects.acreate(
        username="admin", is_staff=True, is_superuser=True
    )
    client = AsyncClient()
    await client.aforce_login(user)

    response = await client.get("/admin/auth/group/")

    assert response.status_code == 200
    assert b"Select group to change" in response.content


@pytest.mark.django_db(transaction=True)
async def test_admin_messages_survive_the_redirect() -> None:
    user = await get_user_model().objects.acreate(
        username="admin", is_staff=True, is_superuser=True
    )
    client = AsyncClient()
    await client.aforce_login(user)

    response = await client.post("/admin/auth/group/add/", {"name": "Hello"}, follow=True)

    assert response.status_code == 200
    assert b"was added successfully" in response.content


@OWN_MIDDLEWARE
async def test_api_requests_do_not_build_a_message_store() -> None:
    response = await AsyncClient().get("/api/probe/async")

    assert response.asgi_request._messages._wrapped is empty  # type: ignore[attr-defined]


# The model checks ask SQLite whether it supports JSON (the outbox's payload field): the
# tests that run them need the database.
def deploy_check_ids() -> set[str]:
    return {message.id for message in run_checks(include_deployment_checks=True) if message.id}


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=0)
def test_deploy_checks_still_see_settings_that_depend_on_the_middleware() -> None:
    assert "security.W004" in deploy_check_ids()


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=3600)
def test_deploy_checks_pass_when_the_setting_is_right() -> None:
    assert "security.W004" not in deploy_check_ids()


@OWN_MIDDLEWARE
@pytest.mark.django_db
def test_deploy_checks_notice_a_missing_security_middleware() -> None:
    without = [path for path in settings.MIDDLEWARE if not path.endswith(".SecurityMiddleware")]

    with override_settings(MIDDLEWARE=without):
        assert "middleware.security.W001" in deploy_check_ids()


def test_every_stock_class_the_checks_need_is_subclassed() -> None:
    from {{ cookiecutter.project_slug }}.runtime.checks import as_stock_path

    assert set(STOCK_MIDDLEWARE) <= {as_stock_path(path) for path in settings.MIDDLEWARE}


@pytest.mark.django_db
@override_settings(SECURE_HSTS_SECONDS=0)
def test_deploy_checks_are_not_doubled_with_the_stock_classes() -> None:
    from {{ cookiecutter.project_slug }}.runtime.checks import as_stock_path

    with override_settings(MIDDLEWARE=[as_stock_path(path) for path in settings.MIDDLEWARE]):
        ids = [m.id for m in run_checks(include_deployment_checks=True)]

    assert ids.count("security.W004") == 1
