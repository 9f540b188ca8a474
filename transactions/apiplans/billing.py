"""The monthly bill of metered API plans (issue 16).

On the 1st (beat, and idempotent: an `ApiBill` per plan and month, unique), each metered plan with calls in the
month just ended (Asia/Seoul, from the persisted ApiUsage) gets an Order of one line: the calls × price per
1,000 / 1,000, **rounded down to the won** (공급가액), VAT by the supplier's status like every other line
(catalog.pricing: 10 % rounded down, none for a 면세 supplier). The order awaits payment (bank transfer by
default; the buyer may pay it by card on the order page) for `API_BILL_PAYMENT_DAYS`; paid through the normal
payment pages, it is booked in the ledger and its receipt / 세금계산서 issued exactly like any sale (docs/money.md).
The line gives no entitlement (transactions.apiplans.plans.is_bill_line). A month whose amount rounds to 0 won
is recorded (ApiBill with no order) and not billed.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from catalog.models import OfferKind
from catalog.pricing import metered_amount_krw, price_of
from core.audit import audit
from core.notify import email_on_commit, site_url
from core.transitions import transition
from transactions.apiplans.models import ApiBill, ApiPlan, ApiUsage
from transactions.models import Order, OrderItem
from transactions.services import orders
from transactions.statements.selectors import month_of, next_month
from transactions.statements.selectors import previous_month as _previous


def previous_month(now=None) -> date:
    """The first day of the month before the current one (Korean time)."""
    return _previous(month_of(now or timezone.now()))


def month_calls(plan: ApiPlan, month: date) -> int:
    total = ApiUsage.objects.filter(plan=plan, day__gte=month, day__lt=next_month(month)).aggregate(n=Sum("calls"))
    return int(total["n"] or 0)


def bill_amount(calls: int, price_per_1000_krw: int) -> int:
    """공급가액 of a month's calls: calls × price / 1,000, rounded down to the won (catalog.pricing)."""
    return metered_amount_krw(calls, price_per_1000_krw)


def bill_make(*, plan: ApiPlan, month: date) -> ApiBill | None:
    """The bill of one metered plan for one month (once: a second call returns the first bill)."""
    with transaction.atomic():
        plan = (
            ApiPlan.objects.select_for_update(of=("self",))
            .select_related("dataset__publisher", "entitlement")
            .get(pk=plan.pk)
        )
        existing = ApiBill.objects.filter(plan=plan, month=month).first()
        if existing is not None:
            return existing
        calls = month_calls(plan, month)
        if not calls:
            return None
        supply = bill_amount(calls, plan.price_per_1000_krw)
        bill = ApiBill(plan=plan, month=month, calls=calls, amount_krw=supply)
        if supply == 0:
            bill.save()
            return bill
        original = plan.entitlement.order_item
        exempt = plan.dataset.publisher.vat_status == Organization.VatStatus.EXEMPT
        price = price_of(supply, tax_free=exempt)
        buyer = Organization.objects.get(pk=plan.organization_id)
        order = Order.objects.create(
            number=orders._order_number(),
            checkout_token=uuid.uuid4(),
            buyer=buyer,
            placed_by=original.order.placed_by,
            method=Order.Method.BANK_TRANSFER,
            supply_krw=price.supply_krw,
            vat_krw=price.vat_krw,
            total_krw=price.total_krw,
            tax_free_krw=price.tax_free_krw,
            **orders.billing_defaults(buyer),
        )
        OrderItem.objects.create(
            order=order,
            offer=original.offer,
            dataset=plan.dataset,
            version=None,
            seller=plan.dataset.publisher,
            kind=OfferKind.API_METERED,
            title=f"{original.title} · API {month:%Y-%m}",
            supply_krw=price.supply_krw,
            vat_krw=price.vat_krw,
            total_krw=price.total_krw,
            tax_free=price.tax_free,
            licence=original.licence,
            terms={
                **(original.terms or {}),
                "api_bill": True,
                "month": month.isoformat(),
                "calls": calls,
                "price_per_1000_krw": int(plan.price_per_1000_krw),
                "rounding": "calls × price_per_1000_krw // 1000 (won, rounded down); VAT 10 % rounded down",
                "vat_rate_percent": 0 if price.tax_free else settings.VAT_RATE_PERCENT,
            },
        )
        bill.order = order
        bill.save()
        audit(
            actor=None,
            action="order.placed",
            obj=order,
            organization=buyer,
            data={
                "number": order.number,
                "api_bill": bill.month.isoformat(),
                "calls": calls,
                "total_krw": order.total_krw,
            },
        )
        order.payment_due_at = timezone.now() + timedelta(days=settings.API_BILL_PAYMENT_DAYS)
        transition(order, to=Order.State.AWAITING_PAYMENT, actor=None, fields=("payment_due_at",))
        email_on_commit(
            to=[e for e in dict.fromkeys([order.placed_by.email, order.billing_email]) if e],
            template="email/api_bill",
            context={"order": order, "bill": bill, "url": site_url(reverse("transactions:order", args=[order.number]))},
        )
        return bill


def bills_make_month(*, month: date) -> list[ApiBill]:
    """Bills of every metered plan with calls in `month` (idempotent: run twice, or at once, it bills once)."""
    plan_ids = (
        ApiUsage.objects.filter(
            plan__kind=OfferKind.API_METERED, day__gte=month, day__lt=next_month(month), calls__gt=0
        )
        .values_list("plan_id", flat=True)
        .distinct()
    )
    bills = []
    for plan in ApiPlan.objects.filter(pk__in=list(plan_ids)).order_by("pk"):
        bill = bill_make(plan=plan, month=month)
        if bill is not None:
            bills.append(bill)
    return bills
