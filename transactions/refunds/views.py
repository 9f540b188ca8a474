"""The refund pages: the buyer's request (from the order page) and the policy page; the admins' queue and their
decisions. Thin: a form checks input, one service decides, a refusal becomes a message."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import buyer_required, staff_required
from core.errors import DomainError
from transactions import selectors as order_selectors
from transactions.models import Order, Refund
from transactions.refunds import forms, selectors, services


def _organization(request):
    membership = request.active_membership or None
    return membership.organization if membership else None


def refund_policy(request):
    """What a buyer may ask back, when, and how refunds are paid (public: linked from checkout)."""
    return render(
        request,
        "transactions/refund_policy.html",
        {"window_days": settings.REFUND_WINDOW_DAYS, "defect_days": settings.REFUND_DEFECT_DAYS},
    )


@buyer_required
@require_POST
def refund_request(request, number):
    order = order_selectors.order_get_for_buyer(organization=_organization(request), number=number)
    form = forms.RefundRequestForm(request.POST, panel=selectors.buyer_panel(order))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(f"{order_path(order)}#refunds")
    try:
        services.refund_request(
            actor=request.user,
            order=order,
            item_ids=form.cleaned_data["items"],
            kind=form.cleaned_data["kind"],
            reason=form.cleaned_data["reason"],
            account=form.account(),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your refund request was sent. You will get an e-mail when it is decided."))
    return redirect(f"{order_path(order)}#refunds")


def order_path(order) -> str:
    return reverse("transactions:order", args=[order.number])


# --- admins -------------------------------------------------------------------------------------------------


def _staff_order_path(order) -> str:
    return reverse("staff_orders:detail", args=[order.number])


def _back(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    return target if target.startswith("/staff/") else fallback


@staff_required
def queue(request):
    return render(
        request,
        "staff/refunds.html",
        {"queue": selectors.staff_queue(), "decision_form": forms.DecisionForm(), "bank_form": forms.BankConfirmForm()},
    )


@staff_required
@require_POST
def refund_create(request, number):
    order = order_selectors.order_get_for_staff(number)
    form = forms.RefundCreateForm(request.POST, panel=selectors.staff_panel(order))
    back = f"{_staff_order_path(order)}#refunds"
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return redirect(back)
    try:
        refund = services.refund_create(
            actor=request.user,
            order=order,
            reason=form.cleaned_data["reason"],
            lines=form.lines(),
            account=form.account(),
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        _say_outcome(request, refund)
    return redirect(back)


def _say_outcome(request, refund: Refund) -> None:
    amount = f"{refund.amount_krw:,}"
    if refund.state == Refund.State.DONE:
        messages.success(request, _("%(amount)s won were refunded.") % {"amount": amount})
    elif refund.state == Refund.State.CREATED:
        messages.success(
            request,
            _("The refund of %(amount)s won is recorded. Transfer the money, then confirm it on the refunds page.")
            % {"amount": amount},
        )
    else:
        messages.warning(request, _("The refund was sent to the payment company; its answer is awaited."))
    if refund.voucher_krw:  # who gets it back: the buyer through its payment, the data voucher on its balance
        split = {"own": f"{refund.own_krw:,}", "voucher": f"{refund.voucher_krw:,}"}
        text = (
            _("Bank refund %(own)s won · voucher restored %(voucher)s won")
            if refund.payment.method == Order.Method.BANK_TRANSFER
            else _("Card refund %(own)s won · voucher restored %(voucher)s won")
        )
        messages.info(request, text % split)


@staff_required
@require_POST
def request_approve(request, pk):
    refund_request = selectors.request_get(pk)
    form = forms.DecisionForm(request.POST)
    note = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        refund = services.refund_request_approve(actor=request.user, request=refund_request, note=note)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        _say_outcome(request, refund)
    return redirect(_back(request, "staff_refunds:queue"))


@staff_required
@require_POST
def request_refuse(request, pk):
    refund_request = selectors.request_get(pk)
    form = forms.DecisionForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.refund_request_refuse(actor=request.user, request=refund_request, reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The request was refused; the buyer is told why by e-mail."))
    return redirect(_back(request, "staff_refunds:queue"))


@staff_required
@require_POST
def bank_confirm(request, pk):
    refund = selectors.refund_get(pk)
    form = forms.BankConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Write the bank, the account number and the account holder the money was paid back to.")
        )
        return redirect(_back(request, "staff_refunds:queue"))
    try:
        refund = services.refund_bank_confirm(
            actor=request.user,
            refund=refund,
            bank=form.cleaned_data["bank"],
            account_number=form.cleaned_data["account_number"],
            holder=form.cleaned_data["holder"],
            reference=form.cleaned_data["reference"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        _say_outcome(request, refund)
    return redirect(_back(request, "staff_refunds:queue"))


@staff_required
@require_POST
def refund_send(request, pk):
    try:
        refund = services.refund_send(actor=request.user, refund=selectors.refund_get(pk))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        _say_outcome(request, refund)
    return redirect(_back(request, "staff_refunds:queue"))


@staff_required
@require_POST
def refund_withdraw(request, pk):
    form = forms.DecisionForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.refund_withdraw(actor=request.user, refund=selectors.refund_get(pk), reason=reason)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The refund was withdrawn."))
    return redirect(_back(request, "staff_refunds:queue"))
