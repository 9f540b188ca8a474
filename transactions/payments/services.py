"""Payments: every write about paying an order. One function per use case.

Card (a PG in the Toss shape, transactions/payments/gateway.py):
    card_checkout_start → the buyer pays in the PG's window → the success URL and the webhook both end in
    card_payment_confirm: it checks the amount against the order *before* asking the PG, confirms with the
    payment's Idempotency-Key, and marks the order paid once. card_payments_reconcile (celery beat) finishes
    what no request finished.
Amounts: what the buyer pays is `Order.due_krw` (the total less a 데이터바우처's part, transactions.vouchers); every
amount sent to the PG, checked against its answer or against a deposit is that one.
Bank transfer (무통장입금, transactions/payments/bank.py):
    bank_transfer_start → the buyer pays into the account → an admin calls bank_transfer_confirm.

Idempotency and concurrency: no transaction or row lock is ever held across a call to the PG. A card
confirmation locks the order, checks, and records its intent (the payment `confirming`, with its key, its
Idempotency-Key and a lease: when this request started asking), commits; asks the PG; then locks the order
again, re-reads the payment and finishes it. Concurrent confirmations of the same payment that find a fresh
lease return at once ("being confirmed"); a lease that ran out is taken over with the same Idempotency-Key,
so the PG answers a repeated call with its first answer. The database keeps the guarantees the long lock
used to give: a payment key maps to one Payment row (unique), one `done` Payment per order (a partial unique
index), and the finish step marks the order paid only while it can still be paid; money the PG took for an
order that cannot take it any more (cancelled, paid otherwise) is cancelled at the PG. A second, different
card payment for an order being confirmed or paid is never confirmed at the PG (its authorisation lapses,
the card is not charged). Every request, answer and refusal is a PaymentEvent, written in the same
transaction as the decision it led to and kept when the use case refuses (refusals return from the locked
block first, then raise).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import rules
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can, is_platform_admin
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.text import choice_label, lazy_percent
from core.transitions import transition
from transactions.models import Order, Payment, PaymentEvent
from transactions.payments import bank
from transactions.payments.gateway import (
    GatewayAlreadyProcessed,
    GatewayDeclined,
    GatewayPayment,
    GatewayUnavailable,
    Status,
    WebhookNotice,
    get_card_gateway,
)
from transactions.services import orders

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
        return lazy_percent(_("Order %(number)s is already paid."), {"number": order.number})
    return lazy_percent(
        _("Order %(number)s can no longer be paid: it is %(state)s."),
        {
            "number": order.number,
            "state": choice_label(order, "state"),
        },
    )


def _mark_paid(order: Order, payment: Payment) -> None:
    """The one way an order becomes paid here: other waiting attempts are closed, then order_mark_paid."""
    for other in order.payments.select_for_update().filter(state=P.READY).exclude(pk=payment.pk):
        transition(other, to=P.CANCELLED, actor=None)
        _event("superseded", order=order, payment=other, by_payment=payment.pk)
    if order.method != payment.method:
        order.method = payment.method
        order.save(update_fields=["method", "updated_at"])
    orders.order_mark_paid(order=order, payment=payment)


# --- card -------------------------------------------------------------------------------


def _locked_payable(actor, order: Order) -> Order:
    """The order locked for a payment to start: the actor's organization's, payable now, and not free."""
    order = _locked(order)
    _require_buyer(actor, order)
    if order.state not in PAYABLE:
        raise DomainError(_not_payable_message(order), code="order_not_payable")
    if order.total_krw <= 0:
        raise DomainError(_("A free order needs no payment."), code="order_free")
    if order.due_krw <= 0:  # a voucher never pays a whole order (a constraint); guarded all the same
        raise DomainError(_("A data voucher cannot pay a whole order."), code="voucher_whole")
    return order


def card_checkout_start(*, actor, order: Order, site_url: str | None = None) -> str:
    """The URL of the PG's payment window for this order (the buyer's browser is sent there).

    ``site_url``: where the PG sends the browser back (scheme and host the buyer is using; default
    SITE_URL). Reuses the order's open card attempt, so a double click opens one attempt.
    """
    gateway = get_card_gateway()
    base = (site_url or settings.SITE_URL).rstrip("/")
    with transaction.atomic():
        order = _locked_payable(actor, order)
        _await_payment(
            order,
            method=Order.Method.CARD,
            due=timezone.now() + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES),
        )
        payment = order.payments.filter(method=Order.Method.CARD, state=P.READY, payment_key__isnull=True).first()
        if payment is None:
            payment = Payment.objects.create(
                order=order, method=Order.Method.CARD, adapter=gateway.name, amount_krw=order.due_krw
            )
        url = gateway.checkout_url(
            order, base + reverse("transactions:payment_card_success"), base + reverse("transactions:payment_card_fail")
        )
        _event("checkout_started", order=order, payment=payment, actor=actor.email, amount=order.due_krw, url=url)
    return url


@dataclass
class _Claim:
    payment: Payment | None = None
    error: DomainError | None = None
    ask_pg: bool = False  # this request holds the lease: it asks the PG and finishes


@dataclass
class _Answer:
    """What the PG said to one confirm call (exactly one of result / declined / unavailable)."""

    events: list = field(default_factory=list)  # (kind, data) recorded with the decision they lead to
    result: GatewayPayment | None = None
    declined: GatewayDeclined | None = None
    unavailable: GatewayUnavailable | None = None


@dataclass
class _Outcome:
    payment: Payment | None = None
    error: DomainError | None = None
    void: bool = False  # the PG took money the order cannot take: cancel it at the PG (outside the transaction)


def _amount(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def card_payment_confirm(*, order_number: str, payment_key: str, amount: int, source: str = "redirect") -> Payment:
    """Confirm a card payment the PG authorised (success URL) or reports (webhook). Idempotent, concurrency-safe.

    Three steps, and no transaction or row lock is open while the PG is asked: (1) with the order locked, check
    and record the intent (the payment `confirming`, its key and Idempotency-Key, the lease's start), commit;
    (2) ask the PG with that Idempotency-Key; (3) with the order locked again, re-read and finish.

    Returns the payment: `done`, or still `confirming` when another request is asking the PG right now (the
    caller says "being confirmed"; see _claim). Raises DomainError with a message for the buyer when refused:
    unknown order, amount mismatch, order not payable, declined by the PG (the Payment is then `failed` with
    the PG's message and the order still awaits payment), or the PG unreachable (code "pg_unavailable": the
    payment stays `confirming`, the reconciliation task or a retry with the same Idempotency-Key finishes it).
    """
    gateway = get_card_gateway()
    claim = _claim(gateway, order_number, payment_key, _amount(amount), source)
    if claim.error is not None:
        raise claim.error
    if not claim.ask_pg:
        return claim.payment
    return _ask_and_finish(gateway, claim.payment, source)


def _lease_is_fresh(payment: Payment) -> bool:
    started = payment.confirm_started_at
    return started is not None and started > timezone.now() - timedelta(seconds=settings.PAYMENT_CONFIRM_LEASE_SECONDS)


def _refused_payment(payment: Payment) -> DomainError:
    return DomainError(
        lazy_percent(
            _("This card payment did not go through: %(reason)s"),
            {"reason": payment.failure_message or choice_label(payment, "state")},
        ),
        code="payment_failed",
    )


@transaction.atomic
def _claim(gateway, order_number: str, payment_key: str, amount: int, source: str) -> _Claim:
    """Step 1: the checks, then the intent recorded (committed when this returns)."""
    order = Order.objects.select_for_update().filter(number=order_number).first()
    if order is None:
        _event("unknown_order", order_number=order_number, payment_key=payment_key, amount=amount, source=source)
        return _Claim(error=DomainError(_("There is no order with this number."), code="unknown_order"))
    payment = Payment.objects.select_for_update().filter(payment_key=payment_key).first()
    if payment is not None and payment.order_id != order.pk:
        _event("key_order_mismatch", order=order, payment_key=payment_key, source=source, key_order=payment.order_id)
        return _Claim(error=DomainError(_("This payment belongs to another order."), code="key_order_mismatch"))

    done = order.payments.filter(state=P.DONE).first()
    if done is not None:
        if done.payment_key == payment_key:
            _event("confirm_repeated", order=order, payment=done, source=source)
            return _Claim(payment=done)
        _event(
            "duplicate_refused", order=order, payment=payment, payment_key=payment_key, source=source, paid_by=done.pk
        )
        return _Claim(
            error=DomainError(
                lazy_percent(
                    _(
                        "Order %(number)s is already paid. This second card payment was not confirmed, so the card is not charged."
                    ),
                    {"number": order.number},
                ),
                code="already_paid",
            )
        )
    if payment is not None and payment.state in (P.FAILED, P.CANCELLED):
        _event("confirm_repeated", order=order, payment=payment, source=source, state=payment.state)
        return _Claim(error=_refused_payment(payment))
    if payment is not None and payment.state == P.CONFIRMING and _lease_is_fresh(payment):
        # Another request (a second tab, the webhook) is asking the PG right now. We answer at once instead of
        # asking too: the PG would answer us the same (same Idempotency-Key), but only after the first call,
        # and meanwhile this request would hold a web worker for nothing; the first request finishes the
        # payment, and the order page shows the live state. A lease that ran out (its request died) is taken
        # over below, and the reconciliation task covers everything else.
        _event(
            "confirm_in_progress",
            order=order,
            payment=payment,
            source=source,
            started=payment.confirm_started_at.isoformat(),
        )
        return _Claim(payment=payment)
    other = order.payments.filter(state=P.CONFIRMING).exclude(payment_key=payment_key).first()
    if other is not None:
        # A different card payment for this order is with the PG: this one is not confirmed (not charged).
        _event(
            "duplicate_refused",
            order=order,
            payment=payment,
            payment_key=payment_key,
            source=source,
            confirming=other.pk,
        )
        return _Claim(
            error=DomainError(
                lazy_percent(
                    _(
                        "Another card payment for order %(number)s is being confirmed. This one was not confirmed, so the card is not charged."
                    ),
                    {"number": order.number},
                ),
                code="payment_in_progress",
            )
        )
    if order.state not in PAYABLE:
        _event(
            "order_not_payable", order=order, payment=payment, payment_key=payment_key, source=source, state=order.state
        )
        return _Claim(error=DomainError(_not_payable_message(order), code="order_not_payable"))
    if amount != order.due_krw:
        _event(
            "amount_mismatch",
            order=order,
            payment=payment,
            payment_key=payment_key,
            source=source,
            amount=amount,
            expected=order.due_krw,
        )
        audit(
            actor=None,
            action="payment.amount_mismatch",
            obj=order,
            organization=order.buyer,
            reason=f"{source}: {amount} ≠ {order.due_krw}",
            data={"payment_key": payment_key, "amount": amount, "expected": order.due_krw, "source": source},
        )
        return _Claim(
            error=DomainError(
                lazy_percent(
                    _(
                        "The amount paid (%(amount)s won) is not the order's total (%(total)s won). The payment was not accepted."
                    ),
                    {"amount": f"{amount:,}", "total": f"{order.due_krw:,}"},
                ),
                code="amount_mismatch",
            )
        )

    if payment is None:
        payment = (
            order.payments.select_for_update()
            .filter(method=Order.Method.CARD, state=P.READY, payment_key__isnull=True)
            .first()
        )
        if payment is None:
            payment = Payment(order=order, method=Order.Method.CARD, adapter=gateway.name, amount_krw=order.due_krw)
            payment.save()
    takeover = payment.state == P.CONFIRMING
    _start_confirming(payment, payment_key=payment_key, amount=order.due_krw, adapter=gateway.name)
    _event(
        "confirm_requested",
        order=order,
        payment=payment,
        source=source,
        amount=amount,
        idempotency_key=str(payment.idempotency_key),
        **({"takeover": True} if takeover else {}),
    )
    return _Claim(payment=payment, ask_pg=True)


def _start_confirming(payment: Payment, *, payment_key: str, amount: int, adapter: str) -> None:
    """ready → confirming (or a new lease on a confirming payment), with the key and amount the PG is asked for."""
    payment.payment_key, payment.amount_krw, payment.adapter = payment_key, amount, adapter
    payment.confirm_started_at = timezone.now()
    fields = ("payment_key", "amount_krw", "adapter", "confirm_started_at")
    if payment.state == P.CONFIRMING:
        payment.save(update_fields=list(fields))
    else:
        transition(payment, to=P.CONFIRMING, actor=None, fields=fields)


def _ask_pg(gateway, payment: Payment, order_number: str) -> _Answer:
    """Step 2: the network call. No transaction is open here (asserted: the rule this module exists for)."""
    assert not transaction.get_connection().in_atomic_block, "never call the PG inside a transaction"
    answer = _Answer()
    try:
        try:
            answer.result = gateway.confirm(
                payment.payment_key, order_number, payment.amount_krw, str(payment.idempotency_key)
            )
        except GatewayAlreadyProcessed as exc:
            # Confirmed before under another key (or our answer was lost): the PG's record decides.
            answer.events.append(("confirm_answer", exc.as_event()))
            answer.result = gateway.fetch(payment.payment_key)
    except GatewayUnavailable as exc:
        answer.unavailable = exc
    except GatewayDeclined as exc:
        answer.declined = exc
    return answer


def _ask_and_finish(gateway, payment: Payment, source: str) -> Payment:
    order_number = Order.objects.values_list("number", flat=True).get(pk=payment.order_id)
    answer = _ask_pg(gateway, payment, order_number)
    outcome = _finish(gateway, payment.pk, answer, source=source, lease=payment.confirm_started_at)
    if outcome.void:
        _void_at_pg(gateway, outcome.payment)
    if outcome.error is not None:
        raise outcome.error
    return outcome.payment


@transaction.atomic
def _finish(gateway, payment_pk: int, answer: _Answer, *, source: str, lease) -> _Outcome:
    """Step 3: with the order locked again, the PG's answer applied to the payment as it is now."""
    order_pk = Payment.objects.values_list("order_id", flat=True).get(pk=payment_pk)
    order = _locked(Order(pk=order_pk))
    payment = Payment.objects.select_for_update().get(pk=payment_pk)
    for kind, data in answer.events:
        _event(kind, order=order, payment=payment, **data)
    if answer.unavailable is not None:
        exc = answer.unavailable
        _event("confirm_unavailable", order=order, payment=payment, source=source, **exc.as_event())
        logger.warning("PG unavailable confirming %s: %s", order.number, exc)
        if payment.state == P.CONFIRMING and payment.confirm_started_at == lease:
            payment.confirm_started_at = None  # our lease ends: a retry or the reconciliation may ask again
            payment.save(update_fields=["confirm_started_at"])
        if payment.state == P.DONE:  # another request got the answer meanwhile
            return _Outcome(payment=payment)
        return _Outcome(
            payment=payment,
            error=DomainError(
                _(
                    "The payment company did not answer. We are checking your payment and the order page shows the result; "
                    "your card is charged at most once."
                ),
                code="pg_unavailable",
            ),
        )
    if payment.state != P.CONFIRMING:
        # Another request (or the reconciliation) finished it while we asked the PG: its decision stands.
        _event("confirm_repeated", order=order, payment=payment, source=source, state=payment.state)
        if payment.state == P.DONE:
            return _Outcome(payment=payment)
        return _Outcome(error=_refused_payment(payment))
    if answer.declined is not None:
        exc = answer.declined
        _event("confirm_declined", order=order, payment=payment, source=source, **exc.as_event())
        return _Outcome(
            error=_fail(order, payment, code=exc.code, message=exc.pg_message or str(exc.message), shown=exc.message)
        )
    return _apply_pg_payment(order, payment, answer.result, source=source, adapter=gateway.name)


def _apply_pg_payment(order: Order, payment: Payment, result, *, source: str, adapter: str) -> _Outcome:
    """The PG's record of a payment we asked it to confirm, applied (order and payment locked by the caller)."""
    _event("confirm_answer", order=order, payment=payment, source=source, status=result.gateway_status, body=result.raw)
    payment.gateway_status = result.gateway_status
    payment.gateway_response = result.raw
    if result.status != Status.DONE:
        failure = result.raw.get("failure") or {}
        return _Outcome(
            error=_fail(
                order,
                payment,
                code=failure.get("code") or result.gateway_status,
                message=failure.get("message") or result.gateway_status,
                shown=_("The payment gateway did not complete the payment."),
            )
        )
    if result.order_number != order.number or result.amount != order.due_krw:
        # The PG took a different amount (or for another order): never deliver on it; the payment is voided at the PG.
        _event(
            "amount_mismatch",
            order=order,
            payment=payment,
            source="pg_answer",
            amount=result.amount,
            expected=order.due_krw,
            pg_order=result.order_number,
        )
        audit(
            actor=None,
            action="payment.amount_mismatch",
            obj=order,
            organization=order.buyer,
            reason=f"PG: {result.amount} ≠ {order.due_krw}",
            data={
                "payment_key": payment.payment_key,
                "amount": result.amount,
                "expected": order.due_krw,
                "refund_needed": True,
            },
        )
        # The money it took goes back whole: cancelled at the PG after commit (_void_at_pg, its own Idempotency-Key).
        return _Outcome(
            payment=payment,
            void=True,
            error=_fail(
                order,
                payment,
                code="AMOUNT_MISMATCH",
                message=f"PG amount {result.amount} ≠ order total {order.due_krw}",
                shown=_(
                    "The payment gateway reported a different amount. The payment was not accepted and is being "
                    "cancelled at the payment company."
                ),
            ),
        )
    paid_by = order.payments.filter(state=P.DONE).exclude(pk=payment.pk).first()
    if order.state not in PAYABLE or paid_by is not None:
        # Cancelled (or paid otherwise) while the PG was asked: the money goes back (_void_at_pg, after commit).
        payment.save(update_fields=["gateway_status", "gateway_response"])
        _event(
            "void_needed",
            order=order,
            payment=payment,
            source=source,
            order_state=order.state,
            paid_by=paid_by.pk if paid_by else None,
        )
        return _Outcome(
            payment=payment,
            void=True,
            error=DomainError(
                format_lazy(
                    "{} {}",
                    _not_payable_message(order),
                    _("The card payment is being cancelled, so the card is not charged."),
                ),
                code="order_not_payable",
            ),
        )
    payment.approved_at = result.approved_at or timezone.now()
    transition(
        payment,
        to=P.DONE,
        actor=None,
        action="payment.card_confirmed",
        fields=("gateway_status", "gateway_response", "approved_at"),
        data={
            "order": order.number,
            "payment_key": payment.payment_key,
            "amount": order.due_krw,
            "source": source,
            "adapter": adapter,
        },
    )
    _check_split(order, payment, result)
    _mark_paid(order, payment)
    return _Outcome(payment=payment)


def _void_idempotency_key(payment: Payment) -> str:
    return str(uuid.uuid5(payment.idempotency_key, "void"))


def _void_at_pg(gateway, payment: Payment) -> str:
    """Cancel at the PG a payment it took for an order that cannot take it; the payment is then `cancelled`.
    Outside any transaction; the same Idempotency-Key every time, so a retry (the reconciliation) is safe."""
    assert not transaction.get_connection().in_atomic_block, "never call the PG inside a transaction"
    try:
        result = gateway.cancel(
            payment.payment_key,
            None,
            "주문 취소 후 승인된 결제 취소 (order not payable)",
            _void_idempotency_key(payment),
        )
    except GatewayUnavailable as exc:
        _record(payment.pk, "void_unavailable", **exc.as_event())
        return "void_pending"
    except GatewayDeclined as exc:
        if exc.code != "ALREADY_CANCELED_PAYMENT":
            _record(payment.pk, "void_refused", **exc.as_event())
            return "void_refused"
        result = gateway.fetch(payment.payment_key)
    _close(payment.pk, to=P.CANCELLED, kind="voided", result=result)
    return "voided"


def _record(payment_pk: int, kind: str, **data) -> None:
    payment = Payment.objects.select_related("order").get(pk=payment_pk)
    _event(kind, order=payment.order, payment=payment, **data)


@transaction.atomic
def _close(payment_pk: int, *, to: str, kind: str, result=None, **data) -> Payment:
    """A confirming (or ready) card payment ends `to` (cancelled / failed) with what the PG said."""
    order_pk = Payment.objects.values_list("order_id", flat=True).get(pk=payment_pk)
    order = _locked(Order(pk=order_pk))
    payment = Payment.objects.select_for_update().get(pk=payment_pk)
    if result is not None:
        data.update(status=result.gateway_status, body=result.raw)
    _event(kind, order=order, payment=payment, **data)
    if payment.state in (P.READY, P.CONFIRMING):
        fields = ["gateway_status", "gateway_response", "failure_code", "failure_message"]
        if result is not None:
            payment.gateway_status, payment.gateway_response = result.gateway_status, result.raw
        if to == P.FAILED:
            failure = (result.raw.get("failure") if result is not None else None) or {}
            payment.failure_code = (failure.get("code") or data.get("code") or kind)[:80]
            payment.failure_message = (failure.get("message") or data.get("pg_message") or kind)[:500]
        voided = kind == "voided"
        transition(
            payment,
            to=to,
            actor=None,
            action="payment.voided_at_pg" if voided else None,
            fields=tuple(fields),
            data={
                "order": order.number,
                "payment_key": payment.payment_key,
                "amount": payment.amount_krw,
                "order_state": order.state,
            }
            if voided
            else None,
        )
    return payment


# --- reconciliation (celery beat) ------------------------------------------------------------


def card_payments_reconcile(*, limit: int = 200) -> dict:
    """Finish the card payments no request finished: `confirming` ones whose lease ran out (the request died or
    the PG did not answer) and authorised-but-unconfirmed ones (`ready` with a PG key). Older than
    PAYMENT_RECONCILE_AFTER_SECONDS. For an order that can still take the payment the PG is asked to confirm
    (the payment's own Idempotency-Key: if the lost request reached the PG, the PG answers with its first
    answer); otherwise the PG's record is looked up and a payment it took is cancelled there (the card is not
    charged), one it never took is closed here. Safe to run concurrently: rows another run (or a request)
    holds are skipped (skip_locked) and a claimed payment carries a fresh lease. Returns counts by outcome.
    """
    gateway = get_card_gateway()
    cutoff = timezone.now() - timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    due = (Q(state=P.CONFIRMING) & (Q(confirm_started_at__isnull=True) | Q(confirm_started_at__lt=cutoff))) | Q(
        state=P.READY, payment_key__isnull=False, created_at__lt=cutoff
    )
    candidates = Payment.objects.filter(due, method=Order.Method.CARD)
    counts: dict[str, int] = {}
    for pk in list(candidates.order_by("pk").values_list("pk", flat=True)[:limit]):
        try:
            outcome = _reconcile_one(gateway, pk, candidates)
        except Exception:  # one bad row must not stop the others; it is logged and tried again next run
            logger.exception("reconciling payment %s failed", pk)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _reconcile_one(gateway, pk: int, candidates) -> str:
    with transaction.atomic():
        order_pk = Payment.objects.filter(pk=pk).values_list("order_id", flat=True).first()
        order = Order.objects.select_for_update(skip_locked=True).filter(pk=order_pk).first()
        payment = candidates.select_for_update(skip_locked=True).filter(pk=pk).first() if order else None
        if payment is None:
            return "skipped"  # busy elsewhere, or finished since the list was made
        paid_by = order.payments.filter(state=P.DONE).exclude(pk=pk).first()
        confirm = order.state in PAYABLE and paid_by is None and payment.amount_krw == order.due_krw
        if confirm:
            _start_confirming(payment, payment_key=payment.payment_key, amount=order.due_krw, adapter=payment.adapter)
            _event(
                "confirm_requested",
                order=order,
                payment=payment,
                source="reconcile",
                amount=payment.amount_krw,
                idempotency_key=str(payment.idempotency_key),
            )
        else:
            if payment.state == P.CONFIRMING:
                payment.confirm_started_at = timezone.now()  # the lease, while we look it up
                payment.save(update_fields=["confirm_started_at"])
            _event(
                "reconcile_check",
                order=order,
                payment=payment,
                order_state=order.state,
                paid_by=paid_by.pk if paid_by else None,
                amount=payment.amount_krw,
                expected=order.due_krw,
            )
    if confirm:
        try:
            payment = _ask_and_finish(gateway, payment, "reconcile")
        except DomainError as exc:
            return exc.code
        return payment.state
    # The order cannot take this payment: what does the PG hold?
    try:
        result = gateway.fetch(payment.payment_key)
    except GatewayUnavailable as exc:
        _record(pk, "reconcile_unavailable", **exc.as_event())
        return "pg_unavailable"
    except GatewayDeclined as exc:  # the PG does not know it: nothing was taken
        _close(pk, to=P.FAILED, kind="reconcile_unknown", **exc.as_event())
        return "failed"
    if result.status in (Status.DONE, Status.PARTIALLY_CANCELLED):
        return _void_at_pg(gateway, payment)
    if result.status == Status.CANCELLED:
        _close(pk, to=P.CANCELLED, kind="voided", result=result)
        return "voided"
    # Authorised or less: never confirmed, so never charged; the authorisation lapses at the PG.
    _close(pk, to=P.CANCELLED, kind="lapsed", result=result)
    return "cancelled"


def _fail(order: Order, payment: Payment, *, code: str, message: str, shown: str) -> DomainError:
    payment.failure_code = (code or "")[:80]
    payment.failure_message = (message or "")[:500]
    transition(
        payment,
        to=P.FAILED,
        actor=None,
        fields=("failure_code", "failure_message", "gateway_status", "gateway_response"),
    )
    return DomainError(
        lazy_percent(
            _("%(shown)s The order is still waiting for payment: you can try again. (%(pg)s)"),
            {"shown": shown, "pg": message},
        ),
        code="payment_declined",
    )


def _check_split(order: Order, payment: Payment, result) -> None:
    """Our 공급가액/부가세 (catalog.pricing) against the PG's; a difference is recorded, ours stays on the receipt."""
    if result.vat is None or result.supplied_amount is None or order.voucher_krw:
        # A voucher order's PG payment is only the buyer's own part: its split is not the order's (the receipt
        # shows the order's; the voucher part is due from the agency).
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
    _event(
        "webhook",
        order=order,
        payment=existing,
        event_type=notice.event_type,
        status=notice.status,
        trusted=notice.trusted,
        body=notice.raw,
    )
    try:
        result = gateway.fetch(notice.payment_key)
    except GatewayDeclined as exc:  # the PG does not know this key: a forged or stray notice
        _event("webhook_unknown_payment", order=order, payment=existing, **exc.as_event())
        return None
    _event("fetch_answer", order=order, payment=existing, status=result.gateway_status, body=result.raw)
    if result.status in Status.CONFIRMABLE:
        return card_payment_confirm(
            order_number=result.order_number, payment_key=result.payment_key, amount=result.amount, source="webhook"
        )
    if result.status in (Status.FAILED, Status.EXPIRED) and existing is not None:
        with transaction.atomic():
            _locked(existing.order)  # the order first, as every payment write here (no lock-order deadlocks)
            payment = Payment.objects.select_for_update().get(pk=existing.pk)
            if payment.state == P.READY:
                failure = result.raw.get("failure") or {}
                payment.failure_code = (failure.get("code") or result.gateway_status)[:80]
                payment.failure_message = (failure.get("message") or result.gateway_status)[:500]
                payment.gateway_status, payment.gateway_response = result.gateway_status, result.raw
                transition(
                    payment,
                    to=P.FAILED,
                    actor=None,
                    fields=("failure_code", "failure_message", "gateway_status", "gateway_response"),
                )
            return payment
    if (
        result.status in (Status.CANCELLED, Status.PARTIALLY_CANCELLED)
        and existing is not None
        and existing.state == P.DONE
    ):
        # Cancelled at the PG (from its console): refunds are their own use case; tell the admins.
        audit(
            actor=None,
            action="payment.cancelled_at_pg",
            obj=existing.order,
            organization=existing.order.buyer,
            data={"payment_key": existing.payment_key, "balance": result.balance_amount},
        )
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
            payment = Payment.objects.create(
                order=order, method=Order.Method.BANK_TRANSFER, adapter=bank.NAME, amount_krw=order.due_krw
            )
        account = bank.transfer_account()
        _event(
            "bank_transfer_started",
            order=order,
            payment=payment,
            actor=actor.email,
            amount=order.due_krw,
            account=str(account),
            due=order.payment_due_at.isoformat(),
        )
    return payment


def bank_transfer_confirm(*, actor, payment: Payment, depositor_name: str, amount_krw: int | None = None) -> Payment:
    """A platform admin saw the deposit: the payment is done and the order paid. Once only; the amount must be the total."""
    if not can(actor, "transactions.confirm_bank_transfer"):
        raise NotAllowed(_("Only a platform admin can confirm a bank transfer."))
    depositor_name = (depositor_name or "").strip()
    if not depositor_name:
        raise DomainError(
            _("Write the depositor's name as it appears on the bank statement."), code="depositor_required"
        )
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
            refusal = DomainError(
                format_lazy(
                    "{} {}", _not_payable_message(order), _("If money was deposited, refund it to the depositor.")
                ),
                code="order_not_payable",
            )
        elif payment.state != P.READY:
            refusal = DomainError(
                lazy_percent(
                    _("This bank transfer was %(state)s; it cannot be confirmed."),
                    {"state": choice_label(payment, "state")},
                ),
                code="payment_not_ready",
            )
        elif amount != order.due_krw:
            refusal = DomainError(
                lazy_percent(
                    _(
                        "The deposit (%(amount)s won) is not the order's total (%(total)s won). Confirm only a deposit of the exact total; "
                        "contact the buyer about the difference."
                    ),
                    {"amount": f"{amount:,}", "total": f"{order.due_krw:,}"},
                ),
                code="amount_mismatch",
            )
            audit(
                actor=actor,
                action="payment.amount_mismatch",
                obj=order,
                organization=order.buyer,
                reason=f"bank transfer: {amount} ≠ {order.due_krw}",
                data={"amount": amount, "expected": order.due_krw},
            )
        if refusal is not None:
            _event(
                "bank_transfer_refused",
                order=order,
                payment=payment,
                actor=actor.email,
                amount=amount,
                depositor=depositor_name,
                reason=refusal.code,
            )
        else:
            payment.depositor_name = depositor_name[:100]
            payment.confirmed_by = actor
            payment.approved_at = timezone.now()
            transition(
                payment,
                to=P.DONE,
                actor=actor,
                action="payment.bank_transfer_confirmed",
                fields=("depositor_name", "confirmed_by", "approved_at"),
                data={"order": order.number, "amount": amount, "depositor": depositor_name},
            )
            _event(
                "bank_transfer_confirmed",
                order=order,
                payment=payment,
                actor=actor.email,
                amount=amount,
                depositor=depositor_name,
            )
            _mark_paid(order, payment)
    if refusal is not None:
        raise refusal
    return payment
