"""The buyer organization's data vouchers (/me/vouchers/): its vouchers with their balance and uses, and the
owner's registration form. Members see them; only an owner registers."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from accounts.permissions import can
from core.errors import DomainError
from transactions.vouchers import selectors, services
from transactions.vouchers.forms import VoucherRegisterForm


@login_required
def vouchers(request):
    membership = request.active_membership or None
    organization = membership.organization if membership else None
    if organization is None or not organization.is_consumer or not can(request.user, "accounts.view_org", organization):
        raise PermissionDenied(_("Data vouchers belong to a buyer organization you are a member of."))
    may_register = can(request.user, "accounts.manage_org", organization)
    form = VoucherRegisterForm(request.POST or None)
    if request.method == "POST":
        if not may_register:
            raise PermissionDenied(_("Only an owner of the organization can register its data voucher."))
        if form.is_valid():
            try:
                services.voucher_register(actor=request.user, organization=organization, **form.cleaned_data)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("The voucher is registered. A platform admin verifies it next."))
                return redirect("vouchers:mine")
    rows = list(selectors.vouchers_of(organization))
    uses = {}
    for use in selectors.uses_of(rows):
        uses.setdefault(use.voucher_id, []).append(use)
    for voucher in rows:
        voucher.use_list = uses.get(voucher.pk, [])
    return render(
        request,
        "transactions/vouchers.html",
        {"organization": organization, "vouchers": rows, "form": form, "may_register": may_register},
    )
