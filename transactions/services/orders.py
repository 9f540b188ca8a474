"""Checkout and the life of an order: placed → awaiting payment → paid → fulfilled, or cancelled.

- `checkout_place` turns the cart into an Order whose lines copy the offer, price, VAT and licence terms
  (later changes to an offer or licence never reach an order), records who accepted which licence text,
  and is idempotent per checkout form (`checkout_token`): a double submission returns the first order.
- `order_mark_paid` (called by the payment services with the order locked, and by checkout for free
  orders) creates the entitlements and asks delivery for their packages; `order_mark_fulfilled` (called
  when a package is ready) closes the order once everything is delivered.
- `order_cancel` (the buyer, or an admin) and `orders_cancel_overdue` (beat) cancel unpaid orders.

States move only through `core.transitions.transition` (tables in transactions/states.py), which
writes the audit row; illegal moves raise IllegalTransition.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from accounts.selectors import policies_to_agree
from catalog.models import API_OFFER_KINDS, Offer
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.notify import email_on_commit, site_url
from core.text import lazy_percent
from core.transitions import transition
from transactions import ledger, selectors
from transactions.apiplans import plans as api_plans
from transactions.delivery import services as delivery
from transactions.documents import services as documents
from transactions.models import Cart, Entitlement, LicenceAcceptance, Order, OrderItem, Package, Payment
from transactions.payments.bank import deposit_deadline
from transactions.services import subscriptions
from transactions.services.cart import require_buyer
from transactions.vouchers import services as vouchers

O = Order.State
# Order numbers double as the PG's orderId ([A-Za-z0-9_-], 6–64): the date, then 8 characters without
# look-alikes (no 0/O, 1/I/L), so a buyer can read one out over the phone.
_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
BILLING_FIELDS = ("billing_name", "billing_brn", "billing_email", "billing_phone", "billing_address")


def _order_number() -> str:
    return timezone.localdate().strftime("%Y%m%d") + "-" + "".join(secrets.choice(_NUMBER_ALPHABET) for _i in range(8))


def billing_defaults(organization: Organization) -> dict:
    """The organization's details, prefilled as billing details at checkout."""
    return {
        "billing_name": organization.name_ko,
        "billing_brn": organization.brn_display,
        "billing_email": organization.contact_email,
        "billing_phone": organization.contact_phone,
        "billing_address": organization.address,
    }


def _snapshot_terms(line: selectors.Line) -> dict:
    """What the buyer agreed to, kept on the order line whatever happens to the offer or licence later."""
    offer, version, licence = line.offer, line.version, line.licence
    return {
        "offer_kind": offer.kind,
        "price_krw": int(offer.price_krw),
        "version_number": version.number if version else None,
        "latest_at_purchase": offer.version_id is None,
        "title_en": version.title_en if version else "",
        "rule": offer.rule,
        "cost_basis": offer.cost_basis,
        "contract_type": offer.contract_type,
        "contract_label": str(offer.get_contract_type_display()) if offer.contract_type else "",
        "private": offer.buyer_id is not None,
        "private_terms": offer.terms,
        "licence_code": licence.code if licence else "",
        "licence_name_ko": licence.name_ko if licence else "",
        "licence_name_en": licence.name_en if licence else "",
        # The texts exactly as shown and accepted (blanks filled): licence_sha256 is the SHA-256 of
        # catalog.licences.accepted_text(licence_text_ko, licence_text_en), and LICENSE.txt carries them.
        "licence_text_ko": line.rendered.text_ko if line.rendered else "",
        "licence_text_en": line.rendered.text_en if line.rendered else "",
        "licence_url": licence.url if licence else "",
        "licence_sha256": line.licence_sha256,
        "vat_rate_percent": 0 if line.price.tax_free else settings.VAT_RATE_PERCENT,
        "voucher_eligible": offer.voucher_eligible,
        # API plans (issue 16): what the plan gives, as offered when it was taken.
        **(
            {
                "daily_quota": offer.daily_quota,
                "rate_limit_per_minute": offer.rate_limit_per_minute,
                "price_per_1000_krw": offer.price_per_1000_krw,
            }
            if offer.kind in API_OFFER_KINDS
            else {}
        ),
    }


@transaction.atomic
def checkout_place(
    *,
    actor,
    organization: Organization | None,
    checkout_token,
    method: str,
    billing: dict,
    accepted: dict[int, str],
    expected_total_krw: int | None = None,
    ip: str | None = None,
    voucher_id: int | None = None,
    expected_voucher_krw: int | None = None,
) -> Order:
    """Place an order for everything in the actor's cart for the organization.

    `accepted` maps each offer id to the SHA-256 of the licence text the buyer accepted: every line
    needs one, and it must be the text in force now (an edit while the buyer read it refuses the order).
    `expected_total_krw` is the total the buyer was shown; a different total now refuses the order.
    The same `checkout_token` twice (double click, reload) returns the order made the first time.
    `voucher_id`: a verified 데이터바우처 of the organization pays part of the eligible lines (transactions.vouchers:
    its row is locked here, so two checkouts at once cannot spend its balance twice); `expected_voucher_krw` is the
    voucher part the buyer was shown, and a different one now (the balance changed) refuses the order.
    A total of 0 is free and paid at once; otherwise the order awaits payment by card or bank transfer
    until its due time.
    """
    require_buyer(actor, organization)
    previous = Order.objects.filter(checkout_token=checkout_token).first()
    if previous is not None:
        return _same_checkout(previous, actor, organization)
    if policies_to_agree(actor):
        # A checkout page opened before a new version of the terms took effect: no order under terms the buyer
        # has not accepted (the next page they open asks them to agree).
        raise DomainError(
            _(
                "The terms of use or the privacy policy changed while you were ordering. Agree to the new version "
                "first, then place the order again."
            ),
            code="policies_to_agree",
        )
    cart = Cart.objects.select_for_update().filter(user=actor, organization=organization).first()
    # A concurrent submission of the same form waited for the cart lock and finds the order made.
    previous = Order.objects.filter(checkout_token=checkout_token).first()
    if previous is not None:
        return _same_checkout(previous, actor, organization)
    lines = selectors.cart_lines(cart, organization)
    if not lines:
        raise DomainError(_("Your cart is empty."), code="cart_empty")
    for line in lines:
        if line.problem:
            raise DomainError(
                lazy_percent(_("“%(title)s”: %(problem)s"), {"title": line.title, "problem": line.problem}),
                code="not_buyable",
            )
    if set(accepted) - {line.offer.pk for line in lines}:
        raise DomainError(
            _("Your cart changed since the checkout page was opened: check it and accept the licences again."),
            code="cart_changed",
        )
    for line in lines:
        given = accepted.get(line.offer.pk)
        if not given:
            raise DomainError(
                lazy_percent(_("Accept the licence of “%(title)s” to continue."), {"title": line.title}),
                code="licence_not_accepted",
            )
        if given != line.licence_sha256:
            raise DomainError(
                lazy_percent(
                    _("The licence of “%(title)s” changed while you were reading it: read it again and accept it."),
                    {"title": line.title},
                ),
                code="licence_changed",
            )
    total = selectors.lines_total(lines)
    if expected_total_krw is not None and int(expected_total_krw) != total.total_krw:
        raise DomainError(
            _("The total changed since the checkout page was opened: check the new amounts."), code="total_changed"
        )
    shares = [0] * len(lines)
    voucher = None
    if voucher_id and total.total_krw:
        voucher = vouchers.voucher_lock_usable(voucher_id=voucher_id, organization=organization)
        shares = vouchers.voucher_split(
            lines=[(line.price.total_krw, line.offer.voucher_eligible) for line in lines],
            copay_percent=voucher.copay_percent,
            balance_krw=voucher.balance_krw,
        )
        if not sum(shares):
            raise DomainError(
                _("The data voucher cannot pay any part of this order (no eligible dataset, or no balance left)."),
                code="voucher_nothing",
            )
        if expected_voucher_krw is not None and int(expected_voucher_krw) != sum(shares):
            raise DomainError(
                _("The data voucher's part changed since the checkout page was opened: check the new amounts."),
                code="voucher_changed",
            )
        if sum(shares) >= total.total_krw:  # cannot happen (the co-payment is over 0): never an order with nothing due
            raise DomainError(_("A data voucher cannot pay a whole order."), code="voucher_whole")
    if total.total_krw == 0:
        method = Order.Method.FREE
    elif method not in (Order.Method.CARD, Order.Method.BANK_TRANSFER):
        raise DomainError(_("Choose how to pay: by card or by bank transfer."), code="method")
    if method == Order.Method.FREE:
        # Nothing is invoiced for a free order: no billing details are asked for or kept.
        billing = dict.fromkeys(BILLING_FIELDS, "")
    else:
        billing = {field: (billing.get(field) or "").strip() for field in BILLING_FIELDS}
        if not billing["billing_name"] or not billing["billing_email"]:
            raise DomainError(_("Enter the name and e-mail address the invoice is made out to."), code="billing")

    order = Order.objects.create(
        number=_order_number(),
        checkout_token=checkout_token,
        buyer=organization,
        placed_by=actor,
        method=method,
        supply_krw=total.supply_krw,
        vat_krw=total.vat_krw,
        total_krw=total.total_krw,
        tax_free_krw=sum(line.price.tax_free_krw for line in lines),
        voucher_krw=sum(shares),
        **billing,
    )
    now = timezone.now()
    for line, share in zip(lines, shares, strict=True):
        offer, version = line.offer, line.version
        item = OrderItem.objects.create(
            order=order,
            offer=offer,
            dataset=offer.dataset,
            version=None if offer.kind == Offer.Kind.SUBSCRIPTION else version,
            seller=offer.dataset.publisher,
            kind=offer.kind,
            subscription_days=offer.subscription_days,
            title=version.title_ko,
            supply_krw=line.price.supply_krw,
            vat_krw=line.price.vat_krw,
            total_krw=line.price.total_krw,
            tax_free=line.price.tax_free,
            voucher_krw=share,
            licence=line.licence,
            terms=_snapshot_terms(line),
        )
        LicenceAcceptance.objects.create(
            order_item=item,
            user=actor,
            organization=organization,
            licence=line.licence,
            licence_code=line.licence.code if line.licence else "",
            licence_sha256=line.licence_sha256,
            accepted_at=now,
            ip=ip,
        )
    if voucher is not None:
        vouchers.voucher_use_record(voucher=voucher, order=order, amount_krw=order.voucher_krw, actor=actor)
    cart.items.all().delete()
    audit(
        actor=actor,
        action="order.placed",
        obj=order,
        organization=organization,
        data={
            "number": order.number,
            "method": method,
            "total_krw": order.total_krw,
            "voucher_krw": order.voucher_krw,
            "lines": len(lines),
        },
    )
    if method == Order.Method.FREE:
        return order_mark_paid(order=order)
    if method == Order.Method.CARD:
        order.payment_due_at = now + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES)
    else:
        order.payment_due_at = deposit_deadline(now)
    transition(order, to=O.AWAITING_PAYMENT, actor=actor, fields=("payment_due_at",))
    return order


def _same_checkout(order: Order, actor, organization: Organization) -> Order:
    if order.placed_by_id != actor.pk or order.buyer_id != organization.pk:
        raise NotAllowed(_("This checkout belongs to someone else."))
    return order


def order_mark_paid(*, order: Order, payment: Payment | None = None) -> Order:
    """The order is paid (a confirmed payment, or free): entitlements are created and packaged.

    The caller holds the order row locked (select_for_update) inside its transaction. Idempotent: an
    order already paid or fulfilled is returned unchanged. A cancelled or refunded order raises.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_mark_paid must run inside the caller's transaction, with the order locked")
    # Taking the lock again costs nothing when the caller holds it, and makes a stale instance safe.
    Order.objects.select_for_update().filter(pk=order.pk).exists()
    order.refresh_from_db(fields=["state", "paid_at"])
    if order.state in (O.PAID, O.FULFILLED):
        return order
    now = timezone.now()
    actor = payment.confirmed_by if payment else (order.placed_by if order.method == Order.Method.FREE else None)
    order.paid_at = now
    transition(
        order,
        to=O.PAID,
        actor=actor,
        fields=("paid_at",),
        data={
            "number": order.number,
            "method": order.method,
            "total_krw": order.total_krw,
            "payment": payment.pk if payment else None,
        },
    )
    # The money, in the same transaction: cash in, the provider's share, the commission and the VAT (free: nothing).
    booked = ledger.record_payment(order=order, payment=payment)
    if booked is not None:
        # The receipts / 세금계산서 / 계산서 of each supplier, in the same transaction as the money.
        documents.document_issue_for(booked)
    entitlements = []
    for item in order.items.select_related("dataset", "order__placed_by"):
        if item.kind in API_OFFER_KINDS:
            # An API plan (issue 16): an entitlement and its ApiPlan, read through the data API: no package.
            api_plans.plan_for_paid_item(item=item, now=now)
            continue
        if item.kind == Offer.Kind.SUBSCRIPTION:
            # A period of the organization's subscription to the dataset, chained to the end of the one running
            # (a renewal paid before the end: no gap, no overlap).
            subscription, valid_from, valid_until = subscriptions.period_for_paid_item(item=item, now=now)
            entitlements.append(
                Entitlement.objects.create(
                    organization_id=order.buyer_id,
                    dataset=item.dataset,
                    order_item=item,
                    kind=item.kind,
                    subscription=subscription,
                    valid_from=valid_from,
                    valid_until=valid_until,
                )
            )
            continue
        entitlements.append(
            Entitlement.objects.create(
                organization_id=order.buyer_id,
                dataset=item.dataset,
                order_item=item,
                kind=item.kind,
                version=item.version,
                valid_from=now,
                valid_until=None,
            )
        )
    email_on_commit(
        to=[email for email in dict.fromkeys([order.placed_by.email, order.billing_email]) if email],
        template="email/order_paid",
        context={
            "order": order,
            "items": list(order.items.all()),
            "url": site_url(reverse("transactions:order", args=[order.number])),
        },
    )
    for entitlement in entitlements:
        delivery.packages_create_for_entitlement(entitlement)
    if not entitlements:
        # Only API plans (or a metered plan's bill): nothing to package, so the order is delivered now.
        return order_mark_fulfilled(order=order)
    return order


@transaction.atomic
def order_mark_fulfilled(*, order: Order) -> Order:
    """Paid → fulfilled once every entitlement of the order has its packages and all are ready.
    Idempotent; an order in any other state, or with a package still to build, is returned unchanged."""
    order = Order.objects.select_for_update().get(pk=order.pk)
    if order.state != O.PAID:
        return order
    entitlements = list(
        Entitlement.objects.filter(order_item__order=order)
        .exclude(kind__in=API_OFFER_KINDS)  # API plans have no packages (issue 16)
        .prefetch_related("packages")
    )
    delivered = (Package.State.READY, Package.State.EXPIRED)
    api_only = not order.items.exclude(kind__in=API_OFFER_KINDS).exists()
    if (not entitlements and not api_only) or any(
        not e.packages.all() or any(p.state not in delivered for p in e.packages.all()) for e in entitlements
    ):
        return order
    order.fulfilled_at = timezone.now()
    transition(order, to=O.FULFILLED, actor=None, fields=("fulfilled_at",), data={"number": order.number})
    return order


def _cancel(order: Order, *, actor, reason: str) -> Order:
    order.cancelled_at = timezone.now()
    order.cancel_reason = reason[:300]
    transition(
        order,
        to=O.CANCELLED,
        actor=actor,
        reason=order.cancel_reason,
        fields=("cancelled_at", "cancel_reason"),
        data={"number": order.number, "automatic": actor is None},
    )
    # A payment still waiting for the payer is void with its order (a late PG confirmation is refused).
    for payment in order.payments.select_for_update().filter(state=Payment.State.READY):
        transition(payment, to=Payment.State.CANCELLED, actor=actor, reason=order.cancel_reason)
    # The data voucher's part goes back on its balance, in the same transaction.
    vouchers.voucher_release_for_order(order=order, actor=actor)
    return order


@transaction.atomic
def order_cancel(*, actor, order: Order, reason: str = "") -> Order:
    """The buyer (or a platform admin) cancels an order that is not paid yet. Idempotent; a paid order
    cannot be cancelled (it is refunded instead) and raises IllegalTransition."""
    staff = can(actor, "accounts.platform_admin")
    if not staff and not can(actor, "accounts.buy_for_org", order.buyer):
        raise NotAllowed(_("Only a buyer of the organization that placed the order can cancel it."))
    order = Order.objects.select_for_update(of=("self",)).select_related("buyer").get(pk=order.pk)
    if order.state == O.CANCELLED:
        return order
    if _payment_being_confirmed(order):
        raise DomainError(
            _(
                "A card payment of this order is being confirmed with the card company right now. Wait a moment: "
                "if it goes through, the order is paid; if not, you can cancel it then."
            ),
            code="payment_in_progress",
        )
    reason = (reason or "").strip() or str(
        _("Cancelled by a platform admin.") if staff else _("Cancelled by the buyer.")
    )
    return _cancel(order, actor=actor, reason=reason)


def _payment_being_confirmed(order: Order) -> bool:
    """A card payment of the (locked) order is between the claim and the PG's answer: the money may be
    taken, so the order is not cancelled under it (the confirmation, or the reconciliation, decides)."""
    return order.payments.filter(state=Payment.State.CONFIRMING).exists()


def orders_cancel_overdue(*, limit: int = 500) -> int:
    """Cancel orders not paid by their due time (beat); returns how many. Each order is locked on its own
    and skipped while something else holds it, or while a card payment of it is being confirmed (the
    confirmation holds no lock across the PG call; it, or the reconciliation, decides): a later run sees it."""
    now = timezone.now()
    overdue = Order.objects.filter(state__in=selectors.OPEN_ORDER_STATES, payment_due_at__lt=now)
    cancelled = 0
    for pk in list(overdue.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            order = (
                overdue.select_for_update(skip_locked=True, of=("self",))
                .select_related("buyer", "placed_by")
                .filter(pk=pk)
                .first()
            )
            if order is None or _payment_being_confirmed(order):
                continue
            _cancel(order, actor=None, reason=str(_("Not paid by the due time.")))
            email_on_commit(
                to=[order.placed_by.email, order.billing_email],
                template="email/order_cancelled",
                context={"order": order, "url": site_url(reverse("transactions:order", args=[order.number]))},
            )
            cancelled += 1
    return cancelled
