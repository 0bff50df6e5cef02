"""The search cluster is part of GET /api/ready."""

import pytest
from django.conf import LazySettings
from django.test import AsyncClient

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db(transaction=True)]


async def test_ready_includes_search() -> None:
    response = await AsyncClient().get("/api/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "search": "ok"}


async def test_ready_reports_search_down_and_requires_it_only_when_told(
    settings: LazySettings, closed_port: int
) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{closed_port}"]

    shown = await AsyncClient().get("/api/ready")
    settings.READY_REQUIRES_SEARCH = True
    required = await AsyncClient().get("/api/ready")

    assert shown.status_code == 200
    assert required.status_code == 503
    assert (
        shown.json()["checks"]
        == required.json()["checks"]
        == {
            "database": "ok",
            "cache": "ok",
            "search": "failed: ConnectionError",
        }
    )
