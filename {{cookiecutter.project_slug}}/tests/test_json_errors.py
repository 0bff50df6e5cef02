"""Every error under /api/ answers JSON, whoever makes it; other pages keep their HTML."""

import pytest
from django.conf import LazySettings
from django.test import AsyncClient, Client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("debug", [True, False])
def test_unknown_api_path_is_a_json_404(settings: LazySettings, debug: bool) -> None:
    settings.DEBUG = debug

    response = Client().get("/api/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "detail": "Not Found: no operation has this path "
        "(ids in paths are whole numbers; see /api/docs)"
    }


async def test_wrong_method_is_a_json_405_with_allow() -> None:
    response = await AsyncClient().delete("/api/health")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert set(response["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert response.json() == {
        "detail": f"Method Not Allowed: this path answers {response['Allow']}"
    }


def test_a_host_not_allowed_is_a_json_400(settings: LazySettings) -> None:
    settings.ALLOWED_HOSTS = ["api.example.com"]

    response = Client(HTTP_HOST="evil.example.net").get("/api/probe/sync")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Bad Request: the Host header names no host this server serves (ALLOWED_HOSTS)"
    }


def test_pages_outside_the_api_keep_their_html() -> None:
    response = Client().get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
