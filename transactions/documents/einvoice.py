"""The one point where an e-invoice service issues 전자세금계산서 / 전자계산서 for the documents of business buyers.

``EInvoiceIssuer.issue(document) -> EInvoiceResult``; the adapter is chosen by ``settings.E_INVOICE_ADAPTER``:

- ``"export"`` (the default, the only one built): nothing is sent anywhere. Each supplier's clerk downloads the
  month's 세금계산서 / 계산서 rows as the CSV of transactions.documents.exports (/provider/tax-invoices/) and issues
  them through 홈택스's 일괄발행 (the supplier is the issuer: its certificate, its NTS transmission). A month's
  invoices may be issued together by the 10th of the next month (부가가치세법 제34조③).

Another adapter is called after the issuing transaction commits (``send_on_commit``: never inside a transaction,
it is a network call), once per 세금계산서, 계산서, or cancellation of one.

How Popbill (Linkhub; the ``popbill`` package, ``TaxinvoiceService``) would map, not written:

- Set-up: ``TaxinvoiceService(LinkID, SecretKey)``, ``IsTest`` for the test bed; each *supplier* joins Popbill and
  registers its 공동인증서 (Popbill issues in the supplier's name). The adapter needs the supplier's Popbill
  CorpNum = its BRN (``snapshot["supplier"]["brn"]`` digits).
- ``issue(document)`` = ``RegistIssue(CorpNum, Taxinvoice, writeSpecification=False, forceIssue=False,
  memo, emailSubject)`` with ``Taxinvoice``: ``writeDate`` = ``snapshot["date"]`` (yyyyMMdd), ``chargeDirection
  "정과금"``, ``issueType "정발행"``, ``purposeType "영수"`` (paid; ``"청구"`` otherwise), ``taxType`` ``"과세"``
  (tax_invoice) or ``"면세"`` (invoice: 전자계산서), ``invoicerCorpNum/CorpName/CEOName/Addr/Email`` from
  ``snapshot["supplier"]``, ``invoiceeType "사업자"``, ``invoiceeCorpNum/CorpName/CEOName/Addr/Email1`` from
  ``snapshot["buyer"]``, ``supplyCostTotal``, ``taxTotal``, ``totalAmount`` from the snapshot totals,
  ``invoicerMgtKey`` = ``document.number`` (the idempotency key: Popbill refuses a second one with the same key),
  ``detailList`` = the snapshot's lines (``serialNum``, ``purchaseDT``, ``itemName``, ``supplyCost``, ``tax``).
- A cancellation: ``modifyCode 3`` (환입) with ``orgNTSConfirmNum`` of the original (so the adapter must have
  stored the NTS confirmation number of the original: its result row), negative amounts as on the document.
- Result: ``ntsconfirmNum`` once transmitted (``GetInfo`` ``stateCode``), ``GetPopUpURL``/``GetPDFURL`` for the
  e-invoice's own print. Errors: ``PopbillException(code, message)``, code −99999999 style; a refusal is final for
  that document, a network error is retried with the same ``invoicerMgtKey``.
- PortOne B2B (``portone-server-sdk`` ``B2bClient``) is the alternative with the same fields.

Before adding one: store its result per document in a new append-only table (the documents themselves are
immutable), register it in ``ADAPTERS`` and add the package (pinned) to requirements.txt.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils.module_loading import import_string

from transactions.documents.models import Document

logger = logging.getLogger(__name__)

INVOICE_KINDS = ("tax_invoice", "invoice")


@dataclass(frozen=True)
class EInvoiceResult:
    status: str  # "exported" (left to the monthly CSV), "issued", "refused"
    reference: str = ""  # the service's key or the NTS confirmation number
    message: str = ""
    raw: dict = field(default_factory=dict, repr=False)


@runtime_checkable
class EInvoiceIssuer(Protocol):
    name: str

    def issue(self, document: Document) -> EInvoiceResult: ...


class ExportIssuer:
    """Sends nothing: the supplier issues the month's invoices from the CSV (transactions.documents.exports)."""

    name = "export"

    def issue(self, document: Document) -> EInvoiceResult:
        return EInvoiceResult(status="exported", reference=document.number, message="monthly 홈택스 CSV")


ADAPTERS = {"export": "transactions.documents.einvoice.ExportIssuer"}


def get_issuer(name: str | None = None) -> EInvoiceIssuer:
    name = name or settings.E_INVOICE_ADAPTER
    if name not in ADAPTERS:
        raise ImproperlyConfigured(
            f"E_INVOICE_ADAPTER={name!r} is not available (choose from {', '.join(sorted(ADAPTERS))}); "
            "transactions/documents/einvoice.py explains how a Popbill adapter would map."
        )
    return import_string(ADAPTERS[name])()


def applies_to(document: Document) -> bool:
    """A 세금계산서 or 계산서, or the cancellation of one: what an e-invoice service issues."""
    if document.kind in INVOICE_KINDS:
        return True
    original = (document.snapshot or {}).get("original") or {}
    return document.kind == "cancellation" and original.get("kind") in INVOICE_KINDS


def send_on_commit(documents: list[Document]) -> None:
    """Hand the documents to the adapter after the issuing transaction commits (the export adapter: nothing to do)."""
    if not documents or settings.E_INVOICE_ADAPTER == "export":
        return
    ids = [document.pk for document in documents]

    def send():
        issuer = get_issuer()
        for document in Document.objects.filter(pk__in=ids):
            result = issuer.issue(document)
            logger.info(
                "e-invoice %s of document %s: %s %s", issuer.name, document.number, result.status, result.reference
            )

    transaction.on_commit(send)
