"""Browsers on other origins: CORS_ALLOWED_ORIGINS, and no one else."""

from django.test import AsyncClient, override_settings

LISTED = "https://app.example.com"


@override_settings(CORS_ALLOWED_ORIGINS=[LISTED])
async def test_a_listed_origin_gets_the_cors_headers_with_credentials() -> None:
    response = await AsyncClient().get("/api/health", headers={"Origin": LISTED})

    assert response["Access-Control-Allow-Origin"] == LISTED
    assert response["Access-Control-Allow-Credentials"] == "true"


@override_settings(CORS_ALLOWED_ORIGINS=[LISTED])
async def test_a_listed_origins_preflight_is_answered() -> None:
    response = await AsyncClient().options(
        "/api/probe/groups",
        headers={
            "Origin": LISTED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == LISTED
    assert "authorization" in response["Access-Control-Allow-Headers"]


@override_settings(CORS_ALLOWED_ORIGINS=[LISTED])
async def test_an_unlisted_origin_gets_no_cors_headers() -> None:
    response = await AsyncClient().get("/api/health", headers={"Origin": "https://evil.example"})

    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Credentials" not in response
