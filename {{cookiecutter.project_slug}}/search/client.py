"""One AsyncElasticsearch client per running event loop, built from settings.

An AsyncElasticsearch is bound to the event loop of its first request (its aiohttp
session lives there); used from another loop it fails with "Event loop is closed".
uvicorn runs one loop per worker, but management commands, Django's test client and
pytest-asyncio each run their own. get_client() hands every loop its own client, and
close_all() closes them (the lifespan wrapper calls it at shutdown).
"""

import asyncio
import logging
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from elasticsearch import AsyncElasticsearch

logger = logging.getLogger(__name__)

_clients: dict[asyncio.AbstractEventLoop, AsyncElasticsearch] = {}


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


def get_client() -> AsyncElasticsearch:
    """The client of the running event loop (made on first use)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = build_client()
    return client


async def close_all() -> None:
    """Close every client: this loop's here, the others on their own loop."""
    current = asyncio.get_running_loop()
    for loop, client in list(_clients.items()):
        del _clients[loop]
        if loop is current:
            await client.close()
        elif loop.is_closed():
            logger.warning("An Elasticsearch client outlived its event loop; it cannot be closed")
        elif loop.is_running():  # another thread's loop
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.close(), loop))
        else:  # a loop that is idle: run it just long enough to close the client
            await asyncio.to_thread(loop.run_until_complete, client.close())
