"""Who does the work of each topic. Apps register their handler in AppConfig.ready()."""

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from .models import Message


@dataclass(frozen=True)
class GiveUp:
    """A failure that retrying will not mend (refused, or too old): the message is marked
    failed, for the admin and `--retry-failed`, instead of being tried again."""

    reason: str


@dataclass(frozen=True)
class HandBack:
    """Not tried in this round (its time ran out first): pending again at once, for the next
    round, with no attempt counted."""


# A handler gets the claimed messages of its topic (every message of a key, oldest first)
# and does their work in bulk. It answers the ids that did not succeed, with why (a string:
# retried later with backoff; a GiveUp: marked failed; a HandBack: not tried); the others
# are done. Raising fails them all (the engine is down, say): they are retried later.
# A handler starts no work that cannot end within time_left() seconds: past that, the
# round is stopped (its messages retried), so that it ends before its lease does.
Failures = dict[int, str | GiveUp | HandBack]
Handler = Callable[[list[Message]], Awaitable[Failures]]

handlers: dict[str, Handler] = {}
# Event-loop time by which the current round's handlers should have returned.
round_deadline: ContextVar[float] = ContextVar("round_deadline", default=float("inf"))


def time_left() -> float:
    """Seconds the current round's handlers have left (infinite outside a worker's round)."""
    return round_deadline.get() - asyncio.get_running_loop().time()


def register(topic: str, handler: Handler) -> None:
    handlers[topic] = handler
