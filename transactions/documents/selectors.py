"""Reads of documents, with who may see them: the buyer organization's members, the supplier's members and
platform admins (anyone else gets 404, with no hint that the document exists)."""

import re
from datetime import date

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Organization
from accounts.permissions import can
from transactions.documents.models import Document, DocumentKind
from transactions.models import Order

NUMBER = re.compile(r"^[0-9]{4}-[0-9]{6,}$")
MONTH = re.compile(r"^(?P<year>20[0-9]{2})-(?P<month>0[1-9]|1[0-2])$")


def can_see(user, document: Document) -> bool:
    return (
        can(user, "accounts.platform_admin")
        or can(user, "accounts.view_org", document.buyer)
        or (document.supplier_id is not None and can(user, "accounts.view_org", document.supplier))
    )


def document_get_for_user(*, user, number: str) -> Document:
    document = (
        Document.objects.filter(number=number).select_related("buyer", "supplier", "order", "original").first()
        if NUMBER.fullmatch(number or "")
        else None
    )
    if document is None or not can_see(user, document):
        raise Http404
    return document


def documents_for_buyer(
    organization: Organization | None, *, month: date | None = None, kind: str = ""
) -> QuerySet[Document]:
    """The buyer organization's documents; `month` (작성일자, Korean time) and `kind` narrow them (the API's
    filters)."""
    if organization is None:
        return Document.objects.none()
    documents = Document.objects.filter(buyer=organization).select_related("supplier", "order", "original")
    if month is not None:
        documents = documents.filter(year=month.year, snapshot__date__startswith=f"{month:%Y-%m}")
    if kind:
        documents = documents.filter(kind=kind)
    return documents


def documents_of_order(order: Order) -> list[Document]:
    return list(order.documents.select_related("supplier", "original").order_by("issued_at", "number"))


def parse_month(value: str | None) -> date | None:
    match = MONTH.fullmatch(value or "")
    return date(int(match["year"]), int(match["month"]), 1) if match else None


def tax_documents_of_month(*, supplier: Organization, month: date) -> QuerySet[Document]:
    """The supplier's 세금계산서 and 계산서 written in the month (작성일자, Korean time), and the cancellations of
    such documents: what its clerk issues through 홈택스."""
    invoice_kinds = [DocumentKind.TAX_INVOICE, DocumentKind.INVOICE]
    return (
        Document.objects.filter(supplier=supplier, year=month.year, snapshot__date__startswith=f"{month:%Y-%m}")
        .filter(Q(kind__in=invoice_kinds) | Q(kind=DocumentKind.CANCELLATION, original__kind__in=invoice_kinds))
        .select_related("original")
        .order_by("number")
    )
