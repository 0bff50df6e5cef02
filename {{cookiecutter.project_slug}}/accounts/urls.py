"""allauth's headless URLs, less its phone endpoints, which answer 404 here in allauth's error
shape. Accounts in this project have no phone number, yet allauth (65.x) routes those
endpoints whatever the settings, and /account/phone answered PUT, PATCH, DELETE, OPTIONS,
TRACE and HEAD with a 500 (its view leaves `self.user` unset for them)."""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path

PHONE_ENDPOINTS = r"^(app|browser)/v1/(account/phone|auth/phone/verify(/resend)?)$"


def no_phone_numbers(request: HttpRequest, *args: Any) -> JsonResponse:
    message = "Accounts here have no phone number"
    errors = [{"message": message, "code": "not_found"}]
    return JsonResponse({"status": 404, "errors": errors}, status=404)


urlpatterns = [
    re_path(PHONE_ENDPOINTS, no_phone_numbers),
    path("", include("allauth.headless.urls")),
]
