"""Who does the work of each topic. Apps register their handler in AppConfig.ready()."""

from collections.abc import Awaitable, Callable

from .models import Message

# A handler gets the claimed messages of its topic (every message of a key, oldest first)
# and does their work in bulk. It answers the ids that failed, with why; the others are
# done. Raising fails them all (the engine is down, say): they are retried later.
Failures = dict[int, str]
Handler = Callable[[list[Message]], Awaitable[Failures]]

handlers: dict[str, Handler] = {}


def register(topic: str, handler: Handler) -> None:
    handlers[topic] = handler
