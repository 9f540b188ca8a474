"""Refunds: every write about giving money back. One function per use case.

A refund is its own row (transactions.models.Refund, with a RefundLine per order line), never an edited total; the
order's `refunded_krw` is the sum of its done refunds. States: created → transmitted → done | failed
(transactions/states.py).

- `refund_create`: a platform admin refunds a paid order, fully or per line, with a reason.
- `refund_request` (the buyer, within transactions/refunds/policy.py) → `refund_request_approve` (a Refund is made)
  or `refund_request_refuse` (with a reason). The request row is locked for the decision: two admins deciding at
  once make one decision.
- Card: the PG is asked to cancel (`cancel(payment_key, amount, reason, idempotency_key)`) exactly as a card payment
  is confirmed (transactions/payments/services.py): with the order locked the intent is recorded (the refund
  `transmitted`, its Idempotency-Key, a lease) and committed; the PG is asked with no transaction open; then, with
  the order locked again, the answer is applied. A refusal marks the refund `failed` with the PG's reason and
  changes nothing else. No answer leaves it `transmitted`; `refunds_reconcile` (celery beat) asks again with the
  same Idempotency-Key, so a cancel that did reach the PG is answered, not repeated.
- Bank transfer: no gateway. The refund waits `created` until the admin transferred the money and confirms it with
  the account paid back to (`refund_bank_confirm`).
- Done (`_complete`, under the order lock): the ledger books each line's refund and its payment back, fully refunded
  lines lose their entitlement at once (downloads and signed links made before answer 403), the payment and the
  order move to (partially) refunded, and buyer and provider are e-mailed after commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

import rules
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can, is_platform_admin
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.notify import email_on_commit, site_url
from core.text import lazy_percent
from core.transitions import transition
from transactions import ledger
from transactions.apiplans import plans
from transactions.documents import services as documents
from transactions.models import Entitlement, Order, OrderItem, Payment, PaymentEvent, Refund, RefundLine, RefundRequest
from transactions.payments.gateway import (
    GatewayDeclined,
    GatewayPayment,
    GatewayUnavailable,
    Status,
    get_card_gateway,
)
from transactions.refunds import policy
from transactions.services import subscriptions
from transactions.vouchers import services as vouchers

logger = logging.getLogger(__name__)

O, P, R, RQ = Order.State, Payment.State, Refund.State, RefundRequest.State
REFUNDABLE_PAYMENT_STATES = (P.DONE, P.PARTIALLY_REFUNDED)

rules.set_perm("transactions.refund", is_platform_admin)


def _require_admin(actor) -> None:
    if not can(actor, "transactions.refund"):
        raise NotAllowed(_("Only a platform admin can refund an order or decide on a refund request."))


def _required(text: str, message) -> str:
    text = (text or "").strip()
    if not text:
        raise DomainError(message, code="reason_required")
    return text


def _account(account: dict | None) -> dict:
    account = account or {}
    return {
        "refund_bank": (account.get("bank") or "").strip()[:40],
        "refund_account_number": (account.get("number") or "").strip()[:40],
        "refund_account_holder": (account.get("holder") or "").strip()[:100],
    }


def _locked_order(order: Order | int) -> Order:
    return Order.objects.select_for_update().get(pk=getattr(order, "pk", order))


def _event(kind: str, refund: Refund, **data) -> PaymentEvent:
    return PaymentEvent.objects.create(
        order_id=refund.order_id, payment_id=refund.payment_id, kind=kind, data={"refund": refund.pk, **data}
    )


# --- recording a refund --------------------------------------------------------------------------------


def _plan(order: Order, lines: dict[int, int] | None) -> list[tuple[OrderItem, int, int]]:
    """The lines and amounts to give back (None: everything left of every line), checked against what refunds not
    failed already hold, each with its voucher share (`ledger.voucher_share`, counted from what those refunds hold:
    the rest goes back through the payment). Called with the order locked: two refunds at once cannot both pass
    this check, which keeps the refunds of an order within its total (the column constraint it replaces)."""
    items = {item.pk: item for item in order.items.all()}
    held = policy.committed(items.values())
    plan = _amounts(items, held, lines)
    held_voucher = policy.committed_voucher(items.values())
    return [
        (
            item,
            amount,
            ledger.voucher_share(
                total_krw=item.total_krw,
                voucher_krw=item.voucher_krw,
                before_krw=held.get(item.pk, 0),
                voucher_before_krw=held_voucher.get(item.pk, 0),
                amount_krw=amount,
            ),
        )
        for item, amount in plan
    ]


def _amounts(items: dict[int, OrderItem], held: dict[int, int], lines: dict[int, int] | None):
    if lines is None:
        plan = [(item, policy.remaining(item, held)) for item in items.values()]
        plan = [(item, amount) for item, amount in plan if amount > 0]
    else:
        plan = []
        for item_id, amount in lines.items():
            item = items.get(int(item_id))
            if item is None:
                raise DomainError(_("This line is not part of the order."), code="refund_line")
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise DomainError(_("Refund amounts are whole won."), code="refund_amount")
            if amount == 0:
                continue
            left = policy.remaining(item, held)
            if amount < 0 or amount > left:
                raise DomainError(
                    lazy_percent(
                        _("“%(title)s”: a refund must be more than 0 and at most the %(left)s won left of the line."),
                        {"title": item.title, "left": f"{left:,}"},
                    ),
                    code="refund_amount",
                )
            plan.append((item, amount))
    if not plan:
        raise DomainError(_("Nothing is left to refund on this order."), code="nothing_to_refund")
    return plan


def _record(
    *,
    order: Order,
    actor,
    reason: str,
    lines: dict[int, int] | None,
    source: str,
    account: dict | None = None,
    request: RefundRequest | None = None,
) -> Refund:
    """The refund and its lines, inside the caller's transaction with the order locked."""
    if order.state not in policy.REFUNDABLE_ORDER_STATES:
        raise DomainError(_("Only a paid order can be refunded."), code="order_not_refundable")
    no_payment = DomainError(_("This order has no payment to refund (a free order moves no money)."), code="no_payment")
    payment = order.payments.select_for_update().filter(state__in=REFUNDABLE_PAYMENT_STATES).first()
    # The buyer's share may all be back already (the payment refunded) while some of the voucher's share is left
    # (its share is rounded down, so the last won of a line are the voucher's): that part moves no money through
    # the payment, so it is refunded against the refunded payment (the own-part cap below keeps it at 0).
    spent = None
    if payment is None:
        spent = order.payments.select_for_update().filter(state=P.REFUNDED).order_by("-pk").first()
        if spent is None:
            raise no_payment
    plan = _plan(order, lines)
    amount = sum(amount for _item, amount, _voucher in plan)
    voucher = sum(voucher for _item, _amount, voucher in plan)
    if payment is None:
        if amount != voucher:
            raise no_payment
        payment = spent
    # The buyer never gets back through the payment more than it paid with it (its own part, Order.due_krw).
    own_held = payment.refunds.filter(state__in=policy.HOLDING).aggregate(
        total=Sum(F("amount_krw") - F("voucher_krw"))
    )["total"]
    if (own_held or 0) + amount - voucher > payment.amount_krw:
        raise DomainError(_("This refund would give back more than was paid."), code="refund_amount")
    details = _account(account)
    if payment.method != Order.Method.BANK_TRANSFER:
        details = _account(None)
    refund = Refund.objects.create(
        order=order,
        payment=payment,
        request=request,
        source=source,
        amount_krw=amount,
        voucher_krw=voucher,
        reason=reason[:1000],
        requested_by=request.requested_by if request else None,
        created_by=actor,
        **details,
    )
    RefundLine.objects.bulk_create(
        RefundLine(refund=refund, order_item=item, amount_krw=a, voucher_krw=v) for item, a, v in plan
    )
    audit(
        actor=actor,
        action="refund.created",
        obj=refund,
        organization_id=order.buyer_id,
        reason=refund.reason,
        data={
            "order": order.number,
            "amount": amount,
            "voucher": voucher,
            "source": source,
            "method": payment.method,
            "lines": {str(item.pk): a for item, a, _v in plan},
        },
    )
    return refund


def refund_create(
    *, actor, order: Order, reason: str, lines: dict[int, int] | None = None, account: dict | None = None
) -> Refund:
    """A platform admin refunds a paid order: fully (`lines` None: everything left) or `{order_item_id: won}`.

    Card: the PG is asked at once (no lock held meanwhile); returns the refund `done`, or raises DomainError when the
    PG refused (the refund is `failed`, nothing else changed) or did not answer (`transmitted`: the reconciliation
    finishes it). Bank transfer: returns the refund `created`; `account` ({bank, number, holder}) may name where the
    money goes back already, and refund_bank_confirm marks it done once transferred.
    """
    _require_admin(actor)
    reason = _required(reason, _("Write why the order is refunded."))
    with transaction.atomic():
        refund = _record(
            order=_locked_order(order),
            actor=actor,
            reason=reason,
            lines=lines,
            source=Refund.Source.ADMIN,
            account=account,
        )
    return _carry_out(refund, actor=actor)


def _carry_out(refund: Refund, *, actor) -> Refund:
    if not refund.own_krw:
        return _complete_without_money(refund.pk, actor=actor)  # all of it goes back to the voucher
    if refund.payment.method == Order.Method.CARD:
        return _transmit(refund.pk, actor=actor, source="admin")
    return refund  # bank transfer: the admin transfers the money, then refund_bank_confirm


def refund_send(*, actor, refund: Refund) -> Refund:
    """A platform admin asks the PG again now about a card refund left `created` or `transmitted` (the reconciliation
    would, within a few minutes): the same Idempotency-Key, so the PG never refunds twice."""
    _require_admin(actor)
    if refund.payment.method != Order.Method.CARD:
        raise DomainError(_("Only a card refund is sent to the payment company."), code="not_card")
    return _transmit(refund.pk, actor=actor, source="admin")


@transaction.atomic
def _complete_without_money(refund_pk: int, *, actor) -> Refund:
    """A refund whose whole amount is the voucher's share (a line the voucher paid in full): nothing goes back
    through the payment, so there is no PG call nor transfer to wait for; it is done at once."""
    order = _locked_order(Refund.objects.values_list("order_id", flat=True).get(pk=refund_pk))
    refund = Refund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund_pk)
    if refund.state == R.CREATED and not refund.own_krw:
        _complete(order, refund, actor=actor, data={"voucher_only": True})
    return refund


# --- card: intent, call, finish ---------------------------------------------------------------------------


@dataclass
class _Claim:
    refund: Refund | None = None
    ask_pg: bool = False


@dataclass
class _Answer:
    result: GatewayPayment | None = None
    declined: GatewayDeclined | None = None
    unavailable: GatewayUnavailable | None = None
    events: list = field(default_factory=list)


def _lease_is_fresh(refund: Refund) -> bool:
    started = refund.transmitted_at
    return started is not None and started > timezone.now() - timedelta(seconds=settings.PAYMENT_CONFIRM_LEASE_SECONDS)


@transaction.atomic
def _claim(refund_pk: int, *, skip_locked: bool) -> _Claim:
    """Step 1: with the order locked, the refund `transmitted` with a fresh lease (committed when this returns)."""
    order_pk = Refund.objects.values_list("order_id", flat=True).get(pk=refund_pk)
    order = Order.objects.select_for_update(skip_locked=skip_locked).filter(pk=order_pk).first()
    if order is None:
        return _Claim()  # busy elsewhere (the reconciliation comes back)
    refund = Refund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund_pk)
    if refund.state == R.CREATED and not refund.own_krw:
        _complete(order, refund, actor=None, data={"voucher_only": True})  # nothing to ask the PG for
        return _Claim(refund=refund)
    if refund.state == R.CREATED:
        refund.transmitted_at = timezone.now()
        transition(refund, to=R.TRANSMITTED, actor=None, fields=("transmitted_at",))
    elif refund.state == R.TRANSMITTED and not _lease_is_fresh(refund):
        refund.transmitted_at = timezone.now()  # a request that died, or the PG did not answer: ask again
        refund.save(update_fields=["transmitted_at"])
    else:
        return _Claim(refund=refund)  # finished, or another request is asking the PG right now
    _event(
        "refund_requested",
        refund,
        amount=refund.own_krw,
        voucher=refund.voucher_krw,
        idempotency_key=str(refund.idempotency_key),
        full=_is_full(refund),
    )
    return _Claim(refund=refund, ask_pg=True)


def _is_full(refund: Refund) -> bool:
    """The whole payment at once: Toss cancels in full when cancelAmount is omitted. Decided by the refund's own
    figures, so a repeated call (same Idempotency-Key) always carries the same body. Only the buyer's share goes to
    the PG (the voucher's never went through it)."""
    return refund.own_krw == refund.payment.amount_krw


def _tax_free_part(refund: Refund) -> int:
    """The tax-free part of what the PG gives back: the buyer's share of the 면세 lines."""
    total = refund.lines.filter(order_item__tax_free=True).aggregate(total=Sum(F("amount_krw") - F("voucher_krw")))
    return int(total["total"] or 0)


def _ask_pg(gateway, refund: Refund) -> _Answer:
    """Step 2: the network call. No transaction is open here (asserted)."""
    assert not transaction.get_connection().in_atomic_block, "never call the PG inside a transaction"
    answer = _Answer()
    full = _is_full(refund)
    try:
        answer.result = gateway.cancel(
            refund.payment.payment_key,
            None if full else refund.own_krw,
            refund.reason[:200],
            str(refund.idempotency_key),
            tax_free_amount=0 if full else _tax_free_part(refund),
        )
    except GatewayUnavailable as exc:
        answer.unavailable = exc
    except GatewayDeclined as exc:
        answer.declined = exc
    return answer


def _transmit(refund_pk: int, *, actor, source: str, skip_locked: bool = False) -> Refund:
    claim = _claim(refund_pk, skip_locked=skip_locked)
    if not claim.ask_pg:
        if claim.refund is None:
            raise DomainError(_("This refund is being processed. Look again in a moment."), code="refund_busy")
        return claim.refund
    gateway = get_card_gateway()
    answer = _ask_pg(gateway, claim.refund)
    refund, error = _finish(refund_pk, answer, actor=actor, source=source, lease=claim.refund.transmitted_at)
    if error is not None:
        raise error
    return refund


@transaction.atomic
def _finish(refund_pk: int, answer: _Answer, *, actor, source: str, lease):
    """Step 3: with the order locked again, the PG's answer applied to the refund as it is now."""
    order = _locked_order(Refund.objects.values_list("order_id", flat=True).get(pk=refund_pk))
    refund = Refund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund_pk)
    if refund.state != R.TRANSMITTED:
        return refund, None  # another request (or the reconciliation) finished it meanwhile
    if answer.unavailable is not None:
        exc = answer.unavailable
        _event("refund_unavailable", refund, source=source, **exc.as_event())
        if refund.transmitted_at == lease:
            refund.transmitted_at = None  # our lease ends: the reconciliation asks again (same Idempotency-Key)
            refund.save(update_fields=["transmitted_at"])
        return refund, DomainError(
            _(
                "The payment company did not answer. The refund was sent and is checked again automatically; "
                "the money goes back at most once."
            ),
            code="pg_unavailable",
        )
    if answer.declined is not None:
        exc = answer.declined
        _event("refund_declined", refund, source=source, **exc.as_event())
        return refund, _failed(refund, code=exc.code, message=exc.pg_message or str(exc.message), raw=exc.raw)
    result = answer.result
    _event("refund_answer", refund, source=source, status=result.gateway_status, body=result.raw)
    refund.gateway_status, refund.gateway_response = result.gateway_status, result.raw
    if result.status not in (Status.CANCELLED, Status.PARTIALLY_CANCELLED):
        return refund, _failed(
            refund,
            code=result.gateway_status or "NOT_CANCELLED",
            message=f"the payment is {result.gateway_status} at the PG, not cancelled",
            raw=result.raw,
        )
    _complete(order, refund, actor=actor, data={"source": source, "status": result.gateway_status})
    return refund, None


def _failed(refund: Refund, *, code: str, message: str, raw: dict) -> DomainError:
    """The PG refused: the refund ends `failed` with its reason; the ledger, the entitlements, the payment and the
    order stay as they were."""
    refund.failure_code = (code or "")[:80]
    refund.failure_message = (message or "")[:500]
    refund.gateway_response = raw or refund.gateway_response
    refund.failed_at = timezone.now()
    transition(
        refund,
        to=R.FAILED,
        actor=None,
        reason=refund.failure_message,
        fields=("failure_code", "failure_message", "gateway_status", "gateway_response", "failed_at"),
    )
    return DomainError(
        lazy_percent(
            _("The payment company refused the refund: %(reason)s Nothing was refunded and access is unchanged."),
            {"reason": refund.failure_message},
        ),
        code="refund_declined",
    )


# --- done --------------------------------------------------------------------------------------------------


def _complete(order: Order, refund: Refund, *, actor, data: dict | None = None) -> None:
    """The money is back (order and refund locked by the caller): book it, end access to the lines refunded in full,
    move payment and order, tell buyer and provider (after commit)."""
    now = timezone.now()
    refund.done_at = now
    transition(
        refund,
        to=R.DONE,
        actor=actor,
        fields=("done_at", "gateway_status", "gateway_response", "confirmed_by", "transfer_reference", *_ACCOUNT),
        data={"order": order.number, "amount": refund.amount_krw, "voucher": refund.voucher_krw, **(data or {})},
    )
    memo = f"refund {refund.pk} of order {order.number}"
    if refund.voucher_krw:
        # Before the ledger: this locks the voucher row, which the agency's settlement holds while it books, so
        # the receivable read by record_refund cannot be settled meanwhile.
        vouchers.voucher_return_for_refund(refund=refund, actor=actor)
    revoked = []
    for line in refund.lines.select_related("order_item__order", "order_item__seller"):
        item = line.order_item
        booked = ledger.record_refund(
            item=item,
            amount_krw=line.amount_krw,
            voucher_krw=line.voucher_krw,
            payment=refund.payment,
            actor=actor,
            memo=memo,
        )
        line.ledger_transaction = booked
        line.save(update_fields=["ledger_transaction"])
        # The cancelling document (마이너스) of this line's refund, for its supplier, in the same transaction.
        documents.document_issue_for(booked)
        if line.own_krw:  # the buyer's share went back through the payment (the voucher's is booked above)
            ledger.record_refund_paid(
                item=item, amount_krw=line.own_krw, payment=refund.payment, actor=actor, memo=memo
            )
        if ledger.refunded_on(item) >= item.total_krw:
            entitlement = Entitlement.objects.select_for_update().filter(order_item=item, revoked_at=None).first()
            if entitlement is not None:
                entitlement.revoked_at = now
                entitlement.save(update_fields=["revoked_at"])
                audit(
                    actor=actor,
                    action="entitlement.revoked",
                    obj=entitlement,
                    organization_id=order.buyer_id,
                    reason=refund.reason,
                    data={"order": order.number, "refund": refund.pk, "line": item.pk},
                )
                subscriptions.subscription_period_refunded(entitlement=entitlement, actor=actor, now=now)
                plans.plan_refunded(entitlement=entitlement, actor=actor, now=now)
                revoked.append(item)
    payment = Payment.objects.select_for_update().get(pk=refund.payment_id)
    if refund.own_krw:  # what went back through this payment (a refund only of the voucher's share moved none)
        back = payment.refunds.filter(state=R.DONE).aggregate(total=Sum(F("amount_krw") - F("voucher_krw")))["total"]
        transition(
            payment,
            to=P.REFUNDED if (back or 0) >= payment.amount_krw else P.PARTIALLY_REFUNDED,
            actor=actor,
            data={"refund": refund.pk, "refunded": back or 0},
        )
    if order.refunded_krw >= order.total_krw and order.state != O.REFUNDED:
        transition(order, to=O.REFUNDED, actor=actor, reason=refund.reason, data={"number": order.number})
    documents.cash_receipt_cancel_record(refund)  # its 현금영수증 cancelled at the PG after commit (same transaction)
    _notify_done(order, refund, revoked)


_ACCOUNT = ("refund_bank", "refund_account_number", "refund_account_holder")


def _notify_done(order: Order, refund: Refund, revoked: list[OrderItem]) -> None:
    lines = list(refund.lines.select_related("order_item__seller", "order_item__version"))
    context = {
        "order": order,
        "refund": refund,
        "lines": lines,
        "revoked": revoked,
        "url": site_url(reverse("transactions:order", args=[order.number])),
    }
    email_on_commit(
        to=[order.placed_by.email, order.billing_email, refund.requested_by.email if refund.requested_by else ""],
        template="email/refund_done",
        context=context,
    )
    by_seller: dict[int, list[RefundLine]] = {}
    for line in lines:
        by_seller.setdefault(line.order_item.seller_id, []).append(line)
    for seller_lines in by_seller.values():
        seller = seller_lines[0].order_item.seller
        contacts = [seller.contact_email] + [
            line.order_item.version.contact_email for line in seller_lines if line.order_item.version
        ]
        email_on_commit(
            to=contacts,
            template="email/refund_done_provider",
            context={**context, "seller": seller, "lines": seller_lines},
        )


# --- bank transfer ------------------------------------------------------------------------------------------


def refund_bank_confirm(
    *, actor, refund: Refund, bank: str, account_number: str, holder: str, reference: str = ""
) -> Refund:
    """A platform admin transferred a bank-transfer order's refund: the account paid back to is recorded and the
    refund is done. Once only (a second confirmation returns the refund as it is)."""
    _require_admin(actor)
    account = _account({"bank": bank, "number": account_number, "holder": holder})
    if not all(account.values()):
        raise DomainError(
            _("Write the bank, the account number and the account holder the money was paid back to."),
            code="refund_account_required",
        )
    with transaction.atomic():
        order = _locked_order(refund.order_id)
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund.pk)
        if refund.state == R.DONE:
            return refund
        if refund.payment.method != Order.Method.BANK_TRANSFER or refund.state != R.CREATED:
            raise DomainError(
                _("Only a bank-transfer refund waiting for its transfer can be confirmed."), code="not_bank"
            )
        for name, value in account.items():
            setattr(refund, name, value)
        refund.transfer_reference = (reference or "").strip()[:100]
        refund.confirmed_by = actor
        _complete(order, refund, actor=actor, data={"bank": account["refund_bank"]})
    return refund


def refund_withdraw(*, actor, refund: Refund, reason: str) -> Refund:
    """A platform admin takes back a bank-transfer refund not transferred yet (made by mistake): it ends `failed`
    with the reason, and the lines it held may be refunded again."""
    _require_admin(actor)
    reason = _required(reason, _("Write why the refund is withdrawn."))
    with transaction.atomic():
        _locked_order(refund.order_id)
        refund = Refund.objects.select_for_update(of=("self",)).select_related("payment").get(pk=refund.pk)
        if refund.state != R.CREATED or refund.payment.method != Order.Method.BANK_TRANSFER:
            raise DomainError(
                _("Only a bank-transfer refund waiting for its transfer can be withdrawn."), code="not_bank"
            )
        refund.failure_code, refund.failure_message, refund.failed_at = "WITHDRAWN", reason[:500], timezone.now()
        transition(
            refund, to=R.FAILED, actor=actor, reason=reason, fields=("failure_code", "failure_message", "failed_at")
        )
    return refund


# --- the buyer's request ---------------------------------------------------------------------------------------


def refund_request(
    *, actor, order: Order, item_ids: list[int], kind: str, reason: str, account: dict | None = None
) -> RefundRequest:
    """A buyer of the organization asks for order lines back, within the refund policy (policy.py, and the page that
    states it). Bank-transfer orders name the account to pay back to. One open request per order."""
    if not can(actor, "accounts.buy_for_org", order.buyer):
        raise NotAllowed(_("Only a buyer of the organization that placed this order can ask for a refund."))
    if kind not in RefundRequest.Kind.values:
        raise DomainError(_("Choose why you ask for a refund."), code="refund_kind")
    reason = _required(reason, _("Write why you ask for a refund."))
    ids = {int(pk) for pk in item_ids}
    if not ids:
        raise DomainError(_("Choose the lines to refund."), code="refund_lines")
    with transaction.atomic():
        order = _locked_order(order)
        items = list(order.items.filter(pk__in=ids))
        if len(items) != len(ids):
            raise DomainError(_("This line is not part of the order."), code="refund_line")
        if order.refund_requests.filter(state=RQ.REQUESTED).exists():
            raise DomainError(
                _("A refund request of this order is waiting for a decision already."), code="request_open"
            )
        held = policy.committed(items)
        for item in items:
            problem = policy.request_problem(order, item, kind, held=held)
            if problem is not None:
                raise DomainError(
                    lazy_percent(_("“%(title)s”: %(problem)s"), {"title": item.title, "problem": problem}),
                    code="outside_policy",
                )
        details = _account(account)
        if order.method == Order.Method.BANK_TRANSFER:
            if not all(details.values()):
                raise DomainError(
                    _("Write the bank, the account number and the account holder to pay the refund back to."),
                    code="refund_account_required",
                )
        else:
            details = _account(None)
        request = RefundRequest.objects.create(
            order=order, kind=kind, reason=reason[:1000], requested_by=actor, **details
        )
        request.items.set(items)
        audit(
            actor=actor,
            action="refund_request.requested",
            obj=request,
            organization_id=order.buyer_id,
            reason=request.reason,
            data={"order": order.number, "kind": kind, "lines": sorted(ids)},
        )
    return request


def _locked_request(request: RefundRequest) -> tuple[Order, RefundRequest]:
    order = _locked_order(request.order_id)
    request = RefundRequest.objects.select_for_update().get(pk=request.pk)
    if request.state != RQ.REQUESTED:
        raise DomainError(
            lazy_percent(_("This request was decided already: %(state)s."), {"state": request.get_state_display()}),
            code="request_decided",
        )
    return order, request


def refund_request_approve(*, actor, request: RefundRequest, note: str = "") -> Refund:
    """A platform admin grants a buyer's request: the refund of the requested lines (what is left of each) is made
    and, for a card payment, sent to the PG at once. Two admins at once: one decides, the other is told."""
    _require_admin(actor)
    with transaction.atomic():
        order, request = _locked_request(request)
        request.decided_by, request.decided_at = actor, timezone.now()
        request.decision_reason = (note or "").strip()[:1000]
        transition(
            request,
            to=RQ.APPROVED,
            actor=actor,
            reason=request.decision_reason,
            fields=("decided_by", "decided_at", "decision_reason"),
            data={"order": order.number},
        )
        held = policy.committed(request.items.all())
        lines = {item.pk: policy.remaining(item, held) for item in request.items.all()}
        refund = _record(
            order=order,
            actor=actor,
            reason=request.reason,
            lines=lines,
            source=Refund.Source.BUYER,
            request=request,
            account={
                "bank": request.refund_bank,
                "number": request.refund_account_number,
                "holder": request.refund_account_holder,
            },
        )
    return _carry_out(refund, actor=actor)


def refund_request_refuse(*, actor, request: RefundRequest, reason: str) -> RefundRequest:
    """A platform admin refuses a buyer's request, saying why (the buyer is e-mailed the reason)."""
    _require_admin(actor)
    reason = _required(reason, _("Write why the request is refused: the buyer reads it."))
    with transaction.atomic():
        order, request = _locked_request(request)
        request.decided_by, request.decided_at, request.decision_reason = actor, timezone.now(), reason[:1000]
        transition(
            request,
            to=RQ.REFUSED,
            actor=actor,
            reason=reason,
            fields=("decided_by", "decided_at", "decision_reason"),
            data={"order": order.number},
        )
        email_on_commit(
            to=[request.requested_by.email, order.placed_by.email],
            template="email/refund_request_refused",
            context={
                "order": order,
                "request": request,
                "url": site_url(reverse("transactions:order", args=[order.number])),
            },
        )
    return request


# --- reconciliation (celery beat) ----------------------------------------------------------------------------


def refunds_reconcile(*, limit: int = 200) -> dict:
    """Finish the card refunds no request finished: `transmitted` ones whose lease ran out (the process died during
    the call, or the PG did not answer) and `created` ones never sent (the process died after recording them), older
    than PAYMENT_RECONCILE_AFTER_SECONDS. The PG is asked with the refund's own Idempotency-Key, so a cancel that
    reached it before is answered with its first answer, never made twice. Rows busy elsewhere are skipped. Returns
    counts by outcome."""
    cutoff = timezone.now() - timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    due = Refund.objects.filter(payment__method=Order.Method.CARD).filter(
        Q(state=R.TRANSMITTED) & (Q(transmitted_at__isnull=True) | Q(transmitted_at__lt=cutoff))
        | Q(state=R.CREATED, created_at__lt=cutoff)
    )
    counts: dict[str, int] = {}
    for pk in list(due.order_by("pk").values_list("pk", flat=True)[:limit]):
        try:
            outcome = _transmit(pk, actor=None, source="reconcile", skip_locked=True).state
        except DomainError as exc:
            outcome = exc.code
        except Exception:  # one bad row must not stop the others; it is logged and tried again next run
            logger.exception("reconciling refund %s failed", pk)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
