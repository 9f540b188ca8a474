"""Platform admin pages of data vouchers (/staff/vouchers/): verify or reject registrations, see what the voucher
agency owes per voucher and order, and record the agency's payments (settlements)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from core.errors import DomainError
from transactions.models import Order, Voucher
from transactions.vouchers import selectors, services
from transactions.vouchers.forms import VoucherRejectForm, VoucherRepayForm, VoucherSettleForm


@staff_required
def vouchers(request):
    state = request.GET.get("state", "")
    if state not in Voucher.State.values:
        state = ""
    rows = selectors.vouchers_for_staff(state)
    return render(
        request,
        "staff/vouchers.html",
        {
            "vouchers": rows,
            "state": state,
            "states": Voucher.State.choices,
            "outstanding_total": sum(v.outstanding_krw for v in rows),
        },
    )


def _detail(request, voucher, *, settle_form=None, reject_form=None, status=200):
    uses = selectors.voucher_receivables(voucher)
    choices = [(str(u.order_id), u.order.number) for u in uses if u.settleable]
    return render(
        request,
        "staff/voucher.html",
        {
            "voucher": voucher,
            "uses": uses,
            "settlements": voucher.settlements.select_related("recorded_by"),
            "outstanding_total": sum(u.outstanding_krw for u in uses),
            "settle_form": settle_form or VoucherSettleForm(order_choices=choices),
            "reject_form": reject_form or VoucherRejectForm(),
        },
        status=status,
    )


@staff_required
def voucher(request, pk):
    return _detail(request, get_object_or_404(selectors.vouchers_for_staff_queryset(), pk=pk))


@staff_required
@require_POST
def voucher_verify(request, pk):
    voucher = get_object_or_404(Voucher, pk=pk)
    try:
        services.voucher_verify(actor=request.user, voucher=voucher)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The voucher is verified: the organization can use it at checkout."))
    return redirect("staff_vouchers:detail", pk=pk)


@staff_required
@require_POST
def voucher_reject(request, pk):
    voucher = get_object_or_404(Voucher, pk=pk)
    form = VoucherRejectForm(request.POST)
    if form.is_valid():
        try:
            services.voucher_reject(actor=request.user, voucher=voucher, reason=form.cleaned_data["reason"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The voucher is rejected."))
            return redirect("staff_vouchers:detail", pk=pk)
    return _detail(request, selectors.vouchers_for_staff_queryset().get(pk=pk), reject_form=form, status=400)


@staff_required
@require_POST
def voucher_repay(request, pk, order_pk):
    """The platform paid the agency back the voucher shares of refunds made after it had paid (voucher_payable)."""
    voucher = get_object_or_404(Voucher, pk=pk)
    order = get_object_or_404(Order, pk=order_pk, voucher_use__voucher=voucher)
    form = VoucherRepayForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the reference of the agency's transfer."))
        return redirect("staff_vouchers:detail", pk=pk)
    try:
        services.voucher_repay(
            actor=request.user, voucher=voucher, order=order, reference=form.cleaned_data["reference"]
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The payment back to the agency is recorded."))
    return redirect("staff_vouchers:detail", pk=pk)


@staff_required
@require_POST
def voucher_settle(request, pk):
    voucher = get_object_or_404(selectors.vouchers_for_staff_queryset(), pk=pk)
    uses = selectors.voucher_receivables(voucher)
    choices = [(str(u.order_id), u.order.number) for u in uses if u.settleable]
    form = VoucherSettleForm(request.POST, order_choices=choices)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.voucher_settle(
                actor=request.user,
                voucher=voucher,
                orders=selectors.settleable_orders(voucher, [int(pk) for pk in data["orders"]]),
                paid_on=data["paid_on"],
                reference=data["reference"],
                amount_krw=data["amount_krw"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The agency's payment is recorded."))
            return redirect("staff_vouchers:detail", pk=pk)
    return _detail(request, voucher, settle_form=form, status=400)
