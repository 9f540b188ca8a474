"""Documents issued for money that moved (imported by transactions.models).

One document per ledger transaction and supplier: a paid order with lines of two providers gets two, since each
provider is the supplier of its own lines (the platform only sells on their behalf). Which kind:

- 세금계산서 (tax_invoice): the buyer gave a 사업자등록번호 and the supplier is VAT-taxable (부가가치세법 제32조).
  The record carries the 필요적 기재사항 (both registration numbers and names, 공급가액, 세액, 작성일자); the
  electronic invoice itself reaches the NTS through the supplier's 홈택스 upload (the monthly CSV) or an e-invoice
  service (transactions.documents.einvoice).
- 계산서 (invoice): the same for a VAT-exempt (면세) supplier: no VAT, the whole amount is 면세.
- 영수증 (receipt): a buyer without a registration number (제36조).
- 취소 영수증 (cancellation): a refund. It refers to the original document and carries negative amounts
  (the 마이너스 document: for a tax invoice, the 수정세금계산서 of the refunded part).
- 현금영수증 (cash_receipt): the record of a cash receipt the PG issued for a bank transfer (buyers without BRN).

Every printed value is copied into `snapshot` when the document is issued, so it never changes whatever happens
to the organizations, the order or the prices later; the PDF is drawn from the snapshot alone. Documents are
never edited or deleted: save() and delete() refuse, and so does a database trigger (migration 0013).
"""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from core.db import choices_constraint


class DocumentKind(models.TextChoices):
    RECEIPT = "receipt", _("Receipt (영수증)")
    CANCELLATION = "cancellation", _("Cancelling receipt (취소 영수증)")
    TAX_INVOICE = "tax_invoice", _("Tax invoice (세금계산서)")
    INVOICE = "invoice", _("Invoice, VAT exempt (계산서)")
    CASH_RECEIPT = "cash_receipt", _("Cash receipt (현금영수증)")


class DocumentCounter(models.Model):
    """The last number given per year: taken under a row lock in the transaction that issues the document, so
    numbers are unique and without gaps (a rolled-back issue gives its number back)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class Document(models.Model):
    Kind = DocumentKind

    kind = models.CharField(max_length=20, choices=DocumentKind.choices)
    # "2026-000042": sequential per year of issue, unique, without gaps.
    number = models.CharField(max_length=20, unique=True)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveIntegerField()
    issued_at = models.DateTimeField()
    ledger_transaction = models.ForeignKey(
        "transactions.LedgerTransaction", on_delete=models.PROTECT, related_name="documents"
    )
    order = models.ForeignKey("transactions.Order", on_delete=models.PROTECT, related_name="documents")
    # Null only for a cash receipt, which the PG issues for the whole payment.
    supplier = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="documents_supplied"
    )
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="documents_received")
    original = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="cancellations")
    # Signed totals (negative on a cancellation), copied from the snapshot for lists and sums.
    supply_krw = models.BigIntegerField()
    vat_krw = models.BigIntegerField()
    total_krw = models.BigIntegerField()
    tax_free_krw = models.BigIntegerField(default=0)
    # Everything printed, frozen at issue (see services.snapshot_for).
    snapshot = models.JSONField()

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        constraints = [
            choices_constraint("kind", DocumentKind, name="document_kind_valid"),
            # Issued once per ledger transaction and supplier, however often the issuing runs.
            models.UniqueConstraint(
                fields=["ledger_transaction", "supplier"],
                condition=~Q(kind="cash_receipt"),
                name="document_once_per_transaction_supplier",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(kind="cash_receipt"), name="document_one_cash_receipt_per_order"
            ),
            models.UniqueConstraint(fields=["year", "sequence"], name="document_number_once"),
            models.CheckConstraint(
                condition=Q(total_krw=models.F("supply_krw") + models.F("vat_krw")), name="document_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(supplier__isnull=False) | Q(kind="cash_receipt"), name="document_supplier_unless_cash"
            ),
            models.CheckConstraint(
                condition=Q(kind="cancellation", total_krw__lt=0) | (~Q(kind="cancellation") & Q(total_krw__gt=0)),
                name="document_sign_fits_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["buyer", "-issued_at"], name="document_buyer_recent"),
            models.Index(fields=["supplier", "issued_at"], name="document_supplier_month"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Documents are immutable once issued")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Documents are immutable once issued")

    @property
    def is_cancellation(self) -> bool:
        return self.kind == DocumentKind.CANCELLATION


class CashReceiptCancelState(models.TextChoices):
    PENDING = "pending", _("Waiting for the payment company")  # recorded with the refund; the PG not answered yet
    DONE = "done", _("Cancelled at the payment company")
    FAILED = "failed", _("Refused by the payment company")


class CashReceiptCancel(models.Model):
    """A refund's cancellation of the order's 현금영수증 at the PG (``POST /v1/cash-receipts/{receiptKey}/cancel``).

    Recorded `pending` in the refund's own transaction (transactions.refunds.services._complete), so a refund is
    never done without it; the PG is called after commit with no lock held (transactions.documents.services), the
    answer applied under a fresh row lock, and `cash_receipt_cancels_reconcile` (celery beat) asks again, with the
    same Idempotency-Key, about those left pending. The cash receipt's Document itself is never changed."""

    State = CashReceiptCancelState

    receipt = models.ForeignKey(Document, on_delete=models.PROTECT, related_name="cash_cancels")
    refund = models.OneToOneField("transactions.Refund", on_delete=models.PROTECT, related_name="cash_receipt_cancel")
    # What is cancelled; `full`: all that was left of the receipt (the PG is sent no amount).
    amount_krw = models.BigIntegerField()
    full = models.BooleanField(default=False)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(
        max_length=10, choices=CashReceiptCancelState.choices, default=CashReceiptCancelState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(null=True, blank=True)  # the lease of the call under way
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=80, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    gateway_response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("cash receipt cancellation")
        verbose_name_plural = _("cash receipt cancellations")
        constraints = [
            choices_constraint("state", CashReceiptCancelState, name="cash_receipt_cancel_state_valid"),
            models.CheckConstraint(condition=Q(amount_krw__gt=0), name="cash_receipt_cancel_amount_positive"),
        ]
        indexes = [models.Index(fields=["state", "attempted_at"], name="cash_cancel_pending")]

    def __str__(self):
        return f"cancel {self.amount_krw:,} KRW of cash receipt {self.receipt_id} ({self.state})"
