"""The card payment gateway interface: what the payment services need from a PG, whichever PG it is.

Flow (the Toss Payments shape, which PortOne V2 also fits):

1. ``checkout_url(order, success_url, fail_url)``: where the buyer's browser goes to pay. The PG
   authenticates the card and sends the browser back to ``success_url`` with the PG's key of the
   payment (or to ``fail_url`` with a code and message).
2. ``confirm(payment_key, order_number, amount, idempotency_key)``: the server-side call that takes the
   money. Our services check the amount against the order *before* calling it, and send an
   Idempotency-Key so a repeated call (a retry after a timeout, a second worker) gets the first answer.
3. ``parse_webhook(request)``: a notice that something changed at the PG. Toss webhooks are unsigned,
   so a notice only says *which* payment to look at; the services then ``fetch(payment_key)`` from the
   PG and act on what the PG itself says.
4. ``cancel(payment_key, amount, reason, idempotency_key, tax_free_amount=0)``: full (``amount`` None: what is
   left) or partial refunds (transactions/refunds/services.py), and voiding a payment an order cannot take.
5. ``issue_cash_receipt(order_number, amount, tax_free_amount, registration_number, type, order_name,
   idempotency_key)``: a 현금영수증 for money paid outside the PG (our bank transfers), for a buyer without a
   business registration number. ``type`` is ``소득공제`` (an individual: phone or cash-receipt card number)
   or ``지출증빙`` (a business number). Toss shape: ``POST /v1/cash-receipts`` with ``{amount, orderId,
   orderName, customerIdentityNumber, type, taxFreeAmount}`` and an Idempotency-Key; the answer carries
   ``receiptKey``, ``issueNumber``, ``receiptUrl`` and ``issueStatus`` (IN_PROGRESS / COMPLETED / FAILED). The
   path and field names follow the current Toss reference as far as it could be read (the older samples post
   ``registrationNumber`` to ``/v1/payments/cash-receipts``): check them against the merchant's contract.
   PortOne V2: ``POST /cash-receipts`` (portone-server-sdk ``CashReceiptClient.issue_cash_receipt``) with
   ``type`` PERSONAL / CORPORATE and ``customer.identityNumber``. Answers a ``GatewayCashReceipt``.
6. ``cancel_cash_receipt(receipt_key, amount, idempotency_key)``: cancels a 현금영수증 when its order is refunded,
   in full (``amount`` None) or in part. Toss shape: ``POST /v1/cash-receipts/{receiptKey}/cancel`` with
   ``{amount?}`` and an Idempotency-Key (a repeat answers the first time); the answer is the cash receipt of
   ``transactionType`` CANCEL. PortOne V2: ``POST /payments/{paymentId}/cash-receipt/cancel``
   (``CashReceiptClient.cancel_cash_receipt_by_payment_id``). Answers a ``GatewayCashReceipt``.

Adapters answer with a ``GatewayPayment`` whose ``status`` is one of ``Status`` (normalised), keep the
PG's own status in ``gateway_status`` and its whole answer in ``raw``; they raise ``GatewayDeclined``
(the PG said no: final for this attempt), ``GatewayUnavailable`` (no usable answer: nothing is known,
retry later), ``GatewayAlreadyProcessed`` (the PG already finished this payment: look it up) or
``WebhookRefused``. Messages are English source strings for gettext; the PG's own words (Korean, for
Toss) are kept in ``pg_message``.

The adapter is chosen by ``settings.PAYMENT_CARD_ADAPTER`` (``get_card_gateway()``); its base URL and
keys are settings (PG_API_BASE, PG_CHECKOUT_URL, PG_CLIENT_KEY, PG_SECRET_KEY, PG_TIMEOUT_SECONDS).

How PortOne V2 maps onto this interface (the second adapter a city might choose; not written yet):

- Keys. The merchant makes the payment's id itself: ``paymentId`` (we would use the order number plus
  an attempt suffix, since PortOne wants one id per attempt). ``payment_key`` is that paymentId.
- ``checkout_url``: PortOne's browser SDK (``PortOne.requestPayment({storeId, channelKey, paymentId,
  orderName, totalAmount, currency: "KRW", payMethod: "CARD", redirectUrl})``) runs on a page of ours;
  in redirect mode it returns to ``redirectUrl?paymentId=…&code=…&message=…`` (``code`` present = failure),
  so one URL serves as success and fail URL.
- ``confirm``: PortOne V2 settles the payment itself (no separate confirm call in the default flow);
  the adapter's ``confirm`` is ``GET https://api.portone.io/payments/{paymentId}`` with
  ``Authorization: PortOne {V2_API_SECRET}`` and checks ``status == "PAID"``, ``amount.total``,
  ``currency`` and ``orderName``; with manual confirmation enabled it is ``POST
  /payments/{paymentId}/confirm``. Status map: PAID→done, READY→ready, VIRTUAL_ACCOUNT_ISSUED→
  waiting_for_deposit, FAILED→failed, CANCELLED→cancelled, PARTIAL_CANCELLED→partially_cancelled,
  PAY_PENDING→authorized.
- ``fetch``: the same ``GET /payments/{paymentId}`` (portone-server-sdk ``PaymentClient.get_payment``).
- ``parse_webhook``: PortOne signs webhooks with Standard Webhooks (headers ``webhook-id``,
  ``webhook-timestamp``, ``webhook-signature``). Verify the **raw body string** with
  ``portone_server_sdk.webhook.verify(secret, body, headers)`` (5-minute tolerance) and raise
  ``WebhookRefused`` when it fails; the notice is ``type`` (Transaction.Paid, Transaction.Cancelled, …)
  and ``data.paymentId``. Even signed, the services still re-fetch before acting (one code path).
- ``cancel``: ``POST /payments/{paymentId}/cancel {reason, amount?}`` (``PaymentClient.cancel_payment``).
The adapter would live in ``portone.py``, register in ``ADAPTERS`` below and add portone-server-sdk
(pinned) to requirements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.http import HttpRequest

    from transactions.models import Order


class Status:
    """A PG payment's state, normalised across adapters."""

    READY = "ready"  # checkout opened, nothing authorised yet
    AUTHORIZED = "authorized"  # the card is authenticated: waiting for our confirm (Toss IN_PROGRESS)
    WAITING_FOR_DEPOSIT = "waiting_for_deposit"  # virtual account issued
    DONE = "done"  # money taken
    CANCELLED = "cancelled"  # fully cancelled (refunded)
    PARTIALLY_CANCELLED = "partially_cancelled"
    FAILED = "failed"  # aborted / declined
    EXPIRED = "expired"  # not confirmed in time

    CONFIRMABLE = (AUTHORIZED, DONE)  # what a webhook may lead us to confirm (DONE: the confirm answer was lost)


@dataclass(frozen=True)
class GatewayPayment:
    """What a PG says about one payment."""

    status: str  # a Status value
    payment_key: str
    amount: int  # totalAmount, KRW
    approved_at: datetime | None
    raw: dict = field(repr=False)
    order_number: str = ""
    gateway_status: str = ""  # the PG's own word (DONE, IN_PROGRESS, PAID …)
    balance_amount: int | None = None  # what is left after partial cancels
    supplied_amount: int | None = None  # the PG's 공급가액 / 부가세 / 면세 split, to cross-check ours
    vat: int | None = None
    tax_free_amount: int | None = None
    method: str = ""


@dataclass(frozen=True)
class GatewayCashReceipt:
    """What a PG says about a cash receipt it issued."""

    receipt_key: str
    status: str  # the PG's word (IN_PROGRESS, COMPLETED …): the NTS registers it later
    amount: int
    raw: dict = field(repr=False)
    issue_number: str = ""
    receipt_url: str = ""


@dataclass(frozen=True)
class WebhookNotice:
    """A webhook, parsed. ``trusted`` is False when the PG does not sign it: re-fetch before acting."""

    event_type: str
    payment_key: str
    order_number: str = ""
    status: str = ""  # as the notice claims it (a hint only)
    trusted: bool = False
    raw: dict = field(default_factory=dict, repr=False)


class GatewayError(Exception):
    """Something the PG answered (or failed to answer). ``message`` is for people; ``code`` for logs."""

    default_message = _("The payment could not be completed.")

    def __init__(
        self,
        message=None,
        *,
        code: str = "",
        pg_message: str = "",
        http_status: int | None = None,
        raw: dict | None = None,
    ):
        self.message = message or self.default_message
        self.code = code
        self.pg_message = pg_message
        self.http_status = http_status
        self.raw = raw or {}
        super().__init__(f"{code}: {pg_message or self.message}")

    def as_event(self) -> dict:
        """What a PaymentEvent records about this error."""
        return {
            "error": type(self).__name__,
            "code": self.code,
            "pg_message": self.pg_message,
            "http_status": self.http_status,
            "body": self.raw,
        }


class GatewayDeclined(GatewayError):
    """The PG refused this payment (card declined, session expired, invalid request): final for this attempt."""

    default_message = _("The payment was declined.")


class GatewayAlreadyProcessed(GatewayDeclined):
    """The PG finished this payment already (Toss ALREADY_PROCESSED_PAYMENT): fetch it to see how."""

    default_message = _("The payment gateway has already processed this payment.")


class GatewayUnavailable(GatewayError):
    """No usable answer (network error, timeout, 5xx, or the PG refused our keys): nothing is known.

    The payment may or may not have gone through; a retry with the same Idempotency-Key, or the
    webhook, settles it."""

    default_message = _(
        "The payment gateway could not be reached. Nothing was charged twice: please try again in a moment."
    )


class WebhookRefused(Exception):
    """A webhook we cannot use (malformed, unknown event, bad signature). The view answers 400."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@runtime_checkable
class CardGateway(Protocol):
    """One PG. Implementations: ``transactions.payments.toss.TossGateway``."""

    name: str  # stored in Payment.adapter

    def checkout_url(self, order: Order, success_url: str, fail_url: str) -> str: ...

    def confirm(self, payment_key: str, order_number: str, amount: int, idempotency_key: str) -> GatewayPayment: ...

    def fetch(self, payment_key: str) -> GatewayPayment: ...

    def parse_webhook(self, request: HttpRequest) -> WebhookNotice: ...

    def cancel(
        self, payment_key: str, amount: int | None, reason: str, idempotency_key: str, *, tax_free_amount: int = 0
    ) -> GatewayPayment: ...

    def issue_cash_receipt(
        self,
        *,
        order_number: str,
        amount: int,
        tax_free_amount: int,
        registration_number: str,
        type: str,
        order_name: str,
        idempotency_key: str,
    ) -> GatewayCashReceipt: ...

    def cancel_cash_receipt(self, receipt_key: str, amount: int | None, idempotency_key: str) -> GatewayCashReceipt: ...


ADAPTERS = {
    "toss": "transactions.payments.toss.TossGateway",
}


def get_card_gateway(name: str | None = None) -> CardGateway:
    """The card adapter settings.PAYMENT_CARD_ADAPTER names, configured from settings."""
    name = name or settings.PAYMENT_CARD_ADAPTER
    if name not in ADAPTERS:
        raise ImproperlyConfigured(
            f"PAYMENT_CARD_ADAPTER={name!r} is not available (choose from {', '.join(sorted(ADAPTERS))}); "
            "transactions/payments/gateway.py explains how a PortOne V2 adapter would map."
        )
    return import_string(ADAPTERS[name])()
