"""Every write of the buyers' webhooks: endpoints (made, switched off), deliveries (queued after an append, claimed
under a lease, finished after the HTTP call). No transaction is ever open during the HTTP call itself: the task
claims (commit), POSTs, then finishes under a fresh lock."""

import datetime as dt
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can
from catalog.live.models import LiveTable
from core import outbound
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.transitions import transition
from transactions.livefeed import signing
from transactions.livefeed.access import live_access
from transactions.livefeed.models import DeliveryState as D
from transactions.livefeed.models import WebhookDelivery, WebhookEndpoint


def _require_buyer(actor, organization) -> None:
    if not can(actor, "accounts.buy_for_org", organization):
        raise NotAllowed(_("Only members who may buy for the organization can manage its webhooks."))


def _check_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise DomainError(_("Enter the full address of your endpoint, starting with https://."), code="url_invalid")
    if parts.scheme == "http" and not settings.LIVE_WEBHOOK_ALLOW_HTTP:
        raise DomainError(_("Webhooks are sent only to https:// addresses."), code="url_insecure")
    if not settings.LIVE_WEBHOOK_ALLOW_PRIVATE and _is_private(parts.hostname):
        raise DomainError(_("Webhooks are sent only to public internet addresses."), code="url_private")
    return url


def _is_private(host: str) -> bool:
    """The host names a loopback, private, link-local or reserved address (or does not resolve): no webhook goes
    there (a buyer must not make the platform call into its own network)."""
    try:
        _public_addresses(host)
    except DomainError:
        return True
    return False


def _public_addresses(host: str) -> list[str]:
    """Every address the host resolves to now, or DomainError (url_private) when one is not a public one."""
    try:
        return outbound.addresses(host)
    except outbound.Refused:
        raise DomainError(_("Webhooks are sent only to public internet addresses."), code="url_private") from None


def webhook_addresses(url: str) -> list[str]:
    """The addresses a delivery to `url` may connect to, resolved and checked at the moment of sending (a name may
    resolve to another address than when the endpoint was made: DNS rebinding). DomainError url_private when one
    is not public (unless LIVE_WEBHOOK_ALLOW_PRIVATE, for development)."""
    host = urlsplit(url).hostname or ""
    try:
        return outbound.addresses(host, allow_private=settings.LIVE_WEBHOOK_ALLOW_PRIVATE)
    except outbound.Refused:
        raise DomainError(_("Webhooks are sent only to public internet addresses."), code="url_private") from None


@transaction.atomic
def webhook_endpoint_create(
    *, actor, organization, table: LiveTable, url: str, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """An organization with live access asks for the table's new rows at `url`. Returns (endpoint, secret): the
    secret is shown this once. Only rows appended from now on are sent."""
    _require_buyer(actor, organization)
    url = _check_url(url)
    if not live_access(user=actor, organization=organization, dataset=table.dataset):
        raise NotAllowed(_("Your organization has no live access to this dataset: subscribe or take an API plan."))
    table = LiveTable.objects.get(pk=table.pk)
    secret = signing.new_secret()
    endpoint = WebhookEndpoint.objects.create(
        organization=organization,
        table=table,
        url=url,
        secret=secret,
        description=(description or "")[:200],
        queued_seq=table.last_seq,
        created_by=actor,
    )
    audit(
        actor=actor,
        action="webhook.created",
        obj=endpoint,
        organization=organization,
        data={"url": url, "dataset": table.dataset.slug, "table": table.name},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_deactivate(*, actor, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Switch an endpoint off: nothing more is sent, waiting deliveries are cancelled."""
    _require_buyer(actor, endpoint.organization)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.active:
        endpoint.active = False
        endpoint.save(update_fields=["active"])
        audit(actor=actor, action="webhook.deactivated", obj=endpoint, organization_id=endpoint.organization_id)
        for delivery in WebhookDelivery.objects.select_for_update().filter(endpoint=endpoint, state=D.PENDING):
            transition(delivery, to=D.CANCELLED, actor=actor, reason="endpoint switched off")
    return endpoint


def webhooks_fanout(*, table_id: int) -> list[int]:
    """Queue a delivery per active endpoint of the table for the rows it has not been sent (in chunks of at most
    LIVE_WEBHOOK_MAX_ROWS). Endpoints whose organization lost live access are moved past the rows instead.
    Returns the ids of the deliveries to send (the caller enqueues them after commit)."""
    made: list[int] = []
    table = LiveTable.objects.select_related("dataset").get(pk=table_id)
    now = timezone.now()
    for endpoint_id in WebhookEndpoint.objects.filter(table_id=table_id, active=True).values_list("pk", flat=True):
        with transaction.atomic():
            endpoint = (
                WebhookEndpoint.objects.select_for_update(of=("self",))
                .select_related("organization")
                .get(pk=endpoint_id)
            )
            last = LiveTable.objects.values_list("last_seq", flat=True).get(pk=table_id)
            if not endpoint.active or endpoint.queued_seq >= last:
                continue
            if not live_access(user=None, organization=endpoint.organization, dataset=table.dataset):
                endpoint.queued_seq = last
                endpoint.save(update_fields=["queued_seq"])
                continue
            first = endpoint.queued_seq + 1
            while first <= last:
                upto = min(last, first + settings.LIVE_WEBHOOK_MAX_ROWS - 1)
                delivery = WebhookDelivery.objects.create(
                    endpoint=endpoint,
                    message_id=f"msg_{uuid.uuid4().hex}",
                    first_seq=first,
                    last_seq=upto,
                    next_at=now,
                )
                made.append(delivery.pk)
                first = upto + 1
            endpoint.queued_seq = last
            endpoint.save(update_fields=["queued_seq"])
    return made


def webhook_delivery_claim(*, delivery_id: int) -> tuple[WebhookDelivery, uuid.UUID] | None:
    """Take a due delivery for one attempt (a lease), or None (not due, taken, finished). A delivery whose
    endpoint was switched off or whose organization lost live access is cancelled instead."""
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint__organization", "endpoint__table__dataset")
            .filter(pk=delivery_id)
            .first()
        )
        if delivery is None or delivery.state != D.PENDING or delivery.next_at > now:
            return None
        endpoint = delivery.endpoint
        if not endpoint.active or not live_access(
            user=None, organization=endpoint.organization, dataset=endpoint.table.dataset
        ):
            transition(delivery, to=D.SENDING, actor=None)
            transition(delivery, to=D.CANCELLED, actor=None, reason="no live access or endpoint off")
            return None
        lease = uuid.uuid4()
        delivery.attempts += 1
        delivery.lease = lease
        delivery.leased_until = now + dt.timedelta(seconds=settings.LIVE_WEBHOOK_LEASE_SECONDS)
        transition(delivery, to=D.SENDING, actor=None, fields=("attempts", "lease", "leased_until"))
    return delivery, lease


def backoff_seconds(attempts: int) -> int:
    return min(settings.LIVE_WEBHOOK_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0), 3600)


def webhook_delivery_finish(
    *, delivery_id: int, lease, status_code: int | None, error: str = ""
) -> WebhookDelivery | None:
    """Record the attempt's outcome: 2xx → delivered; otherwise retried later (exponential back-off) until
    LIVE_WEBHOOK_MAX_ATTEMPTS, then failed. Returns the delivery when it is to be tried again (for the caller to
    enqueue with the countdown), else None."""
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(of=("self",)).select_related("endpoint").get(pk=delivery_id)
        )
        if delivery.state != D.SENDING or delivery.lease != lease:
            return None  # the lease ran out and someone else took it
        delivery.response_code = status_code
        delivery.last_error = (error or "")[:300]
        delivery.lease, delivery.leased_until = None, None
        fields = ("response_code", "last_error", "lease", "leased_until")
        if status_code is not None and 200 <= status_code < 300:
            delivery.delivered_at = timezone.now()
            transition(delivery, to=D.DELIVERED, actor=None, fields=(*fields, "delivered_at"))
            return None
        if delivery.attempts >= settings.LIVE_WEBHOOK_MAX_ATTEMPTS:
            transition(delivery, to=D.FAILED, actor=None, fields=fields, reason=delivery.last_error or str(status_code))
            return None
        delivery.next_at = timezone.now() + dt.timedelta(seconds=backoff_seconds(delivery.attempts))
        transition(delivery, to=D.PENDING, actor=None, fields=(*fields, "next_at"), data={"status": status_code})
        return delivery


def webhooks_housekeeping() -> list[int]:
    """Rows of active endpoints not yet queued get their deliveries (a lost fan-out); deliveries whose sender was
    lost (lease run out) go back to pending; returns the due pending ones (the caller enqueues them: a lost message
    or a restarted worker costs at most one beat interval)."""
    now = timezone.now()
    # Rows no delivery was made for (the fan-out after their append was lost: broker away, a worker killed before
    # it acknowledged): without this they would wait for the table's next append, forever if none comes.
    behind = (
        WebhookEndpoint.objects.filter(active=True, queued_seq__lt=F("table__last_seq"))
        .values_list("table_id", flat=True)
        .distinct()
    )
    for table_id in list(behind):
        webhooks_fanout(table_id=table_id)
    for delivery_id in WebhookDelivery.objects.filter(state=D.SENDING, leased_until__lt=now).values_list(
        "pk", flat=True
    ):
        with transaction.atomic():
            delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery_id)
            if delivery.state == D.SENDING and delivery.leased_until and delivery.leased_until < now:
                delivery.lease, delivery.leased_until, delivery.next_at = None, None, now
                transition(
                    delivery,
                    to=D.PENDING,
                    actor=None,
                    fields=("lease", "leased_until", "next_at"),
                    reason="lease expired",
                )
    return list(
        WebhookDelivery.objects.filter(Q(state=D.PENDING), next_at__lte=timezone.now())
        .order_by("next_at")
        .values_list("pk", flat=True)[:500]
    )
