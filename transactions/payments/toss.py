"""The card adapter for a PG in the Toss Payments shape (docs.tosspayments.com, API version 2022-11-16).

- Checkout: the buyer's browser goes to PG_CHECKOUT_URL with clientKey, orderId, amount, orderName,
  successUrl and failUrl (+ taxFreeAmount, customerEmail, customerName). The simulated PG
  (devtools/pg_simulator, installed with PG_SIMULATOR) takes them as query parameters. With the real Toss Payments,
  PG_CHECKOUT_URL is a page that loads Toss's browser SDK and calls ``requestPayment`` with the same
  values (Toss has no plain redirect URL); everything after the redirect back is the same.
- The PG returns the browser to ``successUrl?paymentType=NORMAL&orderId=…&paymentKey=…&amount=…`` or
  ``failUrl?code=…&message=…&orderId=…``.
- Confirm: ``POST {PG_API_BASE}/v1/payments/confirm`` with ``{paymentKey, orderId, amount}``,
  ``Authorization: Basic base64(secretKey + ":")`` and an ``Idempotency-Key`` (a UUID; Toss keeps it
  15 days and answers a repeat with the first answer). Within 10 minutes of authentication.
- Look-up: ``GET {PG_API_BASE}/v1/payments/{paymentKey}``; cancel (refunds): ``POST …/{paymentKey}/cancel``
  ``{cancelReason, cancelAmount?, taxFreeAmount?}`` with an Idempotency-Key (transactions.refunds.services).
- Cash receipts (현금영수증) for bank transfers: ``POST …/v1/cash-receipts`` (see gateway.py, step 5); cancelled when
  the order is refunded: ``POST …/v1/cash-receipts/{receiptKey}/cancel`` ``{amount?}`` (step 6).
- Webhooks (``PAYMENT_STATUS_CHANGED``: ``{eventType, createdAt, data: <payment>}``) are not signed, so
  the notice is only a pointer: the services fetch the payment by key before acting on it.

No official Python SDK exists; this is plain httpx with timeouts (connect 3 s, read PG_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from urllib.parse import quote, urlencode

import httpx
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from transactions.payments.gateway import (
    GatewayAlreadyProcessed,
    GatewayCashReceipt,
    GatewayDeclined,
    GatewayPayment,
    GatewayUnavailable,
    Status,
    WebhookNotice,
    WebhookRefused,
)

logger = logging.getLogger(__name__)

STATUS_MAP = {
    "READY": Status.READY,
    "IN_PROGRESS": Status.AUTHORIZED,
    "WAITING_FOR_DEPOSIT": Status.WAITING_FOR_DEPOSIT,
    "DONE": Status.DONE,
    "CANCELED": Status.CANCELLED,
    "PARTIAL_CANCELED": Status.PARTIALLY_CANCELLED,
    "ABORTED": Status.FAILED,
    "EXPIRED": Status.EXPIRED,
}

# Toss error codes → what we tell people (the PG's own Korean message is shown beside it).
DECLINED_CARD = _("The card company declined the payment. Try another card or another payment method.")
SESSION_EXPIRED = _("The payment session expired before it was confirmed. Please pay again.")
ERRORS = {
    # Our keys or our request are wrong: not the buyer's fault, nothing happened; the operator must fix it.
    "UNAUTHORIZED_KEY": (
        GatewayUnavailable,
        _(
            "The payment gateway refused this site's keys. The operator must check the PG settings; nothing was charged."
        ),
    ),
    "INVALID_API_KEY": (
        GatewayUnavailable,
        _(
            "The payment gateway refused this site's keys. The operator must check the PG settings; nothing was charged."
        ),
    ),
    "INCORRECT_BASIC_AUTH_FORMAT": (
        GatewayUnavailable,
        _(
            "The payment gateway refused this site's keys. The operator must check the PG settings; nothing was charged."
        ),
    ),
    "FORBIDDEN_REQUEST": (
        GatewayUnavailable,
        _(
            "The payment gateway refused this site's keys. The operator must check the PG settings; nothing was charged."
        ),
    ),
    "ALREADY_PROCESSED_PAYMENT": (GatewayAlreadyProcessed, None),
    "DUPLICATED_ORDER_ID": (GatewayDeclined, _("The payment gateway already has a payment for this order number.")),
    "NOT_FOUND_PAYMENT": (GatewayDeclined, _("The payment gateway does not know this payment.")),
    "NOT_FOUND_PAYMENT_SESSION": (GatewayDeclined, SESSION_EXPIRED),
    "INVALID_REQUEST": (GatewayDeclined, _("The payment gateway refused the request.")),
    "INVALID_PAYMENT_KEY": (GatewayDeclined, _("The payment gateway does not know this payment.")),
    "INVALID_ORDER_ID": (GatewayDeclined, _("The payment gateway refused the order number.")),
    "REJECT_CARD_PAYMENT": (GatewayDeclined, DECLINED_CARD),
    "REJECT_CARD_COMPANY": (GatewayDeclined, DECLINED_CARD),
    "REJECT_ACCOUNT_PAYMENT": (GatewayDeclined, DECLINED_CARD),
    "INVALID_CARD_NUMBER": (GatewayDeclined, DECLINED_CARD),
    "INVALID_CARD_EXPIRATION": (GatewayDeclined, DECLINED_CARD),
    "INVALID_STOPPED_CARD": (GatewayDeclined, DECLINED_CARD),
    "INVALID_REJECT_CARD": (GatewayDeclined, DECLINED_CARD),
    "EXCEED_MAX_AMOUNT": (GatewayDeclined, DECLINED_CARD),
    "EXCEED_MAX_DAILY_PAYMENT_COUNT": (GatewayDeclined, DECLINED_CARD),
    "EXCEED_MAX_ONE_DAY_AMOUNT": (GatewayDeclined, DECLINED_CARD),
    "EXCEED_MAX_PAYMENT_AMOUNT": (GatewayDeclined, DECLINED_CARD),
    "BELOW_MINIMUM_AMOUNT": (GatewayDeclined, _("The amount is below the card's minimum.")),
    "NOT_AVAILABLE_PAYMENT": (
        GatewayDeclined,
        _("Card payments are not available at this time. Try again later or pay by bank transfer."),
    ),
    "PAY_PROCESS_CANCELED": (GatewayDeclined, _("The payment was cancelled before it was completed.")),
    "PAY_PROCESS_ABORTED": (GatewayDeclined, _("The payment was stopped before it was completed.")),
    "ALREADY_CANCELED_PAYMENT": (GatewayDeclined, _("The payment is already cancelled.")),
    "NOT_CANCELABLE_AMOUNT": (GatewayDeclined, _("This amount cannot be cancelled.")),
    "NOT_CANCELABLE_PAYMENT": (GatewayDeclined, _("This payment cannot be cancelled.")),
    # The PG's own trouble: retry later.
    "PROVIDER_ERROR": (GatewayUnavailable, None),
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING": (GatewayUnavailable, None),
    "FAILED_INTERNAL_SYSTEM_PROCESSING": (GatewayUnavailable, None),
    "UNKNOWN_PAYMENT_ERROR": (GatewayUnavailable, None),
}

_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")


def order_name(order) -> str:
    """The orderName the PG shows the buyer: the first line's title, and how many more (≤ 100 characters)."""
    titles = [item.title for item in order.items.all()]
    first = (titles[0] if titles else order.number)[:80]
    if len(titles) > 1:
        return gettext("%(title)s and %(count)s more") % {"title": first, "count": len(titles) - 1}
    return first


def _parse_time(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _int_or_none(value):
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def to_gateway_payment(body: dict) -> GatewayPayment:
    """A Toss Payment object → GatewayPayment."""
    status = str(body.get("status") or "")
    if not body.get("paymentKey") or status not in STATUS_MAP or _int_or_none(body.get("totalAmount")) is None:
        raise GatewayUnavailable(
            code="MALFORMED_RESPONSE", pg_message="The PG's answer is not a payment object", raw=body
        )
    return GatewayPayment(
        status=STATUS_MAP[status],
        payment_key=str(body["paymentKey"]),
        amount=int(body["totalAmount"]),
        approved_at=_parse_time(body.get("approvedAt")),
        raw=body,
        order_number=str(body.get("orderId") or ""),
        gateway_status=status,
        balance_amount=_int_or_none(body.get("balanceAmount")),
        supplied_amount=_int_or_none(body.get("suppliedAmount")),
        vat=_int_or_none(body.get("vat")),
        tax_free_amount=_int_or_none(body.get("taxFreeAmount")),
        method=str(body.get("method") or ""),
    )


class TossGateway:
    """Toss Payments over HTTP. Every setting may be overridden (tests use a wrong key, a dead host)."""

    name = "toss"

    def __init__(
        self,
        *,
        api_base: str | None = None,
        checkout_url: str | None = None,
        client_key: str | None = None,
        secret_key: str | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ):
        self.api_base = (api_base or settings.PG_API_BASE).rstrip("/")
        self.checkout_base = checkout_url or settings.PG_CHECKOUT_URL
        self.client_key = client_key or settings.PG_CLIENT_KEY
        self.secret_key = secret_key or settings.PG_SECRET_KEY
        read = float(timeout or settings.PG_TIMEOUT_SECONDS)
        self.timeout = httpx.Timeout(read, connect=min(3.0, read))
        self.transport = transport

    # --- the browser side ---------------------------------------------------------------

    def checkout_url(self, order, success_url: str, fail_url: str) -> str:
        if not _ORDER_ID.match(order.number):
            raise ValueError(f"Toss orderId must be 6–64 characters of [A-Za-z0-9_-], not {order.number!r}")
        params = {
            "clientKey": self.client_key,
            "orderId": order.number,
            "amount": order.due_krw,  # the buyer's own part (a data voucher pays the rest)
            "orderName": order_name(order),
            "successUrl": success_url,
            "failUrl": fail_url,
            "taxFreeAmount": order.due_tax_free_krw(),
            "customerEmail": order.billing_email,
            "customerName": order.billing_name,
        }
        separator = "&" if "?" in self.checkout_base else "?"
        return f"{self.checkout_base}{separator}{urlencode(params)}"

    # --- the server side ----------------------------------------------------------------

    def confirm(self, payment_key: str, order_number: str, amount: int, idempotency_key: str) -> GatewayPayment:
        body = self._request(
            "POST",
            "/v1/payments/confirm",
            payload={"paymentKey": payment_key, "orderId": order_number, "amount": int(amount)},
            idempotency_key=idempotency_key,
        )
        return to_gateway_payment(body)

    def fetch(self, payment_key: str) -> GatewayPayment:
        return to_gateway_payment(self._request("GET", f"/v1/payments/{quote(payment_key, safe='')}"))

    def cancel(
        self, payment_key: str, amount: int | None, reason: str, idempotency_key: str, *, tax_free_amount: int = 0
    ) -> GatewayPayment:
        """``POST /v1/payments/{paymentKey}/cancel``: ``cancelAmount`` omitted for a full cancel (of what is left),
        ``taxFreeAmount`` the 면세 part of a partial one; the Idempotency-Key makes a repeat answer the first time."""
        payload = {"cancelReason": reason[:200]}
        if amount is not None:
            payload["cancelAmount"] = int(amount)
            if tax_free_amount:
                payload["taxFreeAmount"] = int(tax_free_amount)
        body = self._request(
            "POST",
            f"/v1/payments/{quote(payment_key, safe='')}/cancel",
            payload=payload,
            idempotency_key=idempotency_key,
        )
        return to_gateway_payment(body)

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
    ) -> GatewayCashReceipt:
        """``POST /v1/cash-receipts``: a 현금영수증 for money paid outside the PG (a bank transfer)."""
        body = self._request(
            "POST",
            "/v1/cash-receipts",
            payload={
                "amount": int(amount),
                "orderId": order_number,
                "orderName": order_name[:100],
                "customerIdentityNumber": registration_number,
                "type": type,
                "taxFreeAmount": int(tax_free_amount),
            },
            idempotency_key=idempotency_key,
        )
        if not body.get("receiptKey") or _int_or_none(body.get("amount")) is None:
            raise GatewayUnavailable(
                code="MALFORMED_RESPONSE", pg_message="The PG's answer is not a cash receipt", raw=body
            )
        return GatewayCashReceipt(
            receipt_key=str(body["receiptKey"]),
            status=str(body.get("issueStatus") or ""),
            amount=int(body["amount"]),
            raw=body,
            issue_number=str(body.get("issueNumber") or ""),
            receipt_url=str(body.get("receiptUrl") or ""),
        )

    def cancel_cash_receipt(self, receipt_key: str, amount: int | None, idempotency_key: str) -> GatewayCashReceipt:
        """``POST /v1/cash-receipts/{receiptKey}/cancel``: ``amount`` omitted cancels the whole receipt (what is left of
        it); the Idempotency-Key makes a repeat answer the first time."""
        body = self._request(
            "POST",
            f"/v1/cash-receipts/{quote(receipt_key, safe='')}/cancel",
            payload={} if amount is None else {"amount": int(amount)},
            idempotency_key=idempotency_key,
        )
        if not body.get("receiptKey"):
            raise GatewayUnavailable(
                code="MALFORMED_RESPONSE", pg_message="The PG's answer is not a cash receipt", raw=body
            )
        return GatewayCashReceipt(
            receipt_key=str(body["receiptKey"]),
            status=str(body.get("issueStatus") or ""),
            amount=_int_or_none(body.get("amount")) or 0,
            raw=body,
            issue_number=str(body.get("issueNumber") or ""),
            receipt_url=str(body.get("receiptUrl") or ""),
        )

    def parse_webhook(self, request) -> WebhookNotice:
        """``{eventType, createdAt, data}``. Unsigned: the notice names a payment, nothing more is trusted."""
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise WebhookRefused("The body is not JSON") from exc
        if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
            raise WebhookRefused("No data object")
        event_type = str(body.get("eventType") or "")
        if event_type != "PAYMENT_STATUS_CHANGED":
            raise WebhookRefused(f"Event {event_type or '(none)'} is not handled")
        data = body["data"]
        payment_key = data.get("paymentKey")
        if not isinstance(payment_key, str) or not payment_key or len(payment_key) > 200:
            raise WebhookRefused("No paymentKey")
        return WebhookNotice(
            event_type=event_type,
            payment_key=payment_key,
            order_number=str(data.get("orderId") or ""),
            status=str(data.get("status") or ""),
            trusted=False,
            raw=body,
        )

    # --- HTTP ------------------------------------------------------------------------------

    def _request(
        self, method: str, path: str, *, payload: dict | None = None, idempotency_key: str | None = None
    ) -> dict:
        headers = {"Accept": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = str(idempotency_key)
        try:
            with httpx.Client(
                base_url=self.api_base,
                timeout=self.timeout,
                auth=httpx.BasicAuth(self.secret_key, ""),
                transport=self.transport,
            ) as client:
                response = client.request(method, path, json=payload, headers=headers)
        except httpx.TimeoutException as exc:
            logger.warning("PG %s %s timed out: %s", method, path, exc)
            raise GatewayUnavailable(code="TIMEOUT", pg_message=str(exc) or "timeout") from exc
        except httpx.HTTPError as exc:
            logger.warning("PG %s %s failed: %s", method, path, exc)
            raise GatewayUnavailable(code="NETWORK_ERROR", pg_message=str(exc) or type(exc).__name__) from exc
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text[:500]}
        if not isinstance(body, dict):
            body = {"body": body}
        if response.status_code >= 400:
            raise self._error(response.status_code, body)
        return body

    @staticmethod
    def _error(http_status: int, body: dict):
        code = str(body.get("code") or f"HTTP_{http_status}")
        pg_message = str(body.get("message") or "")[:400]
        if code in ERRORS:
            cls, message = ERRORS[code]
        elif http_status >= 500 or http_status == 429:
            cls, message = GatewayUnavailable, None
        elif http_status in (401, 403) and code.startswith("HTTP_"):
            cls, message = GatewayUnavailable, ERRORS["UNAUTHORIZED_KEY"][1]
        else:
            cls, message = GatewayDeclined, None  # an unknown refusal: the PG's own message says why
        return cls(message, code=code, pg_message=pg_message, http_status=http_status, raw=body)
