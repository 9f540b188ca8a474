"""Payments: every write about paying an order. One function per use case.

Card (a PG in the Toss shape, transactions/payments/gateway.py):
    card_checkout_start → the buyer pays in the PG's window → the success URL and the webhook both end in
    card_payment_confirm, which locks the order row, checks the amount against the order *before* asking
    the PG, confirms with the payment's Idempotency-Key, and marks the order paid once.
Bank transfer (무통장입금, transactions/payments/bank.py):
    bank_transfer_start → the buyer pays into the account → an admin calls bank_transfer_confirm.

Idempotency and concurrency: each confirmation holds the order's row lock (select_for_update) from its
first check to its last write, including the PG call (bounded by PG_TIMEOUT_SECONDS), so concurrent
confirmations of one order run one after the other and every later one finds the order paid. A payment
key maps to one Payment row (unique), so a repeated callback or a late webhook finds its row; a second,
different card payment for a paid order is never confirmed at the PG (its authorisation lapses, the card
is not charged); the database allows one `done` Payment per order. Every request, answer and refusal is
a PaymentEvent, written in the same transaction as the decision it led to and kept when the use case
refuses (refusals return from the locked block first, then raise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

import rules
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import DomainError, NotAllowed
from accounts.permissions import can, is_platform_admin
from core.audit import audit
from transactions.models import Order, Payment, PaymentEvent
from transactions.payments import bank
from transactions.payments.gateway import (
    GatewayAlreadyProcessed,
    GatewayDeclined,
    GatewayUnavailable,
    Status,
    WebhookNotice,
    get_card_gateway,
)
from core.transitions import transition

logger = logging.getLogger(__name__)

O, P = Order.State, Payment.State
PAYABLE = (O.PENDING, O.AWAITING_PAYMENT)

rules.set_perm("transactions.confirm_bank_transfer", is_platform_admin)


def _event(kind: str, *, order=None, payment=None, **data) -> PaymentEvent:
    return PaymentEvent.objects.create(order=order, payment=payment, kind=kind, data=data)


def _require_buyer(actor, order: Order) -> None:
    if not can(actor, "accounts.buy_for_org", order.buyer):
        raise NotAllowed(_("Only a buyer of the organization that placed this order can pay for it."))


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def _await_payment(order: Order, *, method: str, due) -> None:
    """pending → awaiting_payment, or a change of payment method while awaiting payment."""
    order.method = method
    if order.payment_due_at is None or order.payment_due_at < due:
        order.payment_due_at = due
    if order.state == O.PENDING:
        transition(order, to=O.AWAITING_PAYMENT, actor=None, fields=("method", "payment_due_at"))
    else:
        order.save(update_fields=["method", "payment_due_at", "updated_at"])


def _not_payable_message(order: Order) -> str:
    if order.state in (O.PAID, O.FULFILLED):
        return _("Order %(number)s is already paid.") % {"number": order.number}
    return _("Order %(number)s can no longer be paid: it is %(state)s.") % {
        "number": order.number, "state": order.get_state_display()}


def _mark_paid(order: Order, payment: Payment) -> None:
    """The one way an order becomes paid here: other waiting attempts are closed, then order_mark_paid."""
    from transactions.services.orders import order_mark_paid

    for other in order.payments.select_for_update().filter(state=P.READY).exclude(pk=payment.pk):
        transition(other, to=P.CANCELLED, actor=None)
        _event("superseded", order=order, payment=other, by_payment=payment.pk)
    if order.method != payment.method:
        order.method = payment.method
        order.save(update_fields=["method", "updated_at"])
    order_mark_paid(order=order, payment=payment)


# --- card -------------------------------------------------------------------------------

def _locked_payable(actor, order: Order) -> Order:
    """The order locked for a payment to start: the actor's organization's, payable now, and not free."""
    order = _locked(order)
    _require_buyer(actor, order)
    if order.state not in PAYABLE:
        raise DomainError(_not_payable_message(order), code="order_not_payable")
    if order.total_krw <= 0:
        raise DomainError(_("A free order needs no payment."), code="order_free")
    return order


def card_checkout_start(*, actor, order: Order, site_url: str | None = None) -> str:
    """The URL of the PG's payment window for this order (the buyer's browser is sent there).

    ``site_url``: where the PG sends the browser back (scheme and host the buyer is using; default
    SITE_URL). Reuses the order's open card attempt, so a double click opens one attempt.
    """
    from django.urls import reverse

    gateway = get_card_gateway()
    base = (site_url or settings.SITE_URL).rstrip("/")
    with transaction.atomic():
        order = _locked_payable(actor, order)
        _await_payment(order, method=Order.Method.CARD,
                       due=timezone.now() + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES))
        payment = order.payments.filter(method=Order.Method.CARD, state=P.READY, payment_key__isnull=True).first()
        if payment is None:
            payment = Payment.objects.create(order=order, method=Order.Method.CARD, adapter=gateway.name,
                                             amount_krw=order.total_krw)
        url = gateway.checkout_url(order, base + reverse("transactions:payment_card_success"),
                                   base + reverse("transactions:payment_card_fail"))
        _event("checkout_started", order=order, payment=payment, actor=actor.email, amount=order.total_krw, url=url)
    return url


@dataclass
class _Outcome:
    payment: Payment | None = None
    error: DomainError | None = None


def card_payment_confirm(*, order_number: str, payment_key: str, amount: int, source: str = "redirect") -> Payment:
    """Confirm a card payment the PG authorised (success URL) or reports (webhook). Idempotent, concurrency-safe.

    Raises DomainError with a message for the buyer when refused: unknown order, amount mismatch, order not
    payable, declined by the PG (the Payment is then `failed` with the PG's message and the order still
    awaits payment), or the PG unreachable (code "pg_unavailable": nothing changed, a retry is safe).
    """
    gateway = get_card_gateway()
    try:
        amount = int(amount)
    except (TypeError, ValueError):
        amount = -1
    outcome = _confirm_locked(gateway, order_number, payment_key, amount, source)
    if outcome.error is not None:
        raise outcome.error
    return outcome.payment


@transaction.atomic
def _confirm_locked(gateway, order_number: str, payment_key: str, amount: int, source: str) -> _Outcome:
    order = Order.objects.select_for_update().filter(number=order_number).first()
    if order is None:
        _event("unknown_order", order_number=order_number, payment_key=payment_key, amount=amount, source=source)
        return _Outcome(error=DomainError(_("There is no order with this number."), code="unknown_order"))
    payment = Payment.objects.filter(payment_key=payment_key).first()
    if payment is not None and payment.order_id != order.pk:
        _event("key_order_mismatch", order=order, payment_key=payment_key, source=source, key_order=payment.order_id)
        return _Outcome(error=DomainError(_("This payment belongs to another order."), code="key_order_mismatch"))

    done = order.payments.filter(state=P.DONE).first()
    if done is not None:
        if done.payment_key == payment_key:
            _event("confirm_repeated", order=order, payment=done, source=source)
            return _Outcome(payment=done)
        _event("duplicate_refused", order=order, payment=payment, payment_key=payment_key, source=source,
               paid_by=done.pk)
        return _Outcome(error=DomainError(
            _("Order %(number)s is already paid. This second card payment was not confirmed, so the card is not charged.")
            % {"number": order.number}, code="already_paid"))
    if payment is not None and payment.state in (P.FAILED, P.CANCELLED):
        _event("confirm_repeated", order=order, payment=payment, source=source, state=payment.state)
        return _Outcome(error=DomainError(
            _("This card payment did not go through: %(reason)s") % {"reason": payment.failure_message or payment.get_state_display()},
            code="payment_failed"))
    if order.state not in PAYABLE:
        _event("order_not_payable", order=order, payment=payment, payment_key=payment_key, source=source, state=order.state)
        return _Outcome(error=DomainError(_not_payable_message(order), code="order_not_payable"))
    if amount != order.total_krw:
        _event("amount_mismatch", order=order, payment=payment, payment_key=payment_key, source=source,
               amount=amount, expected=order.total_krw)
        audit(actor=None, action="payment.amount_mismatch", obj=order, organization=order.buyer,
              reason=f"{source}: {amount} ≠ {order.total_krw}", data={"payment_key": payment_key, "amount": amount,
                                                                       "expected": order.total_krw, "source": source})
        return _Outcome(error=DomainError(
            _("The amount paid (%(amount)s won) is not the order's total (%(total)s won). The payment was not accepted.")
            % {"amount": f"{amount:,}", "total": f"{order.total_krw:,}"}, code="amount_mismatch"))

    if payment is None:
        payment = order.payments.filter(method=Order.Method.CARD, state=P.READY, payment_key__isnull=True).first()
        if payment is None:
            payment = Payment(order=order, method=Order.Method.CARD, adapter=gateway.name)
        payment.payment_key = payment_key
        payment.amount_krw = order.total_krw
        payment.adapter = gateway.name
        payment.save()

    _event("confirm_requested", order=order, payment=payment, source=source, amount=amount,
           idempotency_key=str(payment.idempotency_key))
    try:
        try:
            result = gateway.confirm(payment_key, order.number, order.total_krw, str(payment.idempotency_key))
        except GatewayAlreadyProcessed as exc:
            # Confirmed before under another key (or our answer was lost): the PG's record decides.
            _event("confirm_answer", order=order, payment=payment, **exc.as_event())
            result = gateway.fetch(payment_key)
    except GatewayUnavailable as exc:
        _event("confirm_unavailable", order=order, payment=payment, **exc.as_event())
        logger.warning("PG unavailable confirming %s: %s", order.number, exc)
        return _Outcome(error=DomainError(exc.message, code="pg_unavailable"))
    except GatewayDeclined as exc:
        _event("confirm_declined", order=order, payment=payment, **exc.as_event())
        return _Outcome(error=_fail(order, payment, code=exc.code, message=exc.pg_message or str(exc.message),
                                    shown=str(exc.message)))

    _event("confirm_answer", order=order, payment=payment, status=result.gateway_status, body=result.raw)
    payment.gateway_status = result.gateway_status
    payment.gateway_response = result.raw
    if result.status != Status.DONE:
        failure = result.raw.get("failure") or {}
        return _Outcome(error=_fail(order, payment, code=failure.get("code") or result.gateway_status,
                                    message=failure.get("message") or result.gateway_status,
                                    shown=_("The payment gateway did not complete the payment.")))
    if result.order_number != order.number or result.amount != order.total_krw:
        # The PG took a different amount (or for another order): never deliver on it; an admin refunds.
        _event("amount_mismatch", order=order, payment=payment, source="pg_answer", amount=result.amount,
               expected=order.total_krw, pg_order=result.order_number)
        audit(actor=None, action="payment.amount_mismatch", obj=order, organization=order.buyer,
              reason=f"PG: {result.amount} ≠ {order.total_krw}",
              data={"payment_key": payment_key, "amount": result.amount, "expected": order.total_krw, "refund_needed": True})
        return _Outcome(error=_fail(order, payment, code="AMOUNT_MISMATCH",
                                    message=f"PG amount {result.amount} ≠ order total {order.total_krw}",
                                    shown=_("The payment gateway reported a different amount. The payment was not accepted; we will refund it.")))

    payment.approved_at = result.approved_at or timezone.now()
    transition(payment, to=P.DONE, actor=None, fields=("gateway_status", "gateway_response", "approved_at"))
    _check_split(order, payment, result)
    _mark_paid(order, payment)
    audit(actor=None, action="payment.card_confirmed", obj=order, organization=order.buyer,
          data={"payment_key": payment_key, "amount": order.total_krw, "source": source, "adapter": gateway.name})
    return _Outcome(payment=payment)


def _fail(order: Order, payment: Payment, *, code: str, message: str, shown: str) -> DomainError:
    payment.failure_code = (code or "")[:80]
    payment.failure_message = (message or "")[:500]
    transition(payment, to=P.FAILED, actor=None, fields=("failure_code", "failure_message", "gateway_status", "gateway_response"))
    return DomainError(
        _("%(shown)s The order is still waiting for payment: you can try again. (%(pg)s)") % {"shown": shown, "pg": message},
        code="payment_declined")


def _check_split(order: Order, payment: Payment, result) -> None:
    """Our 공급가액/부가세 (catalog.pricing) against the PG's; a difference is recorded, ours stays on the receipt."""
    if result.vat is None or result.supplied_amount is None:
        return
    theirs = {"supplied": result.supplied_amount + (result.tax_free_amount or 0), "vat": result.vat}
    ours = {"supplied": order.supply_krw, "vat": order.vat_krw}
    if theirs != ours:
        _event("vat_split_differs", order=order, payment=payment, ours=ours, theirs=theirs)


def card_payment_failed(*, actor, order_number: str, code: str, message: str) -> Order | None:
    """The PG sent the buyer to the fail URL. Logged for a known order; the open attempt is closed when the actor
    is a buyer of that order's organization (the address can be opened by anyone)."""
    with transaction.atomic():
        order = Order.objects.select_for_update().filter(number=order_number).first()
        if order is None:
            return None  # nothing to record against (anyone can open this address)
        _event("redirect_fail", order=order, code=code[:80], message=message[:500])
        if not can(actor, "accounts.buy_for_org", order.buyer):
            return order
        payment = order.payments.filter(method=Order.Method.CARD, state=P.READY, payment_key__isnull=True).first()
        if payment is not None:
            payment.failure_code, payment.failure_message = code[:80], message[:500]
            to = P.CANCELLED if code == "PAY_PROCESS_CANCELED" else P.FAILED
            transition(payment, to=to, actor=actor, fields=("failure_code", "failure_message"))
    return order


def card_payment_webhook(*, notice: WebhookNotice) -> Payment | None:
    """A PG webhook: look the payment up at the PG (webhooks are unsigned) and act on what the PG says.

    DONE or authorised → card_payment_confirm (idempotent: after the redirect it changes nothing; before it,
    it completes the payment). Failed/expired/cancelled at the PG → our open attempt is closed. Raises
    GatewayUnavailable when the PG cannot be asked (the view answers 503 so the PG retries) and DomainError
    when the confirmation is refused (logged; retrying would not help).
    """
    gateway = get_card_gateway()
    existing = Payment.objects.select_related("order").filter(payment_key=notice.payment_key).first()
    order = existing.order if existing else Order.objects.filter(number=notice.order_number).first()
    _event("webhook", order=order, payment=existing, event_type=notice.event_type, status=notice.status,
           trusted=notice.trusted, body=notice.raw)
    try:
        result = gateway.fetch(notice.payment_key)
    except GatewayDeclined as exc:  # the PG does not know this key: a forged or stray notice
        _event("webhook_unknown_payment", order=order, payment=existing, **exc.as_event())
        return None
    _event("fetch_answer", order=order, payment=existing, status=result.gateway_status, body=result.raw)
    if result.status in Status.CONFIRMABLE:
        return card_payment_confirm(order_number=result.order_number, payment_key=result.payment_key,
                                    amount=result.amount, source="webhook")
    if result.status in (Status.FAILED, Status.EXPIRED) and existing is not None:
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=existing.pk)
            if payment.state == P.READY:
                failure = result.raw.get("failure") or {}
                payment.failure_code = (failure.get("code") or result.gateway_status)[:80]
                payment.failure_message = (failure.get("message") or result.gateway_status)[:500]
                payment.gateway_status, payment.gateway_response = result.gateway_status, result.raw
                transition(payment, to=P.FAILED, actor=None, fields=("failure_code", "failure_message", "gateway_status", "gateway_response"))
            return payment
    if result.status in (Status.CANCELLED, Status.PARTIALLY_CANCELLED) and existing is not None and existing.state == P.DONE:
        # Cancelled at the PG (from its console): refunds are their own use case; tell the admins.
        audit(actor=None, action="payment.cancelled_at_pg", obj=existing.order, organization=existing.order.buyer,
              data={"payment_key": existing.payment_key, "balance": result.balance_amount})
    return existing


def card_webhook_refused(*, reason: str, body: bytes) -> None:
    """A webhook we could not use (malformed, unknown event): kept for the admins, answered 400."""
    _event("webhook_refused", reason=reason[:300], body=body[:4000].decode("utf-8", "replace"))


# --- bank transfer ------------------------------------------------------------------------

def bank_transfer_start(*, actor, order: Order) -> Payment:
    """The buyer chooses to pay by bank transfer: the order waits for a deposit until the deadline. Idempotent."""
    with transaction.atomic():
        order = _locked_payable(actor, order)
        payment = order.payments.filter(method=Order.Method.BANK_TRANSFER, state=P.READY).first()
        if payment is not None and order.method == Order.Method.BANK_TRANSFER:
            return payment
        due = bank.deposit_deadline()
        if order.method == Order.Method.BANK_TRANSFER and order.payment_due_at:
            due = order.payment_due_at  # the deadline given at checkout stands
        _await_payment(order, method=Order.Method.BANK_TRANSFER, due=due)
        if payment is None:
            payment = Payment.objects.create(order=order, method=Order.Method.BANK_TRANSFER, adapter=bank.NAME,
                                             amount_krw=order.total_krw)
        account = bank.transfer_account()
        _event("bank_transfer_started", order=order, payment=payment, actor=actor.email, amount=order.total_krw,
               account=str(account), due=order.payment_due_at.isoformat())
    return payment


def bank_transfer_confirm(*, actor, payment: Payment, depositor_name: str, amount_krw: int | None = None) -> Payment:
    """A platform admin saw the deposit: the payment is done and the order paid. Once only; the amount must be the total."""
    if not can(actor, "transactions.confirm_bank_transfer"):
        raise NotAllowed(_("Only a platform admin can confirm a bank transfer."))
    depositor_name = (depositor_name or "").strip()
    if not depositor_name:
        raise DomainError(_("Write the depositor's name as it appears on the bank statement."), code="depositor_required")
    with transaction.atomic():
        order = _locked(payment.order)
        payment = Payment.objects.select_for_update().get(pk=payment.pk)
        if payment.method != Order.Method.BANK_TRANSFER:
            raise DomainError(_("This is not a bank-transfer payment."), code="not_bank_transfer")
        if payment.state == P.DONE:
            return payment  # confirmed already (a double click, a second admin)
        amount = payment.amount_krw if amount_krw is None else int(amount_krw)
        refusal = None
        if order.state not in PAYABLE:
            refusal = DomainError(_not_payable_message(order) + " " + _("If money was deposited, refund it to the depositor."),
                                  code="order_not_payable")
        elif payment.state != P.READY:
            refusal = DomainError(_("This bank transfer was %(state)s; it cannot be confirmed.") % {"state": payment.get_state_display()},
                                  code="payment_not_ready")
        elif amount != order.total_krw:
            refusal = DomainError(
                _("The deposit (%(amount)s won) is not the order's total (%(total)s won). Confirm only a deposit of the exact total; "
                  "contact the buyer about the difference.") % {"amount": f"{amount:,}", "total": f"{order.total_krw:,}"},
                code="amount_mismatch")
            audit(actor=actor, action="payment.amount_mismatch", obj=order, organization=order.buyer,
                  reason=f"bank transfer: {amount} ≠ {order.total_krw}", data={"amount": amount, "expected": order.total_krw})
        if refusal is not None:
            _event("bank_transfer_refused", order=order, payment=payment, actor=actor.email, amount=amount,
                   depositor=depositor_name, reason=refusal.code)
        else:
            payment.depositor_name = depositor_name[:100]
            payment.confirmed_by = actor
            payment.approved_at = timezone.now()
            transition(payment, to=P.DONE, actor=actor, fields=("depositor_name", "confirmed_by", "approved_at"))
            _event("bank_transfer_confirmed", order=order, payment=payment, actor=actor.email, amount=amount,
                   depositor=depositor_name)
            _mark_paid(order, payment)
            audit(actor=actor, action="payment.bank_transfer_confirmed", obj=order, organization=order.buyer,
                  data={"amount": amount, "depositor": depositor_name})
    if refusal is not None:
        raise refusal
    return payment
