"""Standard Webhooks signatures (https://www.standardwebhooks.com), which receivers in any
language verify with a maintained library (Python: `standardwebhooks`).

Headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the bytes of WEBHOOK_SECRET
(`whsec_<base64>`). The id and the timestamp are signed with the body, so a replayed body
with a fresh timestamp does not verify. These few lines are ours rather than the library's
so that the tests verify our deliveries with an implementation that is not ours.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
# The specification asks for 24 to 64 bytes of key.
MIN_SECRET_BYTES = 24


def new_secret() -> str:
    """A fresh WEBHOOK_SECRET (`manage.py webhooks --new-secret`)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The key in a `whsec_<base64>` secret. ValueError, saying why, for anything else: a
    delivery is never signed with an empty, short or mistyped key."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except binascii.Error:
        raise ValueError(f"must be {SECRET_PREFIX} and base64") from None
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"must hold {MIN_SECRET_BYTES} bytes or more of key")
    return key


def signed_headers(delivery_id: str, timestamp: int, body: bytes, secret: str) -> dict[str, str]:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }
