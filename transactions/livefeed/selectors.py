"""Reads of the buyers' live feeds."""

import json

from django.utils import timezone

from accounts import selectors as account_selectors
from catalog.live import selectors as live_selectors
from transactions.livefeed.models import WebhookDelivery, WebhookEndpoint


def endpoints_of(organization, table=None):
    qs = WebhookEndpoint.objects.filter(organization=organization).select_related("table__dataset")
    return qs.filter(table=table) if table is not None else qs


def endpoint_get(organization, pk: int) -> WebhookEndpoint:
    return endpoints_of(organization).get(pk=pk)


def recent_deliveries(endpoint, n: int = 20):
    return list(WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-id")[:n])


def delivery_body(delivery: WebhookDelivery) -> bytes:
    """The JSON body of a delivery (the same bytes on every retry but for the timestamp in the headers)."""
    table = delivery.endpoint.table
    rows = list(
        table.rows.filter(seq__gte=delivery.first_seq, seq__lte=delivery.last_seq)
        .order_by("seq")
        .values_list("seq", "data")
    )
    payload = {
        "type": "live.rows",
        "timestamp": timezone.now().isoformat(),
        "data": {
            "dataset": table.dataset.slug,
            "table": table.name,
            "first_seq": delivery.first_seq,
            "last_seq": delivery.last_seq,
            "rows": live_selectors.for_buyers(table, rows),
        },
    }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def key_still_valid(token) -> bool:
    """An open stream's API key still authenticates (not revoked or expired, its user active and still a member of
    its organization), as ApiTokenAuthentication checks when a call starts. True for a session (no key)."""
    if token is None:
        return True
    found = account_selectors.api_token_for_digest(token.digest)
    if found is None:
        return False
    current, member = found
    return current.is_active and current.user.is_active and (current.organization_id is None or member)
