"""The refund policy buyers may invoke themselves, exactly as the policy page (templates/transactions/refund_policy.html)
states it, after 전자상거래 등에서의 소비자보호에 관한 법률 제17조:

- Withdrawal (청약철회, 제17조①): within REFUND_WINDOW_DAYS days of payment, for an order line whose data nobody of
  the buyer's organization has started to download. Once a download started, the provision of digital content has
  begun and withdrawal is excluded (제17조②5호): the page says so before checkout.
- Not as described or not usable (제17조③): within REFUND_DEFECT_DAYS days of payment, downloaded or not.
- Free lines have nothing to give back; a line is requested in full (what is left of it).

A request is only a request: a platform admin approves (the refund is made) or refuses it with a reason. An admin may
also refund any paid order at any time, fully or partly (services.refund_create): the policy limits what a buyer can
ask for alone, not what the platform may give back.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.models import API_OFFER_KINDS
from core.text import lazy_percent
from transactions.apiplans.models import ApiUsage
from transactions.apiplans.plans import is_bill_line
from transactions.models import DownloadEvent, Order, OrderItem, Refund, RefundLine, RefundRequest

O, R = Order.State, Refund.State
Kind = RefundRequest.Kind
REFUNDABLE_ORDER_STATES = (O.PAID, O.FULFILLED)
# Refunds that hold part of a line: granted, being sent or done (a failed one gave nothing back).
HOLDING = (R.CREATED, R.TRANSMITTED, R.DONE)


def committed(items) -> dict[int, int]:
    """Per order line id: what refunds not failed already hold of it."""
    rows = (
        RefundLine.objects.filter(order_item__in=items, refund__state__in=HOLDING)
        .values("order_item")
        .annotate(total=Sum("amount_krw"))
    )
    return {row["order_item"]: int(row["total"]) for row in rows}


def committed_voucher(items) -> dict[int, int]:
    """Per order line id: how much of what refunds not failed hold of it is the voucher's share."""
    rows = (
        RefundLine.objects.filter(order_item__in=items, refund__state__in=HOLDING)
        .values("order_item")
        .annotate(total=Sum("voucher_krw"))
    )
    return {row["order_item"]: int(row["total"]) for row in rows}


def remaining(item: OrderItem, held: dict[int, int] | None = None) -> int:
    """What is left to refund of a line."""
    held = committed([item]) if held is None else held
    return max(item.total_krw - held.get(item.pk, 0), 0)


def downloaded(item: OrderItem) -> bool:
    """Someone of the buyer's organization started downloading this line's data (any package, any version)."""
    return DownloadEvent.objects.filter(package__entitlement__order_item=item).exists()


def used_through_api(item: OrderItem) -> bool:
    """An API line whose provision has begun (제17조②5호, as a download for a file): a metered plan's monthly bill
    (it pays for calls already made), or a plan whose data was already read through the data API (issue 16)."""
    if item.kind not in API_OFFER_KINDS:
        return False
    if is_bill_line(item):
        return True
    return ApiUsage.objects.filter(plan__entitlement__order_item=item, calls__gt=0).exists()


def window_end(order: Order, kind: str):
    if order.paid_at is None:
        return None
    days = settings.REFUND_WINDOW_DAYS if kind == Kind.CHANGE_OF_MIND else settings.REFUND_DEFECT_DAYS
    return order.paid_at + timedelta(days=days)


def request_problem(order: Order, item: OrderItem, kind: str, *, held: dict[int, int] | None = None, now=None):
    """Why the buyer may not ask for this line back for this reason (a message), or None when it may."""
    now = now or timezone.now()
    if order.state not in REFUNDABLE_ORDER_STATES:
        return _("Only a paid order can be refunded.")
    if not item.total_krw:
        return _("A free line has nothing to refund.")
    if remaining(item, held) <= 0:
        return _("This line is already refunded, or a refund of it is under way.")
    end = window_end(order, kind)
    if end is None or now > end:
        days = settings.REFUND_WINDOW_DAYS if kind == Kind.CHANGE_OF_MIND else settings.REFUND_DEFECT_DAYS
        return lazy_percent(_("The %(days)s days after payment for this kind of request are over."), {"days": days})
    if kind == Kind.CHANGE_OF_MIND and downloaded(item):
        return _(
            "The data of this line was downloaded: withdrawal is no longer possible. If it is not as described or "
            "cannot be used, ask for a refund for that reason."
        )
    if kind == Kind.CHANGE_OF_MIND and used_through_api(item):
        return _(
            "The data of this line was already read through the data API: withdrawal is no longer possible. If it "
            "is not as described or cannot be used, ask for a refund for that reason."
        )
    return None


def requestable(order: Order, now=None) -> dict[int, dict[str, object]]:
    """Per order line id, per request kind: the problem (None: it may be requested)."""
    items = list(order.items.all())
    held = committed(items)
    return {
        item.pk: {kind: request_problem(order, item, kind, held=held, now=now) for kind in Kind.values}
        for item in items
    }
