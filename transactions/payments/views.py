"""Payment pages: pay by card / by bank transfer, the PG's return URLs, the webhook, and the admin's
bank-transfer confirmations. Thin: the rules live in transactions.payments.services."""

import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import staff_required
from accounts.permissions import can
from core.errors import DomainError
from transactions.models import Order, Payment
from transactions.payments import bank, selectors, services
from transactions.payments.forms import BankTransferConfirmForm
from transactions.payments.gateway import GatewayUnavailable, WebhookRefused, get_card_gateway
from transactions.selectors import ORDER_NUMBER


def _order_page(order: Order | None) -> str:
    if order is None:
        return reverse("transactions:orders")
    return reverse("transactions:order", kwargs={"number": order.number})


def _buyer_order(request, number: str) -> Order:
    """The order, if the user may buy for the organization that placed it; 404 otherwise (no hint it exists)."""
    order = Order.objects.select_related("buyer").filter(number=number).first()
    if order is None or not can(request.user, "accounts.buy_for_org", order.buyer):
        raise Http404(_("No such order."))
    return order


@login_required
@require_POST
def card_start(request, number):
    order = _buyer_order(request, number)
    try:
        url = services.card_checkout_start(actor=request.user, order=order, site_url=request.build_absolute_uri("/"))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(_order_page(order))
    return redirect(url)


@login_required
@require_POST
def bank_start(request, number):
    order = _buyer_order(request, number)
    try:
        payment = services.bank_transfer_start(actor=request.user, order=order)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        payment.order.refresh_from_db()
        messages.success(
            request,
            _(
                "Please transfer %(amount)s won to %(account)s by %(deadline)s, in the name of your organization. "
                "The order is paid when we see the deposit."
            )
            % {
                "amount": f"{payment.amount_krw:,}",
                "account": bank.transfer_account(),
                "deadline": _local(payment.order.payment_due_at),
            },
        )
    return redirect(_order_page(order))


def _local(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT") if moment else "—"


@require_GET
def card_success(request):
    """The PG sends the buyer here after authorising the card: confirm, then show the order.

    Not behind login: the confirmation must not wait for a session that expired during the payment
    (the PG call itself proves the payment); the order page asks for login if needed."""
    number = request.GET.get("orderId", "")
    payment_key = request.GET.get("paymentKey", "")
    amount = request.GET.get("amount", "")
    # What comes back in the URL is anyone's to write: an impossible number or amount ("²" is a digit to Python, a
    # NUL byte breaks the query) is an incomplete answer, never a server error.
    order = Order.objects.filter(number=number).first() if ORDER_NUMBER.fullmatch(number) else None
    if order is None or not payment_key or not re.fullmatch(r"[0-9]{1,15}", amount):
        messages.error(
            request,
            _("The payment gateway sent back an incomplete answer; nothing was charged by us. Please try again."),
        )
        return redirect(_order_page(order))
    try:
        payment = services.card_payment_confirm(
            order_number=number, payment_key=payment_key, amount=int(amount), source="redirect"
        )
    except DomainError as exc:
        if exc.code == "pg_unavailable":
            # The payment stays `confirming`: the reconciliation task finishes it; this same address may ask
            # again meanwhile (same Idempotency-Key). Accepted, not an error of ours: 202.
            return render(
                request,
                "transactions/payments/card_retry.html",
                {
                    "order": order,
                    "message": exc.message,
                    "retry_url": request.get_full_path(),
                    "order_url": _order_page(order),
                },
                status=202,
            )
        messages.error(request, exc.message)
    else:
        if payment.state == Payment.State.DONE:
            messages.success(
                request,
                _("Payment complete: order %(number)s is paid. Your files are being prepared.") % {"number": number},
            )
        else:  # another request (a second tab, the PG's webhook) is confirming it right now
            messages.info(
                request,
                _(
                    "Your card payment for order %(number)s is being confirmed with the payment company. "
                    "This page shows it as paid as soon as it is; your card is charged at most once."
                )
                % {"number": number},
            )
    return redirect(_order_page(order))


@require_GET
def card_fail(request):
    """The PG sends the buyer here when the card payment was declined or cancelled in its window."""
    code = request.GET.get("code", "")[:80]
    message = request.GET.get("message", "")[:500]
    order = services.card_payment_failed(
        actor=request.user,
        order_number=number if ORDER_NUMBER.fullmatch(number := request.GET.get("orderId", "")[:64]) else "",
        code=code,
        message=message,
    )
    if code == "PAY_PROCESS_CANCELED":
        messages.warning(request, _("The card payment was cancelled. The order is still waiting for payment."))
    else:
        messages.error(
            request,
            _(
                "The card payment did not go through: %(message)s The order is still waiting for payment: "
                "you can try again or pay by bank transfer."
            )
            % {"message": message or code},
        )
    return redirect(_order_page(order))


@csrf_exempt
@require_POST
def webhook(request):
    """PAYMENT_STATUS_CHANGED from the PG. 200 when handled or refused for good; 400 when unusable; 503 when the
    PG cannot be asked (the PG retries)."""
    gateway = get_card_gateway()
    try:
        notice = gateway.parse_webhook(request)
    except WebhookRefused as exc:
        services.card_webhook_refused(reason=exc.reason, body=request.body)
        return JsonResponse({"ok": False, "reason": exc.reason}, status=400)
    try:
        payment = services.card_payment_webhook(notice=notice)
    except GatewayUnavailable as exc:
        return JsonResponse({"ok": False, "reason": exc.code}, status=503)
    except DomainError as exc:
        if exc.code == "pg_unavailable":
            return JsonResponse({"ok": False, "reason": exc.code}, status=503)
        return JsonResponse({"ok": False, "reason": exc.code})
    # `confirming`: another request is finishing it (or the reconciliation task will): nothing for the PG to retry.
    return JsonResponse({"ok": True, "state": payment.state if payment is not None else None})


def _bank_transfers_page(request, *, page=None, failed_form=None, failed_payment=None):
    return render(
        request,
        "staff/payments_bank_transfers.html",
        {
            "page": Paginator(selectors.bank_transfers_waiting(), 50).get_page(page),
            "confirmed": selectors.bank_transfers_confirmed(),
            "account": bank.transfer_account(),
            "form": BankTransferConfirmForm(),
            "failed_form": failed_form,
            "failed_payment": failed_payment,
            "now": timezone.now(),
        },
    )


@staff_required
def bank_transfers(request):
    return _bank_transfers_page(request, page=request.GET.get("page"))


@staff_required
@require_POST
def bank_transfer_confirm(request, payment_id):
    payment = selectors.bank_transfer_get(payment_id)
    form = BankTransferConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Check the form of order %(number)s.") % {"number": payment.order.number})
        return _bank_transfers_page(request, failed_form=form, failed_payment=payment.pk)
    try:
        services.bank_transfer_confirm(
            actor=request.user,
            payment=payment,
            depositor_name=form.cleaned_data["depositor_name"],
            amount_krw=form.cleaned_data["amount_krw"],
        )
    except DomainError as exc:
        # Shown at the top and beside the row's form, which keeps what the admin typed.
        messages.error(request, exc.message)
        if exc.code == "amount_mismatch":
            form.add_error("amount_krw", _("Not the order's total: not confirmed."))
        else:
            form.add_error(None, _("Not confirmed: see the message above."))
        return _bank_transfers_page(request, failed_form=form, failed_payment=payment.pk)
    else:
        messages.success(
            request,
            _("Deposit confirmed: order %(number)s is paid and its files are being prepared.")
            % {"number": payment.order.number},
        )
    return redirect("transactions:payment_bank_transfers")
