"""The key-value store the API counts rate limits and caches reads in.

`local`: this process's memory; nothing to run, but each worker counts alone. `redis`: one
Redis shared by every worker and replica, reached without blocking the event loop (an
asyncio client per loop) and never an outage: each call is bounded by a timeout, and a
failure raises StoreUnavailable, which callers turn into "allow" (rate limits) or "miss"
(caches). KEYVALUE_STORE names the class (settings.py).
"""

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from .base import Hit, Store, StoreUnavailable

__all__ = ["Hit", "Store", "StoreUnavailable", "get_store"]


@functools.cache
def get_store() -> Store:
    store: Store = import_string(settings.KEYVALUE_STORE)()
    return store
