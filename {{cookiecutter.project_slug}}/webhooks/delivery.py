"""Deliveries, done by the outbox worker: a signed POST per recorded delivery.

Concurrent (at most WEBHOOK_CONCURRENCY at once) through one httpx.AsyncClient per event loop
(runtime/loop_clients.py, the search client's lifecycle): keep-alive connections, bounded
connect and read timeouts. Each delivery has its own outcome and its own time bound
(WEBHOOK_CONNECT_TIMEOUT + WEBHOOK_READ_TIMEOUT, the whole call): one slow or failing
receiver never fails, nor resends, another delivery of the round. A delivery is started
only when it can end before the round's time is up (outbox.handlers.time_left()); the
others are handed back, untried, to the next round. What happens to a delivery:
- 2xx: done.
- a timeout, a connection error, 5xx, 408 or 429: retried by the outbox, after about 1, 2,
  4 ... s with jitter (OUTBOX_MAX_RETRY_DELAY at most), until WEBHOOK_MAX_AGE; then failed
  and logged.
- 410 Gone: failed, and the receiver is stopped (logged; models.StoppedReceiver).
- any other answer (4xx, a redirect): failed at once, not retried.
- its URL is no longer in WEBHOOK_URLS: failed (logged), never sent.
Failed deliveries are in the admin; `manage.py webhooks --retry-failed` sends them again.
"""

import asyncio
import json
import logging
import time
import urllib.parse
from datetime import timedelta

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from outbox.handlers import Failures, GiveUp, HandBack, time_left
from outbox.models import Message

from {{ cookiecutter.project_slug }}.runtime.loop_clients import LoopClients

from .models import StoppedReceiver
from .signing import signed_headers

logger = logging.getLogger(__name__)

TOPIC = "webhooks.deliver"
RETRIED_STATUSES = {408, 429}
USER_AGENT = "{{ cookiecutter.project_slug }}-webhooks"


def build_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            settings.WEBHOOK_READ_TIMEOUT, connect=settings.WEBHOOK_CONNECT_TIMEOUT
        ),
        limits=httpx.Limits(max_connections=settings.WEBHOOK_CONCURRENCY),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )


clients = LoopClients(build_client, httpx.AsyncClient.aclose)


def shown(url: str) -> str:
    """The URL for the log: no credentials, no query (receivers put tokens in both)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}{parts.path}"


def body_of(message: Message) -> bytes:
    payload = message.payload
    document = {
        "id": message.key,
        "event": payload["event"],
        "sent_at": timezone.now().isoformat(),
        "attempt": message.attempts + 1,
        "posts": payload["posts"],
    }
    return json.dumps(document, separators=(",", ":")).encode()


def call_bound() -> float:
    """Seconds one delivery may take, all of it (httpx's read timeout is per read)."""
    return float(settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT)


async def send(client: httpx.AsyncClient, message: Message) -> str | GiveUp | None:
    """One attempt; None when delivered, else why not (a str is retried)."""
    url = message.payload["url"]
    age = timezone.now() - message.created_at
    if age > timedelta(seconds=settings.WEBHOOK_MAX_AGE):
        logger.error(
            "Webhook %s to %s failed: not delivered within WEBHOOK_MAX_AGE (%d attempts: %s)",
            message.key,
            shown(url),
            message.attempts,
            message.last_error,
        )
        return GiveUp(f"not delivered within WEBHOOK_MAX_AGE; last: {message.last_error}")
    body = body_of(message)
    headers = {
        "Content-Type": "application/json",
        **signed_headers(message.key, int(time.time()), body, settings.WEBHOOK_SECRET),
    }
    try:
        async with asyncio.timeout(call_bound()):
            response = await client.post(url, content=body, headers=headers)
    except (httpx.TimeoutException, TimeoutError) as error:
        return f"timed out ({type(error).__name__})"
    except httpx.TransportError as error:
        return f"could not connect ({type(error).__name__})"
    status = response.status_code
    if response.is_success:
        return None
    if status >= 500 or status in RETRIED_STATUSES:
        return f"answered {status}"
    if status == 410:
        await sync_to_async(StoppedReceiver.objects.get_or_create)(url=url)
        logger.warning("Webhook receiver %s answered 410 Gone: stopped sending to it", shown(url))
        return GiveUp("answered 410 Gone: receiver stopped")
    logger.warning("Webhook %s to %s answered %d: not retried", message.key, shown(url), status)
    return GiveUp(f"answered {status}, not retried")


def stopped_receivers() -> list[str]:
    return list(StoppedReceiver.objects.values_list("url", flat=True))


async def deliver(messages: list[Message]) -> Failures:
    """The outbox handler: every claimed delivery at once, at most WEBHOOK_CONCURRENCY, each
    with its own outcome."""
    stopped = set(await sync_to_async(stopped_receivers)())
    configured = set(settings.WEBHOOK_URLS)
    slots = asyncio.Semaphore(settings.WEBHOOK_CONCURRENCY)

    async def one(client: httpx.AsyncClient, message: Message) -> str | GiveUp | HandBack | None:
        url = message.payload.get("url", "")
        if url not in configured:
            logger.warning(
                "Webhook %s to %s failed: the URL is no longer in WEBHOOK_URLS",
                message.key,
                shown(url),
            )
            return GiveUp("its URL is no longer in WEBHOOK_URLS: not sent")
        if url in stopped:
            return GiveUp("the receiver answered 410 Gone earlier: stopped")
        async with slots:
            if time_left() < call_bound():
                return HandBack()  # it could not end before the round's time is up
            try:
                return await send(client, message)
            except Exception as error:  # ours, not the receiver's: this delivery only
                logger.exception("Webhook %s could not be sent", message.key)
                return f"could not be sent ({type(error).__name__})"

    async with clients.for_request() as client:
        outcomes = await asyncio.gather(*(one(client, message) for message in messages))
    return {
        message.pk: outcome
        for message, outcome in zip(messages, outcomes, strict=True)
        if outcome is not None
    }
