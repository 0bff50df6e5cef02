"""URL configuration: the API lives under /api/ (docs at /api/docs), the admin at /admin/."""

from django.contrib import admin
from django.urls import path

from .api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]
