"""Who does the work of each topic. Apps register their handler in AppConfig.ready()."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .models import Message


@dataclass(frozen=True)
class GiveUp:
    """A failure that retrying will not mend (refused, or too old): the message is marked
    failed, for the admin and `--retry-failed`, instead of being tried again."""

    reason: str


# A handler gets the claimed messages of its topic (every message of a key, oldest first)
# and does their work in bulk. It answers the ids that failed, with why (a string: retried
# later with backoff; a GiveUp: marked failed); the others are done. Raising fails them all
# (the engine is down, say): they are retried later.
Failures = dict[int, str | GiveUp]
Handler = Callable[[list[Message]], Awaitable[Failures]]

handlers: dict[str, Handler] = {}


def register(topic: str, handler: Handler) -> None:
    handlers[topic] = handler
