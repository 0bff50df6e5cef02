"""Django's Redis cache backend, failing soft: Redis down or slow reads as a miss, not a 500.

Django's own backend raises redis's errors to the caller. Sessions are `cached_db` (the
database is the record, the cache a copy), so a miss costs one query and nothing is lost;
a write that fails is logged and the next read goes to the database. Each call waits at
most REDIS_TIMEOUT (the socket timeouts in CACHES' OPTIONS).
One caveat, Django's too: a session deleted while Redis was unreachable stays in a Redis
that kept its data until SESSION_COOKIE_AGE passes; flush it after such an outage.
"""

import logging
from collections.abc import Iterable
from typing import Any

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

REDIS_ERRORS = (redis.RedisError, OSError)
Key = Any
Timeout = float | None


def log_failure(doing: str, error: Exception) -> None:
    logger.warning("Cache %s failed (%s): served without it", doing, type(error).__name__)


class FailSoftRedisCache(RedisCache):
    def get(self, key: Key, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except REDIS_ERRORS as error:
            log_failure("read", error)
            return default

    def get_many(self, keys: Iterable[Key], version: int | None = None) -> dict[Key, Any]:
        try:
            return super().get_many(keys, version)
        except REDIS_ERRORS as error:
            log_failure("read", error)
            return {}

    def has_key(self, key: Key, version: int | None = None) -> bool:
        try:
            return super().has_key(key, version)
        except REDIS_ERRORS as error:
            log_failure("read", error)
            return False

    def set(
        self, key: Key, value: Any, timeout: Timeout = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        try:
            super().set(key, value, timeout, version)
        except REDIS_ERRORS as error:
            log_failure("write", error)

    def add(
        self, key: Key, value: Any, timeout: Timeout = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        try:
            return super().add(key, value, timeout, version)
        except REDIS_ERRORS as error:
            log_failure("write", error)
            return False

    def set_many(
        self, data: dict[Key, Any], timeout: Timeout = DEFAULT_TIMEOUT, version: int | None = None
    ) -> list[Key]:
        try:
            return super().set_many(data, timeout, version)
        except REDIS_ERRORS as error:
            log_failure("write", error)
            return list(data)

    def touch(
        self, key: Key, timeout: Timeout = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        try:
            return super().touch(key, timeout, version)
        except REDIS_ERRORS as error:
            log_failure("write", error)
            return False

    def delete(self, key: Key, version: int | None = None) -> bool:
        try:
            return super().delete(key, version)
        except REDIS_ERRORS as error:
            log_failure("delete", error)
            return False

    def delete_many(self, keys: Iterable[Key], version: int | None = None) -> None:
        try:
            super().delete_many(keys, version)
        except REDIS_ERRORS as error:
            log_failure("delete", error)
