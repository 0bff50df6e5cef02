"""One AsyncElasticsearch client per running event loop, built from settings.

The lifecycle is runtime/loop_clients.py's: get_client() gives the running loop's client
(management commands, the task worker), views use request_client(), which closes its
client when the loop is not long-lived (WSGI), and the lifespan closes them all at shutdown.
"""

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from elasticsearch import AsyncElasticsearch

from {{ cookiecutter.project_slug }}.runtime.loop_clients import LoopClients


def build_client() -> AsyncElasticsearch:
    options: dict[str, Any] = {
        "request_timeout": settings.ELASTICSEARCH_TIMEOUT,
        "max_retries": settings.ELASTICSEARCH_MAX_RETRIES,
        "retry_on_timeout": False,  # a slow cluster should answer 504 quickly, not 3 times slower
    }
    if settings.ELASTICSEARCH_API_KEY:
        options["api_key"] = settings.ELASTICSEARCH_API_KEY
    if settings.ELASTICSEARCH_CA_CERTS:
        options["ca_certs"] = settings.ELASTICSEARCH_CA_CERTS
    node_class = settings.ELASTICSEARCH_NODE_CLASS
    options["node_class"] = import_string(node_class) if "." in node_class else node_class
    return AsyncElasticsearch(settings.ELASTICSEARCH_URL, **options)


clients = LoopClients(build_client, AsyncElasticsearch.close)
get_client = clients.get
request_client = clients.for_request
close_all = clients.close_all
