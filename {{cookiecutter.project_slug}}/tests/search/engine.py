"""Test-only shim for osmem-server, the in-memory engine the tests search against.

elasticsearch-py 8/9 sends `application/vnd.elasticsearch+json; compatible-with=N`,
which osmem (OpenSearch-compatible) answers with 406. This node class sends the plain
media types instead; the product's own client talks to real Elasticsearch unchanged.
"""

import contextlib
from collections.abc import Iterator
from typing import Any

from elastic_transport import AiohttpHttpNode, HttpHeaders
from elastic_transport._node import NodeApiResponse
from osmem_server import OsmemServer


class PlainMediaTypeNode(AiohttpHttpNode):
    async def perform_request(  # type: ignore[override]
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        **kwargs: Any,
    ) -> NodeApiResponse:
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "compatible-with" in value:
                    plain = "application/x-ndjson" if "x-ndjson" in value else "application/json"
                    headers[name] = plain
        return await super().perform_request(method, target, body=body, headers=headers, **kwargs)


@contextlib.contextmanager
def running_engine() -> Iterator[str]:
    """osmem-server in a process of its own, for `make fuzz`: yields its URL."""
    with OsmemServer.start() as server:
        yield server.url
