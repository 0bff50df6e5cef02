"""Error tracking: with SENTRY_DSN set, an unhandled error reaches the tracker (here a real
HTTP server that takes Sentry's envelopes), with no secret of the request in it."""

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from observability.error_tracking import drop_query_string

from .served import served

TOKEN = "tok_secret-bearer-value"
SESSION = "secret-session-token"
COOKIE = "secret-cookie-value"
CLIENT = "203.0.113.77"  # a client's address is personal data


class Envelopes:
    def __init__(self) -> None:
        self.received: list[bytes] = []
        envelopes = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                elif self.headers.get("Content-Encoding") == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                envelopes.received.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"

    def events(self) -> list[dict[str, object]]:
        found = []
        for envelope in self.received:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def envelopes() -> Iterator[Envelopes]:
    envelopes = Envelopes()
    yield envelopes
    envelopes.server.shutdown()
    envelopes.server.server_close()


@pytest.mark.django_db(transaction=True)
def test_an_unhandled_error_is_reported_once_without_secrets(
    envelopes: Envelopes, tmp_path: Path
) -> None:
    environment = {"SENTRY_DSN": envelopes.dsn, "SENTRY_RELEASE": "1.2.3"}
    with served(environment, tmp_path / "server.log") as server:
        answer = httpx.get(
            f"{server.url}/probe-failure?key={TOKEN}",
            headers={
                "Authorization": f"Bearer {TOKEN}",
                "X-Session-Token": SESSION,
                "Cookie": f"sessionid={COOKIE}; csrftoken={COOKIE}",
                "X-Forwarded-For": CLIENT,
            },
        )
        assert answer.status_code == 500
    # The server's shutdown sent what it had.

    events = envelopes.events()
    assert len(events) == 1, events
    event = events[0]
    assert event["release"] == "1.2.3"
    assert "a bug, for the error tracker" in json.dumps(event["exception"])
    assert event["request"]["url"].endswith("/probe-failure")  # type: ignore[index]
    everything = b"\n".join(envelopes.received).decode()
    for secret in (TOKEN, SESSION, COOKIE, CLIENT):
        assert secret not in everything
    # No personal data: no user, and not even the cookies' names.
    assert "user" not in event and "cookies" not in event["request"]  # type: ignore[operator]
    assert event["request"]["headers"]["user-agent"].startswith("python-httpx")  # type: ignore[index]


def test_a_query_string_never_leaves_in_an_event() -> None:
    """Sentry's Django integration puts it on the events of a WSGI server."""
    event = {"request": {"url": "https://api.example/reset?key=k-123", "query_string": "key=k-123"}}

    scrubbed = drop_query_string(event, {})

    assert scrubbed == {"request": {"url": "https://api.example/reset"}}
