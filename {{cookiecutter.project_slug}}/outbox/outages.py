"""How the worker logs work that keeps failing: a dependency that is down (a search
cluster not started yet) is logged once when its topic starts failing, then as a summary
every OUTBOX_OUTAGE_SUMMARY seconds (messages waiting, the oldest's age), then once when
it works again: not once per retry, which buried everything else in the first minute.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

logger = logging.getLogger("outbox.worker")


@dataclass
class Outage:
    started: float
    last_logged: float
    retries: int = 0


class Outages:
    """Per topic: failing or not, and when it was last said."""

    def __init__(self, summary_every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.summary_every = summary_every
        self.clock = clock
        self._outages: dict[str, Outage] = {}

    def failed(self, topic: str, waiting: int, oldest: datetime, reason: str) -> None:
        """A round of `topic` left `waiting` messages to retry, the oldest made at `oldest`."""
        now = self.clock()
        age = (timezone.now() - oldest).total_seconds()
        outage = self._outages.get(topic)
        if outage is None:
            self._outages[topic] = Outage(started=now, last_logged=now, retries=waiting)
            logger.warning(
                "outbox: %s is failing: %s; %d messages wait (oldest %.0f s), retried "
                "quietly (a summary every %g s)",
                topic,
                reason,
                waiting,
                age,
                self.summary_every,
            )
            return
        outage.retries += waiting
        if now - outage.last_logged >= self.summary_every:
            outage.last_logged = now
            logger.warning(
                "outbox: %s still failing after %.0f s: %s; %d messages wait (oldest %.0f s), "
                "%d retries so far",
                topic,
                now - outage.started,
                reason,
                waiting,
                age,
                outage.retries,
            )

    def succeeded(self, topic: str) -> None:
        """A round of `topic` left nothing to retry."""
        outage = self._outages.pop(topic, None)
        if outage is not None:
            logger.info(
                "outbox: %s works again after %.0f s (%d retries)",
                topic,
                self.clock() - outage.started,
                outage.retries,
            )
