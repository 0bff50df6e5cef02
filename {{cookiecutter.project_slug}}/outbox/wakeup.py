"""Wake this process's workers when work is committed, instead of waiting for their poll.

Workers of other processes see it at their next poll (OUTBOX_POLL_INTERVAL).
"""

import asyncio

_events: dict[asyncio.AbstractEventLoop, set[asyncio.Event]] = {}


def listen() -> asyncio.Event:
    """A wake-up event of the running loop's own, for one worker to wait on."""
    event = asyncio.Event()
    _events.setdefault(asyncio.get_running_loop(), set()).add(event)
    return event


def forget(event: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    _events.get(loop, set()).discard(event)
    if not _events.get(loop):
        _events.pop(loop, None)


def wake() -> None:
    """Callable from any thread (it runs after a commit, in the ORM's thread)."""
    for loop, events in list(_events.items()):
        if loop.is_closed():
            _events.pop(loop, None)
        else:
            for event in list(events):
                loop.call_soon_threadsafe(event.set)
