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
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > self.max_bytes:
            await self.refuse(scope, send)
            return
        await self.app(scope, self.counting(scope, receive, send), send)

    def counting(self, scope: Scope, receive: Receive, send: Send) -> Receive:
        """receive, but a body that grows past the limit is refused and Django told the
        client left (it then sends nothing)."""
        received = 0

        async def receive_within_limit() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    await self.refuse(scope, send)
                    return {"type": "http.disconnect"}
            return message

        return receive_within_limit

    async def refuse(self, scope: Scope, send: Send) -> None:
        logger.warning(
            "Refused a request body over %d bytes: %s %s",
            self.max_bytes,
            scope.get("method"),
            scope.get("path"),
        )
        body = json.dumps({"detail": f"Request body larger than {self.max_bytes} bytes"})
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
