"""How the worker logs a task that keeps failing: a dependency that is down (a search
cluster not started yet) is logged once when a task starts failing, then as a summary every
OUTBOX_OUTAGE_SUMMARY seconds (retries so far), then once when it works again: not once per
retry, which buried everything else in the first minute. Kept per task (its dotted path).
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("outbox.worker")


@dataclass
class Outage:
    started: float
    last_logged: float
    retries: int = 1


class Outages:
    """Per task: failing or not, and when it was last said."""

    def __init__(self, summary_every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.summary_every = summary_every
        self.clock = clock
        self._outages: dict[str, Outage] = {}

    def failed(self, task: str, reason: str) -> None:
        """An attempt of `task` failed, and will be retried."""
        now = self.clock()
        outage = self._outages.get(task)
        if outage is None:
            self._outages[task] = Outage(started=now, last_logged=now)
            logger.warning(
                "tasks: %s is failing: %s; retried quietly (a summary every %g s)",
                task,
                reason,
                self.summary_every,
            )
            return
        outage.retries += 1
        if now - outage.last_logged >= self.summary_every:
            outage.last_logged = now
            logger.warning(
                "tasks: %s still failing after %.0f s: %s; %d retries so far",
                task,
                now - outage.started,
                reason,
                outage.retries,
            )

    def succeeded(self, task: str) -> None:
        """An attempt of `task` succeeded."""
        outage = self._outages.pop(task, None)
        if outage is not None:
            logger.info(
                "tasks: %s works again after %.0f s (%d retries)",
                task,
                self.clock() - outage.started,
                outage.retries,
            )
