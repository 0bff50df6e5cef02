"""URL configuration: the API lives under /api/ (docs at /api/docs)."""

from django.urls import path

from .api import api

urlpatterns = [
    path("api/", api.urls),
]
