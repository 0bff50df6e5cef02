"""URL configuration: the API lives under /api/ (docs at /api/docs), accounts under
/_allauth/ (its OpenAPI document at /_allauth/openapi.json), the admin at /admin/."""

from django.contrib import admin
from django.urls import include, path

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # Accounts: allauth's headless API, and its OpenAPI document at /_allauth/openapi.json.
    path("_allauth/", include("accounts.urls")),
]
