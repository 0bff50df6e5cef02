"""The docs page (/api/docs), able to write with the session of a user signed in at /admin/.

Ninja puts the CSRF token on its Swagger page only when the API-wide `auth` has a cookie
scheme; here auth is set per operation (accounts/auth.py), so the page rendered
`data-csrf-token=""` and a "Try it out" write with the session was a 403. This page
always carries the token; Ninja's page script sends it as X-CSRFToken.
"""

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.openapi.docs import Swagger, render_template


class SessionSwagger(Swagger):
    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": True,
        }
        return render_template(request, self.template, self.template_cdn, context)
