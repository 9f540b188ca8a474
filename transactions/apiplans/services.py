"""Taking, changing and ending API plans (issue 16).

- `api_plan_take`: the development plan (free, active at once) and the metered plan (nothing up front, the buyer
  sets a monthly cap in won) are taken from the dataset page without the cart: a one-line free order is placed
  exactly as checkout places a free order (the offer's terms and licence text snapshotted on the order line, the
  licence acceptance recorded with who, when and from where, the order paid at once by order_mark_paid, which
  makes the entitlement and its ApiPlan). The subscription plan has a price: it goes through the cart, checkout
  and payment like any subscription.
- `api_plan_cap_change`: the buyer changes a metered plan's cap (the next call is held to it).
- `api_plan_cancel`: the buyer ends a development or metered plan (a metered plan's calls so far are still billed
  on the 1st); a subscription plan runs to the end of the month paid for.
- `plans_expire` (beat): plans whose period is over or whose order line was refunded are ended (access stops at
  once anyway: transactions.dataapi.access reads the entitlement on every call).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from catalog.models import Offer, OfferKind
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.text import lazy_percent
from core.transitions import transition
from transactions.apiplans import selectors as plan_selectors
from transactions.apiplans.models import ApiPlan
from transactions.models import LicenceAcceptance, Order, OrderItem
from transactions.services import orders
from transactions.services.cart import require_buyer

TAKEN_DIRECTLY = (OfferKind.API_DEV, OfferKind.API_METERED)


def cap_problem(value) -> str | None:
    """Why a monthly cap in won is not acceptable (None when it is)."""
    if value is None or value == "":
        return _("Set a monthly cap in won: calls beyond it are refused until the next month.")
    try:
        cap = int(str(value).replace(",", "").strip())
    except ValueError:
        return _("The monthly cap is a whole number of won, such as 50000.")
    if cap < 1 or cap > settings.API_MONTHLY_CAP_MAX_KRW:
        return lazy_percent(
            _("The monthly cap must be between 1 and %(max)s won."), {"max": f"{settings.API_MONTHLY_CAP_MAX_KRW:,}"}
        )
    return None


def _cap(value) -> int:
    problem = cap_problem(value)
    if problem:
        raise DomainError(problem, code="monthly_cap")
    return int(str(value).replace(",", "").strip())


@transaction.atomic
def api_plan_take(
    *,
    actor,
    organization: Organization | None,
    offer: Offer,
    accepted_sha256: str,
    monthly_cap_krw=None,
    ip: str | None = None,
) -> ApiPlan:
    """Take a development or metered plan for the organization: a free order of one line, paid at once, whose
    entitlement carries the plan. `accepted_sha256` is the digest of the licence text the buyer accepted (it must
    be the text in force now). Refused: a buyer who may not buy for the organization, an offer it may not take
    (selectors.purchase_problem: private, inactive, own dataset, already has this plan …), a missing cap."""
    require_buyer(actor, organization)
    if offer.kind not in TAKEN_DIRECTLY:
        raise DomainError(_("This plan is bought through the cart and checkout."), code="not_direct")
    Organization.objects.select_for_update().filter(pk=organization.pk).exists()  # one take at a time per buyer
    line = plan_selectors.offer_line(offer, organization)
    if line.problem:
        raise DomainError(line.problem, code="not_buyable")
    if not accepted_sha256:
        raise DomainError(
            lazy_percent(_("Accept the licence of “%(title)s” to continue."), {"title": line.title}),
            code="licence_not_accepted",
        )
    if accepted_sha256 != line.licence_sha256:
        raise DomainError(
            lazy_percent(
                _("The licence of “%(title)s” changed while you were reading it: read it again and accept it."),
                {"title": line.title},
            ),
            code="licence_changed",
        )
    cap = _cap(monthly_cap_krw) if offer.kind == OfferKind.API_METERED else None
    order = Order.objects.create(
        number=orders._order_number(),
        checkout_token=uuid.uuid4(),
        buyer=organization,
        placed_by=actor,
        method=Order.Method.FREE,
        **dict.fromkeys(orders.BILLING_FIELDS, ""),
    )
    terms = orders._snapshot_terms(line)
    if cap is not None:
        terms["monthly_cap_krw"] = cap
    item = OrderItem.objects.create(
        order=order,
        offer=offer,
        dataset=offer.dataset,
        version=None,
        seller=offer.dataset.publisher,
        kind=offer.kind,
        title=line.version.title_ko,
        supply_krw=0,
        vat_krw=0,
        total_krw=0,
        tax_free=line.price.tax_free,
        licence=line.licence,
        terms=terms,
    )
    LicenceAcceptance.objects.create(
        order_item=item,
        user=actor,
        organization=organization,
        licence=line.licence,
        licence_code=line.licence.code if line.licence else "",
        licence_sha256=line.licence_sha256,
        accepted_at=timezone.now(),
        ip=ip,
    )
    audit(
        actor=actor,
        action="order.placed",
        obj=order,
        organization=organization,
        data={"number": order.number, "method": order.method, "total_krw": 0, "lines": 1, "api_plan": offer.kind},
    )
    orders.order_mark_paid(order=order)
    return ApiPlan.objects.select_related("entitlement__order_item__order", "dataset").get(entitlement__order_item=item)


def _require_plan_buyer(actor, plan: ApiPlan) -> None:
    if not can(actor, "accounts.buy_for_org", plan.organization):
        raise NotAllowed(_("Only a buyer of the organization that took the plan can change it."))


@transaction.atomic
def api_plan_cap_change(*, actor, plan: ApiPlan, monthly_cap_krw) -> ApiPlan:
    """The buyer sets a metered plan's monthly cap anew; calls are held to it from the next one (a lower cap than
    this month's calls so far refuses further calls this month)."""
    plan = ApiPlan.objects.select_for_update(of=("self",)).select_related("organization").get(pk=plan.pk)
    _require_plan_buyer(actor, plan)
    if plan.kind != OfferKind.API_METERED or plan.state != ApiPlan.State.ACTIVE:
        raise DomainError(_("Only an active metered plan has a monthly cap."), code="not_metered")
    cap = _cap(monthly_cap_krw)
    before = plan.monthly_cap_krw
    plan.monthly_cap_krw = cap
    plan.save(update_fields=["monthly_cap_krw"])
    audit(
        actor=actor,
        action="apiplan.cap_changed",
        obj=plan,
        organization=plan.organization,
        data={"from": before, "to": cap},
    )
    return plan


@transaction.atomic
def api_plan_cancel(*, actor, plan: ApiPlan) -> ApiPlan:
    """The buyer ends a development or metered plan now. Idempotent. A subscription plan runs to its end."""
    plan = ApiPlan.objects.select_for_update(of=("self",)).select_related("organization").get(pk=plan.pk)
    _require_plan_buyer(actor, plan)
    if plan.state != ApiPlan.State.ACTIVE:
        return plan
    if plan.kind == OfferKind.API_SUBSCRIPTION:
        raise DomainError(
            _("A subscription plan runs to the end of the month paid for and is not renewed unless you pay again."),
            code="subscription_runs",
        )
    plan.ended_at = timezone.now()
    transition(plan, to=ApiPlan.State.CANCELLED, actor=actor, fields=("ended_at",), data={"kind": plan.kind})
    return plan


def plans_expire(*, limit: int = 500) -> int:
    """End active plans whose entitlement is over or revoked (beat); each under its own lock. Returns how many."""
    now = timezone.now()
    over = ApiPlan.objects.filter(state=ApiPlan.State.ACTIVE).filter(
        Q(entitlement__revoked_at__isnull=False) | Q(entitlement__valid_until__lte=now)
    )
    ended = 0
    for pk in list(over.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            plan = over.select_for_update(skip_locked=True, of=("self",)).filter(pk=pk).first()  # (not its entitlement)
            if plan is None:
                continue
            plan.ended_at = now
            transition(plan, to=ApiPlan.State.ENDED, actor=None, fields=("ended_at",))
            ended += 1
    return ended
