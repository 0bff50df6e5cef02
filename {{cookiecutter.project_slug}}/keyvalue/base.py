"""What a key-value store offers: a sliding-window hit counter and a byte cache."""

from typing import NamedTuple, Protocol


class StoreUnavailable(Exception):
    """The store did not answer in time or failed; the message says how, without secrets."""


class Hit(NamedTuple):
    allowed: bool
    retry_after: float  # seconds until a hit would be allowed again (0 when allowed)


class Store(Protocol):
    name: str

    def hit(self, key: str, limit: int, window: float) -> Hit:
        """Count a hit on `key` if fewer than `limit` were counted in the last `window` s."""

    async def ahit(self, key: str, limit: int, window: float) -> Hit:
        """hit(), for the event loop: never blocks it."""

    async def aget(self, key: str) -> bytes | None: ...

    async def aset(self, key: str, value: bytes, ttl: float) -> None: ...

    async def aping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    def clear(self) -> None:
        """Drop every key of this store (of its prefix, on Redis): for tests."""
