"""What a paid API order line gives (called by transactions.services.orders.order_mark_paid in its transaction):
an Entitlement (never a package: an API plan is read through the data API) and its ApiPlan.

- development and metered plans run without end until cancelled, refunded or replaced;
- a subscription runs `subscription_days` (30) from now, plus what is left of a running subscription plan of the
  same dataset (a renewal paid before the end adds its month: no gap, no overlap);
- a new plan of a dataset ends the organization's plan running for it (one plan meters a dataset's calls);
- a metered plan's monthly bill line (terms["api_bill"]) gives nothing: it pays for calls already made.
"""

from __future__ import annotations

from datetime import timedelta

from catalog.models import OfferKind
from core.transitions import transition
from transactions.apiplans.models import ApiPlan
from transactions.models import Entitlement, OrderItem


def is_bill_line(item: OrderItem) -> bool:
    return bool((item.terms or {}).get("api_bill"))


def plan_for_paid_item(*, item: OrderItem, now) -> Entitlement | None:
    if is_bill_line(item):
        return None
    terms = item.terms or {}
    valid_until = None
    running = (
        ApiPlan.objects.select_for_update()
        .filter(organization_id=item.order.buyer_id, dataset_id=item.dataset_id, state=ApiPlan.State.ACTIVE)
        .select_related("entitlement")
        .first()
    )
    if item.kind == OfferKind.API_SUBSCRIPTION:
        start = now
        if (
            running is not None
            and running.kind == OfferKind.API_SUBSCRIPTION
            and running.entitlement.revoked_at is None
            and running.entitlement.valid_until
            and running.entitlement.valid_until > now
        ):
            start = running.entitlement.valid_until
        valid_until = start + timedelta(days=item.subscription_days or 30)
    entitlement = Entitlement.objects.create(
        organization_id=item.order.buyer_id,
        dataset_id=item.dataset_id,
        order_item=item,
        kind=item.kind,
        version=None,
        valid_from=now,
        valid_until=valid_until,
    )
    if running is not None:
        running.ended_at = now
        transition(
            running,
            to=ApiPlan.State.CANCELLED,
            actor=item.order.placed_by,
            fields=("ended_at",),
            reason="replaced",
            data={"replaced_by_order": item.order.number},
        )
    ApiPlan.objects.create(
        entitlement=entitlement,
        organization_id=item.order.buyer_id,
        dataset_id=item.dataset_id,
        kind=item.kind,
        daily_quota=terms.get("daily_quota"),
        rate_limit_per_minute=terms.get("rate_limit_per_minute"),
        price_per_1000_krw=int(terms.get("price_per_1000_krw") or 0),
        monthly_cap_krw=terms.get("monthly_cap_krw"),
    )
    return entitlement
