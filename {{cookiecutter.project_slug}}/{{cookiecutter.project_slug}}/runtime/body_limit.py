"""Request bodies past a limit answer 413 before Django reads them.

Django's ASGI handler reads the whole body (spooling it to disk) before any middleware
runs, and a form body is then parsed on the event loop: a 300 MB POST held up every other
request for hundreds of milliseconds. This wrapper refuses a body whose Content-Length is
over the limit without reading it, and stops a chunked one as soon as it goes over.
"""

import json
import logging
from typing import Any

from .lifespan import ASGIApp, Receive, Scope, Send

logger = logging.getLogger(__name__)


class BodyLimit:
    """`max_bytes` for every path, but those under a prefix of `larger` (the admin's file
    uploads: Django's DATA_UPLOAD_MAX_MEMORY_SIZE bounds a form's fields, not its files)."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    def limit(self, path: str) -> int:
        for prefix, max_bytes in self.larger.items():
            if path.startswith(prefix):
                return max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            await self.refuse(scope, send, limit)
            return
        await self.app(scope, self.counting(scope, receive, send, limit), send)

    def counting(self, scope: Scope, receive: Receive, send: Send, limit: int) -> Receive:
        """receive, but a body that grows past the limit is refused and Django told the
        client left (it then sends nothing)."""
        received = 0

        async def receive_within_limit() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    await self.refuse(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        return receive_within_limit

    async def refuse(self, scope: Scope, send: Send, limit: int) -> None:
        logger.warning(
            "Refused a request body over %d bytes: %s %s",
            limit,
            scope.get("method"),
            scope.get("path"),
        )
        body = json.dumps({"detail": f"Request body larger than {limit} bytes"})
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body.encode()})
