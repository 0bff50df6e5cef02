"""ASGI lifespan support for Django, which does not speak the protocol itself.

Django's ASGIHandler rejects "lifespan" scopes, so uvicorn would log "lifespan
unsupported" and never give the app a chance to close its clients. This wrapper
answers lifespan messages, runs the startup/shutdown hooks, and passes every
other scope (http, websocket) to Django untouched.
"""

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

# Loose ASGI types: servers and Django's stubs each spell the message types differently.
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
Hook = Callable[[], Awaitable[None]]

logger = logging.getLogger(__name__)


def app_hooks(name: str) -> list[Hook]:
    """Every installed app's `async def startup()` or `shutdown()` (see outbox/apps.py), in
    app order."""
    from django.apps import apps

    return [getattr(config, name) for config in apps.get_app_configs() if hasattr(config, name)]


class Lifespan:
    def __init__(
        self, app: ASGIApp, *, on_startup: Iterable[Hook] = (), on_shutdown: Iterable[Hook] = ()
    ) -> None:
        self.app = app
        self.on_startup = list(on_startup)
        self.on_shutdown = list(on_shutdown)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._run(self.on_startup, "lifespan.startup", send)
            elif message["type"] == "lifespan.shutdown":
                await self._run(self.on_shutdown, "lifespan.shutdown", send)
                return

    async def _run(self, hooks: list[Hook], phase: str, send: Send) -> None:
        failures = []
        for hook in hooks:
            try:
                await hook()
            except Exception as exc:  # one failing hook must not skip the others
                logger.exception("%s hook %s failed", phase, getattr(hook, "__qualname__", hook))
                failures.append(f"{getattr(hook, '__qualname__', hook)}: {exc}")
        if failures:
            await send({"type": f"{phase}.failed", "message": "; ".join(failures)})
        else:
            await send({"type": f"{phase}.complete"})
