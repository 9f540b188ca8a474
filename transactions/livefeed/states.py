"""The webhook delivery state table (registered with core.transitions)."""

from core.transitions import register
from transactions.livefeed.models import DeliveryState as D
from transactions.livefeed.models import WebhookDelivery

DELIVERY_TRANSITIONS = {
    D.PENDING: {D.SENDING, D.CANCELLED},
    D.SENDING: {D.DELIVERED, D.PENDING, D.FAILED, D.CANCELLED},
    D.DELIVERED: set(),
    D.FAILED: set(),
    D.CANCELLED: set(),
}

register(
    WebhookDelivery,
    DELIVERY_TRANSITIONS,
    action="webhook_delivery",
    organization=lambda delivery: delivery.endpoint.organization_id,
)
