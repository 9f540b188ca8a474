"""Receipt and tax-document pages: the buyer's list, one document (page and PDF), the 현금영수증 request, and the
supplier's monthly 세금계산서 CSV (also for staff). Thin: selectors decide who may see what (404 otherwise)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import staff_required
from accounts.models import Organization
from accounts.permissions import can
from core.errors import DomainError
from transactions.documents import exports, pdf, selectors, services
from transactions.documents.forms import CashReceiptForm


def _organization(request):
    membership = request.active_membership or None
    return membership.organization if membership else None


@login_required
@require_GET
def documents(request):
    organization = _organization(request)
    if organization is None or not can(request.user, "accounts.view_org", organization):
        raise PermissionDenied(_("Receipts are shown to the members of the organization that bought."))
    page = Paginator(selectors.documents_for_buyer(organization), 30).get_page(request.GET.get("page"))
    return render(request, "transactions/documents/list.html", {"page": page})


@login_required
@require_GET
def document_detail(request, number):
    document = selectors.document_get_for_user(user=request.user, number=number)
    is_buyer = can(request.user, "accounts.buy_for_org", document.buyer)
    cash_problem = services.cash_receipt_eligibility(document.order) if is_buyer else True
    return render(
        request,
        "transactions/documents/detail.html",
        {
            "document": document,
            "s": document.snapshot,
            "cancellations": document.cancellations.order_by("number"),
            "cash_form": CashReceiptForm() if cash_problem is None and document.kind == "receipt" else None,
        },
    )


@login_required
@require_GET
def document_pdf(request, number):
    """The PDF, drawn from the frozen snapshot and streamed from memory (no file is kept)."""
    document = selectors.document_get_for_user(user=request.user, number=number)
    response = HttpResponse(pdf.render(document.snapshot), content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="document-{document.number}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def cash_receipt_request(request, number):
    document = selectors.document_get_for_user(user=request.user, number=number)
    form = CashReceiptForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter the kind and the number for the cash receipt."))
        return redirect("transactions:document", number=document.number)
    try:
        issued = services.cash_receipt_request(
            actor=request.user,
            order=document.order,
            registration_number=form.cleaned_data["registration_number"],
            receipt_type=form.cleaned_data["receipt_type"],
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("transactions:document", number=document.number)
    messages.success(request, _("The cash receipt is issued."))
    return redirect("transactions:document", number=issued.number)


def _month(request):
    month = selectors.parse_month(request.GET.get("month"))
    if month is None:
        today = timezone.localdate()
        month = today.replace(day=1)
    return month


def _tax_invoices(request, supplier: Organization, template: str, extra: dict):
    month = _month(request)
    rows = list(selectors.tax_documents_of_month(supplier=supplier, month=month))
    if request.GET.get("format") == "csv":
        response = HttpResponse(exports.tax_invoice_csv(rows), content_type="text/csv; charset=utf-8")
        name = f"tax-invoices-{digits_or_id(supplier)}-{month:%Y-%m}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return render(request, template, {"supplier": supplier, "month": month, "rows": rows, **extra})


def digits_or_id(organization: Organization) -> str:
    return services.digits(organization.brn_display) or str(organization.pk)


@login_required
@require_GET
def provider_tax_invoices(request):
    organization = _organization(request)
    if organization is None or not organization.is_provider or not can(request.user, "accounts.view_org", organization):
        raise PermissionDenied(_("This page is for the members of a provider organization."))
    return _tax_invoices(request, organization, "transactions/documents/tax_invoices.html", {"staff": False})


@staff_required
@require_GET
def staff_tax_invoices(request):
    organization_id = request.GET.get("organization", "")
    if not organization_id.isdigit():
        raise Http404
    supplier = get_object_or_404(Organization, pk=int(organization_id))
    return _tax_invoices(request, supplier, "transactions/documents/tax_invoices.html", {"staff": True})
