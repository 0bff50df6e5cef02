"""The signature receivers check: HMAC-SHA256 of the raw body with WEBHOOK_SECRET.

X-Webhook-Signature: sha256=<hex>. The body carries the delivery's id and when it was sent
(also in X-Webhook-Id and X-Webhook-Timestamp), so a receiver can refuse a replay: a
timestamp too old, or an id it has seen.
"""

import hashlib
import hmac

PREFIX = "sha256="


def signature(body: bytes, secret: str) -> str:
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header: str) -> bool:
    """What a receiver does (in constant time)."""
    return hmac.compare_digest(signature(body, secret), header)
