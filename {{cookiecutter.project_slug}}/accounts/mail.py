"""Email, sent by a background task: a request never waits for (nor fails on) the mail
server, and a message is retried while the server is down.

The message is rendered in the request and enqueued with the change that asked for it
(outbox.transactional). A task's arguments stay in its row until the row is purged, and an
account email holds a key (a password reset's, an address verification's), so the message
is stored sealed: encrypted and authenticated with Fernet, under a key derived from
SECRET_KEY. What this module saves: Django's mail API has no queue of its own.
"""

import base64
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.utils.crypto import salted_hmac

from outbox.backend import GiveUp
from outbox.compat import task
from outbox.transactional import enqueue_with_change

SEAL_SALT = "accounts.mail.seal"


def sealer() -> MultiFernet:
    """Fernet keys derived from SECRET_KEY, then its fallbacks (so that a message sealed
    before a key rotation still opens)."""
    secrets = [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    return MultiFernet(
        [
            Fernet(
                base64.urlsafe_b64encode(
                    salted_hmac(SEAL_SALT, "", secret=s, algorithm="sha256").digest()
                )
            )
            for s in secrets
        ]
    )


def seal(message: EmailMessage) -> str:
    alternatives = [[content, mime] for content, mime in getattr(message, "alternatives", [])]
    fields = {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": message.to,
        "alternatives": alternatives,
    }
    return sealer().encrypt(json.dumps(fields).encode()).decode()


def unseal(sealed: str) -> EmailMultiAlternatives:
    try:
        fields = json.loads(sealer().decrypt(sealed.encode()))
    except InvalidToken:
        raise GiveUp("the message cannot be opened: was SECRET_KEY changed?") from None
    alternatives = [tuple(pair) for pair in fields.pop("alternatives")]
    return EmailMultiAlternatives(**fields, alternatives=alternatives)


@task(max_attempts=10, timeout=60)
def send_sealed(sealed: str) -> None:
    """Send one message (sync: Django's mail backends are; the worker runs it in a thread)."""
    unseal(sealed).send()


def send_later(message: EmailMessage) -> None:
    """Send `message` from a background task, enqueued with the current change."""
    enqueue_with_change(send_sealed, seal(message))
