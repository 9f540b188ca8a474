"""What a paid API order line gives (called by transactions.services.orders.order_mark_paid in its transaction):
an Entitlement (never a package: an API plan is read through the data API) and its ApiPlan.

- development and metered plans run without end until cancelled, refunded or replaced;
- a subscription runs `subscription_days` (30) from now, plus what is left of a running subscription plan of the
  same dataset (a renewal paid before the end adds its month: no gap, no overlap);
- a new plan of a dataset ends the organization's plan running for it (one plan meters a dataset's calls);
- a metered plan's monthly bill line (terms["api_bill"]) gives nothing: it pays for calls already made;
- a refund that revokes a plan's entitlement ends the plan at once (`plan_refunded`); a refunded renewal of a
  subscription plan gives back the month it replaced, paid and not refunded, which meters the calls again.
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
        ApiPlan.objects.select_for_update(of=("self",))
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


def plan_refunded(*, entitlement: Entitlement, actor, now) -> None:
    """A refund revoked `entitlement` (inside the refund's transaction): its API plan ends now. When that plan was a
    renewal of a subscription plan, the plan it replaced (ended by plan_for_paid_item at the very moment the renewal's
    entitlement began) is active again if its own month, paid and not refunded, still runs: the buyer asked for the
    renewal back, not for the month already paid."""
    plan = ApiPlan.objects.select_for_update().filter(entitlement=entitlement).first()
    if plan is None or plan.state != ApiPlan.State.ACTIVE:
        return
    plan.ended_at = now
    transition(plan, to=ApiPlan.State.ENDED, actor=actor, fields=("ended_at",), reason="refunded")
    if plan.kind != OfferKind.API_SUBSCRIPTION:
        return
    replaced = (
        ApiPlan.objects.select_for_update(of=("self",))  # the filter joins its entitlement: that row stays free
        .filter(
            organization_id=plan.organization_id,
            dataset_id=plan.dataset_id,
            kind=OfferKind.API_SUBSCRIPTION,
            state=ApiPlan.State.CANCELLED,
            ended_at=entitlement.valid_from,
            entitlement__revoked_at__isnull=True,
            entitlement__valid_until__gt=now,
        )
        .first()
    )
    if replaced is not None:
        replaced.ended_at = None
        transition(
            replaced,
            to=ApiPlan.State.ACTIVE,
            actor=actor,
            fields=("ended_at",),
            reason="renewal_refunded",
            data={"refunded_plan": plan.pk},
        )
