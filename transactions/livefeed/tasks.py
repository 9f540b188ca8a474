"""Celery tasks of the webhooks: thin, leased by their services, retried with back-off."""

import logging

import requests
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from core import outbound
from core.errors import DomainError
from transactions.livefeed import selectors, services, signing

logger = logging.getLogger(__name__)
# A fan-out with at most this many deliveries sends them itself.
INLINE_DELIVERIES = 4


@shared_task(name="transactions.livefeed.tasks.webhooks_fanout_task", acks_late=True)
def webhooks_fanout_task(table_id: int) -> int:
    """Rows were appended: queue a delivery per endpoint, and send them: a few at once right here (one hop less
    through the broker: the rows reach the buyer sooner), more through their own tasks."""
    ids = services.webhooks_fanout(table_id=table_id)
    for delivery_id in ids:
        if len(ids) <= INLINE_DELIVERIES:
            webhook_deliver_task(delivery_id)
        else:
            webhook_deliver_task.delay(delivery_id)
    return len(ids)


@shared_task(name="transactions.livefeed.tasks.webhook_deliver_task", acks_late=True)
def webhook_deliver_task(delivery_id: int) -> str:
    """One attempt: claim (lease, commit), POST outside any transaction, record the outcome; a failure is tried
    again after an exponentially growing wait until LIVE_WEBHOOK_MAX_ATTEMPTS."""
    claim = services.webhook_delivery_claim(delivery_id=delivery_id)
    if claim is None:
        return "not due"
    delivery, lease = claim
    status, error = None, ""
    try:
        addresses = services.webhook_addresses(delivery.endpoint.url)  # checked now, the only ones connected to
        body = selectors.delivery_body(delivery)
        response = outbound.post(
            delivery.endpoint.url,
            addresses=addresses,
            data=body,
            headers=signing.headers(delivery.endpoint.secret, delivery.message_id, body),
            timeout=settings.LIVE_WEBHOOK_TIMEOUT_SECONDS,
        )
        status = response.status_code
        response.close()
    except DomainError as exc:
        error = f"{exc.code}: not sent, the address is not a public one"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"[:300]
    again = services.webhook_delivery_finish(delivery_id=delivery_id, lease=lease, status_code=status, error=error)
    if again is not None:
        countdown = max(0.0, (again.next_at - timezone.now()).total_seconds())
        webhook_deliver_task.apply_async(args=[delivery_id], countdown=countdown)
        return f"retry in {countdown:.0f}s ({status or error})"
    return f"done ({status or error})"


@shared_task(name="transactions.livefeed.tasks.webhooks_housekeeping_task")
def webhooks_housekeeping_task() -> int:
    """Beat: deliveries whose sender was lost go back to pending; due ones are sent (lost messages)."""
    due = services.webhooks_housekeeping()
    for delivery_id in due:
        webhook_deliver_task.delay(delivery_id)
    return len(due)
