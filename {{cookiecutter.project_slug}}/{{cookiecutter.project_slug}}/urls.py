"""URL configuration: the API lives under /api/ (docs at /api/docs), accounts under
/_allauth/ (its OpenAPI document at /_allauth/openapi.json), the admin at /admin/, the
metrics at /metrics."""

from django.contrib import admin
from django.urls import include, path

from observability.views import metrics_view

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    # Accounts: allauth's headless API, and its OpenAPI document at /_allauth/openapi.json.
    path("_allauth/", include("accounts.urls")),
    # Prometheus: a 404 unless METRICS_TOKEN is set, a 401 without it (observability/views.py).
    path("metrics", metrics_view),
]
