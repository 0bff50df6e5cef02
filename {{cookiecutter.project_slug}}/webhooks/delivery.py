"""Deliveries: one task per delivery (the Tasks framework, on the outbox backend), a signed
POST each, with its own timeout, retries and outcome: one slow or failing receiver never
fails, nor resends, another delivery.

Through one httpx.AsyncClient per event loop (runtime/loop_clients.py, the search client's
lifecycle): keep-alive connections (at most WEBHOOK_CONCURRENCY), bounded connect and read
timeouts. What happens to a delivery:
- 2xx: done.
- a timeout, a connection error, 5xx, 408 or 429: retried after about 1, 2, 4 ... s with
  jitter (OUTBOX_MAX_RETRY_DELAY at most), until WEBHOOK_MAX_AGE; then failed and logged.
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
import weakref
from datetime import datetime, timedelta

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.utils import timezone

from outbox.backend import GiveUp
from outbox.compat import AnyContext, task

from {{ cookiecutter.project_slug }}.runtime.loop_clients import LoopClients

from .models import StoppedReceiver
from .signing import signed_headers

logger = logging.getLogger(__name__)

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


def call_bound() -> float:
    """Seconds one delivery may take, all of it (httpx's read timeout is per read)."""
    return float(settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT)


# Seconds a delivery may wait for a connection: 100 deliveries to a receiver that takes the
# whole call bound (15 s) each, 10 at a time, wait 135 s at most.
SLOT_WAIT = 300.0
_slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
_slots = weakref.WeakKeyDictionary()


def slots() -> asyncio.Semaphore:
    """The running loop's WEBHOOK_CONCURRENCY places: a delivery waits for one before its
    call's time starts (httpx's own pool would time it out while it waits)."""
    loop = asyncio.get_running_loop()
    if (found := _slots.get(loop)) is None:
        found = _slots[loop] = asyncio.Semaphore(settings.WEBHOOK_CONCURRENCY)
    return found


class NotDelivered(Exception):
    """This attempt failed in a way a later one may not: the task is retried."""


def stopped(url: str) -> bool:
    return StoppedReceiver.objects.filter(url=url).exists()


def last_error(context: AnyContext) -> str:
    """The last attempt's error, as its traceback's last line says it."""
    errors = context.task_result.errors
    return errors[-1].traceback.strip().splitlines()[-1] if errors else ""


# Retries end with WEBHOOK_MAX_AGE, not with a count. The timeout covers the wait for one of
# the WEBHOOK_CONCURRENCY connections (a worker runs up to TASKS_CONCURRENCY deliveries at
# once), then the call's own bound.
@task(takes_context=True, max_attempts=100_000, timeout=SLOT_WAIT + call_bound())
async def deliver(
    context: AnyContext, delivery_id: str, url: str, event: str, posts: list[dict[str, object]]
) -> None:
    """One signed POST of `posts` to `url`; raises to be retried, GiveUp to fail for good."""
    enqueued_at: datetime = context.task_result.enqueued_at or timezone.now()
    if url not in settings.WEBHOOK_URLS:
        logger.warning(
            "Webhook %s to %s failed: the URL is no longer in WEBHOOK_URLS", delivery_id, shown(url)
        )
        raise GiveUp("its URL is no longer in WEBHOOK_URLS: not sent")
    if await sync_to_async(stopped)(url):
        raise GiveUp("the receiver answered 410 Gone earlier: stopped")
    last = last_error(context)
    if timezone.now() - enqueued_at > timedelta(seconds=settings.WEBHOOK_MAX_AGE):
        logger.error(
            "Webhook %s to %s failed: not delivered within WEBHOOK_MAX_AGE (%d attempts: %s)",
            delivery_id,
            shown(url),
            context.attempt - 1,
            last,
        )
        raise GiveUp(f"not delivered within WEBHOOK_MAX_AGE; last: {last}")
    document = {
        "id": delivery_id,
        "event": event,
        "sent_at": timezone.now().isoformat(),
        "attempt": context.attempt,
        "posts": posts,
    }
    body = json.dumps(document, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(delivery_id, int(time.time()), body, settings.WEBHOOK_SECRET),
    }
    try:
        async with slots(), clients.for_request() as client, asyncio.timeout(call_bound()):
            response = await client.post(url, content=body, headers=headers)
    except (httpx.TimeoutException, TimeoutError) as error:
        raise NotDelivered(f"timed out ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise NotDelivered(f"could not connect ({type(error).__name__})") from None
    status = response.status_code
    if response.is_success:
        return
    if status >= 500 or status in RETRIED_STATUSES:
        raise NotDelivered(f"answered {status}")
    if status == 410:
        await sync_to_async(StoppedReceiver.objects.get_or_create)(url=url)
        logger.warning("Webhook receiver %s answered 410 Gone: stopped sending to it", shown(url))
        raise GiveUp("answered 410 Gone: receiver stopped")
    logger.warning("Webhook %s to %s answered %d: not retried", delivery_id, shown(url), status)
    raise GiveUp(f"answered {status}, not retried")
