"""The search cluster is part of GET /api/ready."""

import pytest
from django.conf import LazySettings
from django.test import AsyncClient

pytestmark = [pytest.mark.elasticsearch, pytest.mark.django_db(transaction=True)]


async def test_ready_includes_search() -> None:
    response = await AsyncClient().get("/api/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "search": "ok"}


async def test_ready_is_a_503_when_search_is_down(settings: LazySettings, closed_port: int) -> None:
    settings.ELASTICSEARCH_URL = [f"http://127.0.0.1:{closed_port}"]

    response = await AsyncClient().get("/api/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "cache": "ok",
        "search": "failed: ConnectionError",
    }
