"""A simulated PG that speaks the Toss Payments HTTP shape, mounted at /pg-sim/ (make run, tests, benches).

It stands in for an outside server: it keeps its own state in Redis (keys ``pgsim:*``), never reads our
tables, and knows our shop only by the keys a merchant would register with a PG (PG_CLIENT_KEY,
PG_SECRET_KEY) and the webhook URL (PG_SIMULATOR_WEBHOOK_URL, or our webhook path on the success
URL's host).

- ``GET /pg-sim/checkout/?clientKey&orderId&amount&orderName&successUrl&failUrl[&taxFreeAmount]``: the
  payment window. The tester types a card number and approves, declines or cancels; the browser then
  goes to ``successUrl?paymentType=NORMAL&orderId&paymentKey&amount`` or ``failUrl?code&message&orderId``.
  The amount is fixed when the window opens (it lives in the simulator, not in the form).
- ``POST /pg-sim/v1/payments/confirm`` (Basic auth with the secret key; Idempotency-Key honoured: a
  repeat gets the stored answer): DONE with suppliedAmount / vat / taxFreeAmount / totalAmount; a
  second confirm without the same key answers ALREADY_PROCESSED_PAYMENT like Toss. Not confirmed
  within 10 minutes of approval: NOT_FOUND_PAYMENT_SESSION.
- ``GET /pg-sim/v1/payments/{paymentKey}``, ``GET /pg-sim/v1/payments/orders/{orderId}``,
  ``POST /pg-sim/v1/payments/{paymentKey}/cancel`` (``{cancelReason, cancelAmount?, taxFreeAmount?}``,
  Idempotency-Key honoured; more than the balance: NOT_CANCELABLE_AMOUNT; a cancelled payment:
  ALREADY_CANCELED_PAYMENT; ``cancel_calls()`` lists what each call carried).
  ``POST /pg-sim/v1/cash-receipts`` (현금영수증) and ``POST /pg-sim/v1/cash-receipts/{receiptKey}/cancel``
  (``{amount?}``, Idempotency-Key honoured; more than is left: NOT_CANCELABLE_AMOUNT; ``cash_receipt()`` shows one).
- After a status change it sends ``PAYMENT_STATUS_CHANGED`` to the webhook URL from a background thread
  (PG_SIMULATOR_WEBHOOKS), as a PG does, retrying twice; ``send_webhook()`` sends one on demand.

Test cards: any 13–19 digit number is approved; one ending in 0002 is approved in the window but
refused at confirm (REJECT_CARD_PAYMENT, limit exceeded), as a real card can be.

The API endpoints are CSRF-exempt (server-to-server calls with Basic auth, like the real PG); the
payment window's own form is CSRF-protected. Installed only with settings.PG_SIMULATOR (never in production).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import redis
from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

logger = logging.getLogger(__name__)

PREFIX = "pgsim:"
TTL = 15 * 24 * 3600  # Toss keeps idempotency keys 15 days
CHECKOUT_TTL = 30 * 60  # a window not used within 30 minutes is gone (Toss READY: 30 min)
CONFIRM_WINDOW = timedelta(minutes=10)  # approved → must be confirmed within 10 minutes
ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
KST = timezone.get_fixed_timezone(9 * 60)

DECLINES = {
    "REJECT_CARD_COMPANY": ("카드사에서 결제를 거절했습니다.", _("The card company refuses")),
    "EXCEED_MAX_AMOUNT": ("거래금액 한도를 초과했습니다.", _("Over the card's limit")),
    "INVALID_CARD_EXPIRATION": ("카드 정보를 다시 확인해주세요. (유효기간)", _("Card expired")),
}
USER_CANCEL = ("PAY_PROCESS_CANCELED", "사용자에 의해 결제가 취소되었습니다.")
CONFIRM_DECLINE_SUFFIX = "0002"


# --- state (Redis) -------------------------------------------------------------------------

_redis = None
_redis_lock = threading.Lock()


def _r() -> redis.Redis:
    global _redis
    with _redis_lock:
        if _redis is None:
            _redis = redis.Redis.from_url(
                settings.REDIS_URL, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
            )
        return _redis


def _get(key: str) -> dict | None:
    value = _r().get(PREFIX + key)
    return json.loads(value) if value else None


def _put(key: str, value: dict, ttl: int = TTL) -> None:
    _r().set(PREFIX + key, json.dumps(value, ensure_ascii=False), ex=ttl)


def reset() -> None:
    """Forget every simulated payment (tests: order numbers restart with each test database)."""
    r = _r()
    for key in r.scan_iter(PREFIX + "*", count=500):
        r.delete(key)


def _now() -> datetime:
    return timezone.now().astimezone(KST).replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# --- the PG's own arithmetic ----------------------------------------------------------------


def _split(total: int, tax_free: int) -> tuple[int, int]:
    """The PG's 공급가액 / 부가세 split of a total, as Toss reports it (VAT = taxable part ÷ 11, rounded).
    This is the outside PG's figure that our services cross-check against catalog.pricing, not ours."""
    taxable = max(total - tax_free, 0)
    vat = (taxable * 10 + 55) // 110  # round half up of taxable / 11
    return taxable - vat, vat


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status, json_dumps_params={"ensure_ascii": False})


def _authorised(request) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = f"{settings.PG_SECRET_KEY}:"
    return hmac.compare_digest(decoded.encode(), expected.encode())


def _unauthorised():
    return _error(401, "UNAUTHORIZED_KEY", "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.")


# --- the payment window ---------------------------------------------------------------------


def _checkout_problems(params) -> list[str]:
    problems = []
    if not hmac.compare_digest(str(params.get("clientKey", "")).encode(), settings.PG_CLIENT_KEY.encode()):
        problems.append("clientKey: 등록되지 않은 클라이언트 키입니다.")
    if not ORDER_ID.match(params.get("orderId", "")):
        problems.append("orderId: 6자 이상 64자 이하의 영문 대소문자, 숫자, -, _ 만 허용됩니다.")
    amount = params.get("amount", "")
    if not amount.isdigit() or int(amount) <= 0:
        problems.append("amount: 결제 금액은 1원 이상의 정수여야 합니다.")
    tax_free = params.get("taxFreeAmount", "0") or "0"
    if not tax_free.isdigit() or (amount.isdigit() and int(tax_free) > int(amount)):
        problems.append("taxFreeAmount: 면세 금액이 올바르지 않습니다.")
    if not params.get("orderName", "").strip():
        problems.append("orderName: 주문명이 필요합니다.")
    for name in ("successUrl", "failUrl"):
        parts = urlsplit(params.get(name, ""))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"{name}: http(s)로 시작하는 절대 URL이어야 합니다.")
    return problems


def _with_query(url: str, params: dict) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _webhook_url(success_url: str) -> str:
    if settings.PG_SIMULATOR_WEBHOOK_URL:
        return settings.PG_SIMULATOR_WEBHOOK_URL
    # The URL a merchant registers in the PG's console; the simulator takes our path on the same host.
    return urljoin(success_url, reverse("transactions:payment_webhook", urlconf="marketplace.urls"))


@require_http_methods(["GET", "POST"])
def checkout(request):
    if request.method == "GET":
        params = {
            k: request.GET.get(k, "")
            for k in (
                "clientKey",
                "orderId",
                "amount",
                "orderName",
                "successUrl",
                "failUrl",
                "taxFreeAmount",
                "customerEmail",
                "customerName",
            )
        }
        problems = _checkout_problems(params)
        if problems:
            return render(request, "pg_simulator/checkout.html", {"problems": problems}, status=400)
        done_key = _r().get(PREFIX + f"order:{params['orderId']}")
        if done_key:  # Toss refuses a second payment for a paid orderId
            return HttpResponseRedirect(
                _with_query(
                    params["failUrl"],
                    {
                        "code": "DUPLICATED_ORDER_ID",
                        "message": "이미 승인 및 취소가 진행된 중복된 주문번호 입니다. 다른 주문번호로 진행해주세요.",
                        "orderId": params["orderId"],
                    },
                )
            )
        token = secrets.token_urlsafe(18)
        session = {
            **params,
            "amount": int(params["amount"]),
            "taxFreeAmount": int(params["taxFreeAmount"] or 0),
            "requestedAt": _iso(_now()),
            "webhookUrl": _webhook_url(params["successUrl"]),
        }
        _put(f"checkout:{token}", session, ttl=CHECKOUT_TTL)
        return render(
            request,
            "pg_simulator/checkout.html",
            {"session": session, "token": token, "declines": DECLINES, "card_number": ""},
        )

    session = _get(f"checkout:{request.POST.get('token', '')}")
    if session is None:
        return render(
            request,
            "pg_simulator/checkout.html",
            {"problems": ["결제 시간이 만료되었습니다. 가맹점에서 다시 결제를 시작해주세요."]},
            status=410,
        )
    token = request.POST["token"]
    decision = request.POST.get("decision")
    fail = session["failUrl"]
    if decision == "cancel":
        _r().delete(PREFIX + f"checkout:{token}")
        return HttpResponseRedirect(
            _with_query(fail, {"code": USER_CANCEL[0], "message": USER_CANCEL[1], "orderId": session["orderId"]})
        )
    if decision == "decline":
        code = request.POST.get("decline_code")
        if code not in DECLINES:
            code = "REJECT_CARD_COMPANY"
        _r().delete(PREFIX + f"checkout:{token}")
        return HttpResponseRedirect(
            _with_query(fail, {"code": code, "message": DECLINES[code][0], "orderId": session["orderId"]})
        )
    digits = re.sub(r"[\s-]", "", request.POST.get("card_number", ""))
    if decision != "approve" or not digits.isdigit() or not 13 <= len(digits) <= 19:
        return render(
            request,
            "pg_simulator/checkout.html",
            {
                "session": session,
                "token": token,
                "declines": DECLINES,
                "card_number": request.POST.get("card_number", ""),
                "card_error": _("Enter a card number of 13 to 19 digits."),
            },
            status=400,
        )
    payment = _authorise(session, digits)
    _r().delete(PREFIX + f"checkout:{token}")
    return HttpResponseRedirect(
        _with_query(
            session["successUrl"],
            {
                "paymentType": "NORMAL",
                "orderId": payment["orderId"],
                "paymentKey": payment["paymentKey"],
                "amount": payment["totalAmount"],
            },
        )
    )


def _authorise(session: dict, card_digits: str) -> dict:
    now = _now()
    key = f"tsim{now:%Y%m%d%H%M%S}{secrets.token_hex(8)}"
    payment = {
        "mId": "tsim_merchant",
        "version": "2022-11-16",
        "paymentKey": key,
        "lastTransactionKey": secrets.token_hex(16),
        "type": "NORMAL",
        "orderId": session["orderId"],
        "orderName": session["orderName"],
        "status": "IN_PROGRESS",
        "method": "카드",
        "currency": "KRW",
        "country": "KR",
        "requestedAt": session["requestedAt"],
        "approvedAt": None,
        "totalAmount": session["amount"],
        "balanceAmount": session["amount"],
        "taxFreeAmount": session["taxFreeAmount"],
        "taxExemptionAmount": 0,
        "suppliedAmount": 0,
        "vat": 0,
        "useEscrow": False,
        "cultureExpense": False,
        "isPartialCancelable": True,
        "card": {
            "issuerCode": "71",
            "acquirerCode": "71",
            "number": card_digits[:8] + "*" * (len(card_digits) - 11) + card_digits[-3:-1] + "*",
            "installmentPlanMonths": 0,
            "isInterestFree": False,
            "approveNo": None,
            "useCardPoint": False,
            "cardType": "신용",
            "ownerType": "법인",
            "acquireStatus": "READY",
            "amount": session["amount"],
        },
        "cancels": None,
        "failure": None,
        "receipt": None,
        "checkout": {"url": reverse("pg_sim_checkout")},
        # The simulator's own notes (not part of the Toss object's meaning).
        "_sim": {
            "authorisedAt": _iso(now),
            "webhookUrl": session["webhookUrl"],
            "declineAtConfirm": card_digits.endswith(CONFIRM_DECLINE_SUFFIX),
        },
    }
    _put(f"pay:{key}", payment)
    return payment


def _public(payment: dict) -> dict:
    return {k: v for k, v in payment.items() if not k.startswith("_")}


# --- the API --------------------------------------------------------------------------------


def _json_body(request) -> dict | None:
    try:
        body = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _idempotent(request, handler):
    """Run ``handler`` once per Idempotency-Key: a repeat gets the stored status and body (5xx not stored)."""
    idem = request.headers.get("Idempotency-Key", "").strip()
    if len(idem) > 300:
        return _error(400, "INVALID_REQUEST", "Idempotency-Key는 300자 이하여야 합니다.")
    store = f"idem:{_idem_key(idem)}" if idem else None
    if store:
        with _r().lock(PREFIX + "lock:" + store, timeout=30, blocking_timeout=30):
            saved = _get(store)
            if saved is not None:
                return JsonResponse(saved["body"], status=saved["status"], json_dumps_params={"ensure_ascii": False})
            response = handler()
            if response.status_code < 500:
                _put(store, {"status": response.status_code, "body": json.loads(response.content)})
            return response
    return handler()


def _idem_key(value: str) -> str:
    return hashlib.sha256(f"{settings.PG_SECRET_KEY}\0{value}".encode()).hexdigest()


@csrf_exempt
@require_POST
def api_confirm(request):
    if not _authorised(request):
        return _unauthorised()
    body = _json_body(request)
    if (
        body is None
        or not isinstance(body.get("paymentKey"), str)
        or not isinstance(body.get("orderId"), str)
        or not isinstance(body.get("amount"), int)
        or isinstance(body.get("amount"), bool)
    ):
        return _error(400, "INVALID_REQUEST", "잘못된 요청입니다. paymentKey, orderId, amount(정수)가 필요합니다.")
    if settings.PG_SIMULATOR_CONFIRM_DELAY_MS:  # a real PG takes its time to reach the card company (benches)
        time.sleep(settings.PG_SIMULATOR_CONFIRM_DELAY_MS / 1000)
    return _idempotent(request, lambda: _confirm(body["paymentKey"], body["orderId"], body["amount"]))


def _confirm(payment_key: str, order_id: str, amount: int):
    with _r().lock(PREFIX + f"lock:pay:{payment_key}", timeout=30, blocking_timeout=30):
        payment = _get(f"pay:{payment_key}")
        if payment is None:
            return _error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
        if payment["orderId"] != order_id:
            return _error(
                404, "NOT_FOUND_PAYMENT_SESSION", "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다."
            )
        if payment["status"] in ("DONE", "CANCELED", "PARTIAL_CANCELED"):
            return _error(400, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.")
        if payment["status"] != "IN_PROGRESS":
            return _error(
                404, "NOT_FOUND_PAYMENT_SESSION", "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다."
            )
        if amount != payment["totalAmount"]:
            return _error(400, "INVALID_REQUEST", "결제 금액이 결제 요청 금액과 일치하지 않습니다.")
        if _now() - datetime.fromisoformat(payment["_sim"]["authorisedAt"]) > CONFIRM_WINDOW:
            payment["status"] = "EXPIRED"
            _put(f"pay:{payment_key}", payment)
            return _error(
                404, "NOT_FOUND_PAYMENT_SESSION", "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다."
            )
        if payment["_sim"]["declineAtConfirm"]:
            payment["status"] = "ABORTED"
            payment["failure"] = {
                "code": "REJECT_CARD_PAYMENT",
                "message": "한도초과 혹은 잔액부족으로 결제에 실패했습니다.",
            }
            _put(f"pay:{payment_key}", payment)
            _schedule_webhook(payment)
            return _error(403, "REJECT_CARD_PAYMENT", "한도초과 혹은 잔액부족으로 결제에 실패했습니다.")
        supplied, vat = _split(payment["totalAmount"], payment["taxFreeAmount"])
        payment.update(
            {
                "status": "DONE",
                "approvedAt": _iso(_now()),
                "suppliedAmount": supplied,
                "vat": vat,
                "lastTransactionKey": secrets.token_hex(16),
            }
        )
        payment["card"].update({"approveNo": f"{secrets.randbelow(10**8):08d}", "acquireStatus": "READY"})
        _put(f"pay:{payment_key}", payment)
        _r().set(PREFIX + f"order:{order_id}", payment_key, ex=TTL)
        _r().incr(PREFIX + "confirms")
    _schedule_webhook(payment)
    return JsonResponse(_public(payment), json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_GET
def api_payment(request, payment_key):
    if not _authorised(request):
        return _unauthorised()
    payment = _get(f"pay:{payment_key}")
    if payment is None:
        return _error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
    return JsonResponse(_public(payment), json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_GET
def api_payment_by_order(request, order_id):
    if not _authorised(request):
        return _unauthorised()
    payment_key = _r().get(PREFIX + f"order:{order_id}")
    payment = _get(f"pay:{payment_key}") if payment_key else None
    if payment is None:
        return _error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
    return JsonResponse(_public(payment), json_dumps_params={"ensure_ascii": False})


@csrf_exempt
@require_POST
def api_cancel(request, payment_key):
    if not _authorised(request):
        return _unauthorised()
    body = _json_body(request)
    if body is None or not str(body.get("cancelReason") or "").strip():
        return _error(400, "INVALID_REQUEST", "취소 사유(cancelReason)가 필요합니다.")
    amount = body.get("cancelAmount")
    if amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0):
        return _error(400, "INVALID_REQUEST", "취소 금액(cancelAmount)은 1원 이상의 정수여야 합니다.")
    tax_free = body.get("taxFreeAmount", 0)
    if not isinstance(tax_free, int) or isinstance(tax_free, bool) or tax_free < 0:
        return _error(400, "INVALID_REQUEST", "면세 금액(taxFreeAmount)은 0 이상의 정수여야 합니다.")
    _r().rpush(  # what each cancel call carried (tests check the Toss shape and the Idempotency-Key)
        PREFIX + "cancel_calls",
        json.dumps(
            {
                "paymentKey": payment_key,
                "idempotencyKey": request.headers.get("Idempotency-Key", ""),
                "body": body,
            },
            ensure_ascii=False,
        ),
    )
    _r().expire(PREFIX + "cancel_calls", TTL)
    return _idempotent(request, lambda: _cancel(payment_key, amount, str(body["cancelReason"])[:200], tax_free))


def _cancel(payment_key: str, amount: int | None, reason: str, tax_free: int = 0):
    with _r().lock(PREFIX + f"lock:pay:{payment_key}", timeout=30, blocking_timeout=30):
        payment = _get(f"pay:{payment_key}")
        if payment is None:
            return _error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
        if payment["status"] == "CANCELED":
            return _error(400, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.")
        if payment["status"] not in ("DONE", "PARTIAL_CANCELED"):
            return _error(403, "NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다.")
        balance = payment["balanceAmount"]
        amount = balance if amount is None else amount
        if amount > balance:
            return _error(403, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.")
        if tax_free > amount:
            return _error(400, "INVALID_REQUEST", "면세 금액이 취소 금액보다 클 수 없습니다.")
        payment["balanceAmount"] = balance - amount
        payment["status"] = "CANCELED" if payment["balanceAmount"] == 0 else "PARTIAL_CANCELED"
        payment["cancels"] = (payment["cancels"] or []) + [
            {
                "transactionKey": secrets.token_hex(16),
                "cancelReason": reason,
                "canceledAt": _iso(_now()),
                "cancelAmount": amount,
                "taxFreeAmount": tax_free,
                "taxExemptionAmount": 0,
                "refundableAmount": payment["balanceAmount"],
                "cancelStatus": "DONE",
                "cancelRequestId": None,
            }
        ]
        _put(f"pay:{payment_key}", payment)
    _schedule_webhook(payment)
    return JsonResponse(_public(payment), json_dumps_params={"ensure_ascii": False})


CASH_RECEIPT_TYPES = ("소득공제", "지출증빙")


@csrf_exempt
@require_POST
def api_cash_receipt(request):
    """``POST /v1/cash-receipts``: a 현금영수증 for money paid outside the PG (Idempotency-Key honoured). It is
    COMPLETED at once here; a real PG reports it IN_PROGRESS until the NTS has it."""
    if not _authorised(request):
        return _unauthorised()
    body = _json_body(request)
    amount, tax_free = (body or {}).get("amount"), (body or {}).get("taxFreeAmount", 0)
    identity = str((body or {}).get("customerIdentityNumber") or "")
    if (
        body is None
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or amount <= 0
        or not isinstance(tax_free, int)
        or not 0 <= tax_free <= amount
        or not ORDER_ID.match(str(body.get("orderId") or ""))
        or not str(body.get("orderName") or "").strip()
        or body.get("type") not in CASH_RECEIPT_TYPES
        or not identity.isdigit()
        or not 10 <= len(identity) <= 18
    ):
        return _error(
            400,
            "INVALID_REQUEST",
            "잘못된 요청입니다. amount, orderId, orderName, customerIdentityNumber, type(소득공제/지출증빙)이 필요합니다.",
        )

    def issue():
        now = _now()
        receipt = {
            "receiptKey": f"csim{now:%Y%m%d%H%M%S}{secrets.token_hex(6)}",
            "issueNumber": f"{secrets.randbelow(10**9):09d}",
            "receiptUrl": f"https://dashboard.tosspayments.com/receipt/sim/{secrets.token_hex(8)}",
            "amount": amount,
            "taxFreeAmount": tax_free,
            "orderId": body["orderId"],
            "orderName": body["orderName"],
            "type": body["type"],
            "transactionType": "CONFIRM",
            "issueStatus": "COMPLETED",
            "requestedAt": _iso(now),
        }
        _put(f"cash:{receipt['receiptKey']}", receipt)
        return JsonResponse(receipt, json_dumps_params={"ensure_ascii": False})

    return _idempotent(request, issue)


@csrf_exempt
@require_POST
def api_cash_receipt_cancel(request, receipt_key):
    """``POST /v1/cash-receipts/{receiptKey}/cancel`` ``{amount?}``: all that is left of the receipt (no amount) or a
    part of it. Idempotency-Key honoured: a repeat gets the first answer and cancels nothing more."""
    if not _authorised(request):
        return _unauthorised()
    body = _json_body(request)
    amount = (body or {}).get("amount")
    if body is None or (
        amount is not None and (not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0)
    ):
        return _error(400, "INVALID_REQUEST", "취소 금액(amount)은 1원 이상의 정수여야 합니다.")

    def cancel():
        with _r().lock(PREFIX + f"lock:cash:{receipt_key}", timeout=30, blocking_timeout=30):
            receipt = _get(f"cash:{receipt_key}")
            if receipt is None:
                return _error(404, "NOT_FOUND_CASH_RECEIPT", "존재하지 않는 현금영수증입니다.")
            left = receipt["amount"] - receipt.get("canceledAmount", 0)
            if left <= 0:
                return _error(400, "ALREADY_CANCELED_CASH_RECEIPT", "이미 취소된 현금영수증입니다.")
            part = left if amount is None else amount
            if part > left:
                return _error(403, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.")
            receipt["canceledAmount"] = receipt.get("canceledAmount", 0) + part
            receipt["cancels"] = receipt.get("cancels", []) + [{"amount": part, "canceledAt": _iso(_now())}]
            _put(f"cash:{receipt_key}", receipt)
        answer = {
            **{k: v for k, v in receipt.items() if k != "cancels"},
            "amount": part,
            "transactionType": "CANCEL",
            "issueStatus": "COMPLETED",
        }
        return JsonResponse(answer, json_dumps_params={"ensure_ascii": False})

    return _idempotent(request, cancel)


def cash_receipt(receipt_key: str) -> dict | None:
    """The simulator's record of a cash receipt (tests: how much of it was cancelled)."""
    return _get(f"cash:{receipt_key}")


# --- webhooks -------------------------------------------------------------------------------

_threads: list[threading.Thread] = []
_threads_lock = threading.Lock()


def send_webhook(payment_key: str, *, url: str | None = None, attempts: int = 1) -> int | None:
    """POST ``PAYMENT_STATUS_CHANGED`` for the payment now; the HTTP status of the last attempt (None: no answer)."""
    payment = _get(f"pay:{payment_key}")
    if payment is None:
        raise KeyError(payment_key)
    target = url or payment["_sim"]["webhookUrl"]
    body = {"eventType": "PAYMENT_STATUS_CHANGED", "createdAt": _iso(_now()), "data": _public(payment)}
    status = None
    for attempt in range(attempts):
        try:
            status = httpx.post(target, json=body, timeout=15).status_code
        except httpx.HTTPError as exc:
            logger.warning("pg-sim webhook to %s failed: %s", target, exc)
            status = None
        _r().rpush(
            PREFIX + "webhooks", json.dumps({"paymentKey": payment_key, "status": payment["status"], "http": status})
        )
        _r().expire(PREFIX + "webhooks", TTL)
        if status == 200:
            break
        time.sleep(min(2**attempt, 4))
    return status


def _schedule_webhook(payment: dict) -> None:
    if not settings.PG_SIMULATOR_WEBHOOKS:
        return
    thread = threading.Thread(
        target=send_webhook,
        args=(payment["paymentKey"],),
        kwargs={"attempts": 3},
        name=f"pgsim-webhook-{payment['paymentKey'][-6:]}",
        daemon=True,
    )
    with _threads_lock:
        _threads[:] = [t for t in _threads if t.is_alive()]
        _threads.append(thread)
    thread.start()


def wait_for_webhooks(timeout: float = 30) -> None:
    """Wait until every webhook the simulator started has been delivered (tests, before the database goes)."""
    deadline = time.monotonic() + timeout
    while True:
        with _threads_lock:
            alive = [t for t in _threads if t.is_alive()]
        if not alive:
            return
        alive[0].join(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            return


def webhook_log() -> list[dict]:
    return [json.loads(item) for item in _r().lrange(PREFIX + "webhooks", 0, -1)]


def cancel_calls() -> list[dict]:
    """Every cancel request received since reset(), repeats included: key, Idempotency-Key and body (tests)."""
    return [json.loads(item) for item in _r().lrange(PREFIX + "cancel_calls", 0, -1)]


def confirm_count() -> int:
    """How many confirms the simulator has approved since reset() (tests: exactly one per order)."""
    return int(_r().get(PREFIX + "confirms") or 0)
