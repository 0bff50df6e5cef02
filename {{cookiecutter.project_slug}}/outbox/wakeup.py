"""Wake this process's worker when a message is committed, instead of waiting for its poll.

Workers of other processes see the message at their next poll (OUTBOX_POLL_INTERVAL).
"""

import asyncio

_events: dict[asyncio.AbstractEventLoop, asyncio.Event] = {}


def listen() -> asyncio.Event:
    """The running loop's wake-up event (its worker waits on it)."""
    loop = asyncio.get_running_loop()
    return _events.setdefault(loop, asyncio.Event())


def forget() -> None:
    _events.pop(asyncio.get_running_loop(), None)


def wake() -> None:
    """Callable from any thread (it runs after a commit, in the ORM's thread)."""
    for loop, event in list(_events.items()):
        if loop.is_closed():
            _events.pop(loop, None)
        else:
            loop.call_soon_threadsafe(event.set)
