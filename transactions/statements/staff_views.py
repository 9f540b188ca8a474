"""The platform admins' payout pages: statements to pay (mark paid with the transfer reference), closing a month,
paid history, and the ledger of one organization checked against its statements."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from core.errors import DomainError
from transactions.statements import selectors, services
from transactions.statements.forms import CloseMonthForm, MarkPaidForm


@staff_required
def payouts(request, *, close_form=None):
    last_month = selectors.previous_month(selectors.month_of(timezone.now()))
    return render(
        request,
        "transactions/statements/staff_payouts.html",
        {
            "to_pay": selectors.statements_to_pay(),
            "not_payable": selectors.statements_not_payable(),
            "paid": selectors.statements_paid(),
            "close_form": close_form or CloseMonthForm(initial={"month": f"{last_month:%Y-%m}"}),
            "last_closed": selectors.last_closed_month(),
        },
    )


@staff_required
@require_POST
def close_month(request):
    form = CloseMonthForm(request.POST)
    if not form.is_valid():
        return payouts(request, close_form=form)
    try:
        made = services.statements_close_month(month=form.cleaned_data["month"], actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return payouts(request, close_form=form)
    messages.success(
        request,
        _("%(month)s closed: %(count)s new statement(s).")
        % {"month": f"{form.cleaned_data['month']:%Y-%m}", "count": len(made)},
    )
    return redirect("staff_statements:payouts")


def _statement_page(request, statement, form=None):
    return render(
        request,
        "transactions/statements/statement.html",
        {
            "statement": statement,
            "page": (page := selectors.statement_rows_page(statement, request.GET.get("page"))),
            "rows": page.object_list,
            "staff": True,
            "form": form or MarkPaidForm(),
            "owed_now": selectors.owed_now(statement.organization_id),
        },
    )


@staff_required
def statement(request, pk):
    return _statement_page(request, selectors.statement_get_for_staff(pk))


@staff_required
@require_POST
def mark_paid(request, pk):
    statement = selectors.statement_get_for_staff(pk)
    form = MarkPaidForm(request.POST)
    if not form.is_valid():
        return _statement_page(request, statement, form)
    try:
        statement = services.statement_mark_paid(
            statement=statement, transfer_reference=form.cleaned_data["transfer_reference"], actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _statement_page(request, selectors.statement_get_for_staff(pk), form)
    messages.success(
        request,
        _("Statement marked paid: %(amount)s won to %(name)s.")
        % {"amount": f"{statement.paid_krw:,}", "name": statement.organization.display_name},
    )
    return redirect("staff_statements:statement", pk=statement.pk)


@staff_required
def ledger_index(request):
    return render(
        request, "transactions/statements/staff_ledger_index.html", {"organizations": selectors.ledger_organizations()}
    )


@staff_required
def ledger(request, organization_id):
    organization = selectors.organization_get_for_ledger(organization_id)
    return render(
        request,
        "transactions/statements/staff_ledger.html",
        {
            "organization": organization,
            "accounts": selectors.organization_ledger(
                organization, account_kind=request.GET.get("account", ""), page=request.GET.get("page")
            ),
            "check": selectors.ledger_check(organization),
            "statements": selectors.statements_for_provider(organization).order_by("period"),
        },
    )
