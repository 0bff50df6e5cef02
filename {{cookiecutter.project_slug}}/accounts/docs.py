"""The docs page (/api/docs): the API's document, or allauth's (`?document=accounts`), and
"Try it out" able to write with the session of a signed-in user.

Ninja puts the CSRF token on its Swagger page only when the API-wide `auth` has a cookie
scheme; here auth is set per operation (accounts/auth.py), so the page rendered
`data-csrf-token=""` and a "Try it out" write with the session was a 403. This page always
carries the token, and Ninja's page script sends it as X-CSRFToken, to allauth's browser
client too: a person can sign up, verify the address and log in from this page, then call
the API with the session.
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger, render_template

ACCOUNTS = "Accounts: django-allauth's headless API (/_allauth/)"


class SessionSwagger(Swagger):
    template = "accounts/api_docs.html"  # Ninja's page with a choice of document

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        accounts = request.GET.get("document") == "accounts"
        url = reverse("headless:openapi_json") if accounts else self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps({**self.settings, "url": url}, indent=1),
            "api": api,
        }
        documents = [{"key": "api", "name": api.title}, {"key": "accounts", "name": ACCOUNTS}]
        context["shown"], context["other"] = documents[::-1] if accounts else documents
        return render_template(request, self.template, self.template_cdn, context)
