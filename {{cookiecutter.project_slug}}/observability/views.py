"""GET /metrics for Prometheus: a 404 unless METRICS_TOKEN is set, and answered only to a
caller that sends it (`Authorization: Bearer <METRICS_TOKEN>`): the metrics name routes and
volumes, which are nobody else's business. A sync view: reading the workers' sample files
takes a request thread (a kept one), not the event loop."""

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse

from . import metrics


def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_TOKEN:
        raise Http404("Metrics are off (METRICS_TOKEN is not set).")
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    expected = f"Bearer {settings.METRICS_TOKEN}"
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": "Bearer"},
        )
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
