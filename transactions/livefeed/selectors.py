"""Reads of the buyers' live feeds."""

import json

from django.utils import timezone

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
