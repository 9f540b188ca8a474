"""The buyer's pages: cart, checkout, orders, "My data". Thin: a form checks input, one service decides,
a refusal becomes a message, and the browser is redirected."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import buyer_required
from catalog.models import Offer
from core.errors import DomainError
from core.http import client_ip
from transactions import selectors
from transactions.forms import CancelForm, CheckoutForm
from transactions.models import Order
from transactions.payments import services as payments
from transactions.services import cart as cart_services
from transactions.services import orders as order_services
from transactions.services import subscriptions as subscription_services
from transactions.vouchers import selectors as voucher_selectors


def _organization(request):
    membership = request.active_membership or None
    return membership.organization if membership else None


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# ---------------------------------------------------------------------------------------------
# Cart
# ---------------------------------------------------------------------------------------------


@buyer_required
def cart(request):
    organization = _organization(request)
    lines = selectors.cart_lines(selectors.cart_get(request.user, organization), organization)
    return render(
        request,
        "transactions/cart.html",
        {
            "lines": lines,
            "total": selectors.lines_total(lines),
            "blocked": any(line.problem for line in lines),
        },
    )


@login_required
@require_POST
def cart_add(request):
    """Add an offer (from the dataset page's purchase panel). `then=checkout` goes straight on to checkout
    (taking a free dataset); otherwise back to the page the buyer came from."""
    offer = get_object_or_404(Offer.objects.select_related("dataset"), pk=request.POST.get("offer") or 0)
    back = _safe_next(request, reverse("catalog:dataset", args=[offer.dataset.slug]))
    try:
        cart_services.cart_add(actor=request.user, organization=_organization(request), offer=offer)
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, getattr(exc, "message", None) or str(exc))
        return HttpResponseRedirect(back)
    if request.POST.get("then") == "checkout":
        return redirect("transactions:checkout")
    messages.success(request, _("Added to the cart."))
    return HttpResponseRedirect(back)


@login_required
@require_POST
def cart_remove(request, offer_id):
    try:
        removed = cart_services.cart_remove(actor=request.user, organization=_organization(request), offer_id=offer_id)
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        if removed:
            messages.success(request, _("Removed from the cart."))
    return redirect("transactions:cart")


# ---------------------------------------------------------------------------------------------
# Checkout
# ---------------------------------------------------------------------------------------------


def _start_payment(request, order: Order):
    """Right after checkout. Card: on to the PG's payment window. Bank transfer: the account and the
    deadline on the order page. (The order page's buttons use the payment views for later attempts.)"""
    if order.method == Order.Method.CARD:
        url = payments.card_checkout_start(actor=request.user, order=order, site_url=request.build_absolute_uri("/"))
        return HttpResponseRedirect(url)
    payments.bank_transfer_start(actor=request.user, order=order)
    return redirect("transactions:order", number=order.number)


@buyer_required
def checkout(request):
    organization = _organization(request)
    lines = selectors.cart_lines(selectors.cart_get(request.user, organization), organization)
    total = selectors.lines_total(lines)
    if request.method == "POST":
        form = CheckoutForm(request.POST, total_krw=total.total_krw)
        if form.is_valid():
            try:
                order = order_services.checkout_place(
                    actor=request.user,
                    organization=organization,
                    checkout_token=form.cleaned_data["checkout_token"],
                    method=form.cleaned_data.get("method") or "",
                    billing=form.billing(),
                    accepted=form.accepted(),
                    expected_total_krw=form.cleaned_data["expected_total_krw"],
                    ip=client_ip(request),
                    voucher_id=form.voucher_choice()[0],
                    expected_voucher_krw=form.voucher_choice()[1],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                if order.state == Order.State.AWAITING_PAYMENT and not order.payments.exists():
                    try:
                        return _start_payment(request, order)
                    except DomainError as exc:
                        messages.error(request, exc.message)
                elif order.method == Order.Method.FREE:
                    messages.success(request, _("Free order complete. The files are being packaged for you."))
                return redirect("transactions:order", number=order.number)
    else:
        if not lines:
            messages.info(request, _("Your cart is empty."))
            return redirect("transactions:cart")
        form = CheckoutForm(
            initial={
                "checkout_token": uuid.uuid4(),
                "expected_total_krw": total.total_krw,
                "method": Order.Method.CARD,
                **order_services.billing_defaults(organization),
            },
            total_krw=total.total_krw,
        )
    accepted = set(form["accept"].value() or [])
    voucher_options = voucher_selectors.checkout_voucher_options(organization, lines, total.total_krw)
    chosen_voucher = (form["voucher"].value() or [""])[0] if request.method == "POST" else None
    return render(
        request,
        "transactions/checkout.html",
        {
            "form": form,
            "lines": lines,
            "total": total,
            "blocked": any(line.problem for line in lines),
            "accepted": accepted,
            "bank": settings.BANK_TRANSFER_ACCOUNT,
            "bank_days": settings.BANK_TRANSFER_DAYS,
            "card_minutes": settings.ORDER_PAYMENT_TIMEOUT_MINUTES,
            "voucher_options": voucher_options,
            # The first voucher is applied unless the buyer chose otherwise.
            "chosen_voucher": chosen_voucher
            if chosen_voucher is not None
            else (voucher_options[0].value if voucher_options else ""),
        },
    )


# ---------------------------------------------------------------------------------------------
# Orders
# ---------------------------------------------------------------------------------------------


@buyer_required
def orders(request):
    organization = _organization(request)
    tab = request.GET.get("tab", "all")
    if tab not in selectors.ORDER_TABS:
        tab = "all"
    qs = selectors.orders_for_organization(organization, tab=tab)
    page = Paginator(qs, 20).get_page(request.GET.get("page"))
    page.object_list = selectors.orders_with_status(page.object_list)
    return render(
        request,
        "transactions/orders.html",
        {
            "page": page,
            "tab": tab,
            "cart_count": selectors.cart_count(request.user, organization),
        },
    )


def _order_live_context(order: Order) -> dict:
    """What the order page's live block (transactions/_order_live.html) needs: the page and the polled
    fragment render it from the same context, so they cannot show different things."""
    return {
        "order": order,
        "payments": selectors.order_payments(order),
        "bank": settings.BANK_TRANSFER_ACCOUNT,
        "cancel_form": CancelForm(),
        "delivery": selectors.order_delivery_status(order),
    }


@buyer_required
def order_detail(request, number):
    order = selectors.order_get_for_buyer(organization=_organization(request), number=number)
    return render(
        request,
        "transactions/order_detail.html",
        {**_order_live_context(order), "items": selectors.order_items(order)},
    )


@buyer_required
@require_GET
def order_live(request, number):
    """The order page's header, next step and package list, polled by htmx while something can still
    change by itself (a package queued or building, a payment being confirmed)."""
    order = selectors.order_get_for_buyer(organization=_organization(request), number=number)
    return render(request, "transactions/_order_live.html", _order_live_context(order))


@buyer_required
@require_POST
def order_cancel(request, number):
    order = selectors.order_get_for_buyer(organization=_organization(request), number=number)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        order_services.order_cancel(actor=request.user, order=order, reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Order %(number)s is cancelled.") % {"number": order.number})
    return redirect("transactions:order", number=order.number)


# ---------------------------------------------------------------------------------------------
# My data
# ---------------------------------------------------------------------------------------------


@buyer_required
def entitlements(request):
    organization = _organization(request)
    return render(request, "transactions/entitlements.html", {"rows": selectors.my_data(organization)})


# ---------------------------------------------------------------------------------------------
# Subscriptions
# ---------------------------------------------------------------------------------------------


@buyer_required
def subscriptions(request):
    return render(
        request,
        "transactions/subscriptions.html",
        {
            "rows": selectors.subscriptions_for_organization(_organization(request)),
            "reminder_days": settings.SUBSCRIPTION_REMINDER_DAYS,
        },
    )


@buyer_required
def subscription_cancel(request, pk):
    """GET: what cancelling means, and a button to confirm it. POST: renewal off."""
    row = selectors.subscription_get_for_buyer(organization=_organization(request), pk=pk)
    if request.method == "POST":
        try:
            subscription_services.subscription_cancel(actor=request.user, subscription=row.subscription)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Renewal is off. The subscription runs to the end of the period paid for."))
        return redirect("transactions:subscriptions")
    return render(request, "transactions/subscription_cancel.html", {"row": row})


@buyer_required
@require_POST
def subscription_resume(request, pk):
    row = selectors.subscription_get_for_buyer(organization=_organization(request), pk=pk)
    try:
        subscription_services.subscription_resume(actor=request.user, subscription=row.subscription)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Renewal is on again: you will be reminded before the period ends."))
    return redirect("transactions:subscriptions")


@buyer_required
@require_POST
def subscription_renew(request, pk):
    """Renewing is a new order: the offer goes into the cart and the buyer continues to checkout, where the
    current price and licence are shown, accepted and paid."""
    organization = _organization(request)
    row = selectors.subscription_get_for_buyer(organization=organization, pk=pk)
    try:
        subscription_services.subscription_renew_start(
            actor=request.user, organization=organization, subscription=row.subscription
        )
    except (DomainError, PermissionDenied) as exc:
        messages.error(request, getattr(exc, "message", None) or str(exc))
        return redirect("transactions:subscriptions")
    return redirect("transactions:checkout")
