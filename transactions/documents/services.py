"""Issuing documents (transactions.documents.models): the only place they are written.

- `document_issue_for(ledger_transaction)`: a `payment` gives each supplier of the order its receipt, 세금계산서 or
  계산서; a `refund` gives the supplier of the refunded lines a cancelling document (negative amounts) referring to
  the original. Called in the same database transaction as the ledger booking (order_mark_paid; the refund
  service). Idempotent: once per ledger transaction and supplier (a unique constraint; a second call returns the
  documents already issued).
- `cash_receipt_request(...)`: a buyer without a registration number who paid by bank transfer asks for a
  현금영수증 (of what is left after refunds); the PG issues it (no lock or transaction is held across that call) and
  a record is kept.
- `cash_receipt_cancel_record(refund)`: a refund of an order with a cash receipt records its cancellation in the
  refund's transaction; `cash_receipt_cancel_send` asks the PG after commit; `cash_receipt_cancels_reconcile`
  (beat) finishes those left pending.

Amounts: a line's 공급가액 / 부가세 / 합계 are the order line's own (catalog.pricing, copied at checkout); a line of a
면세 supplier has no VAT and its whole amount is 면세. A refunded part is split as the ledger booked it (the VAT
entry of the refund), so the document and the ledger always agree.
"""

import logging
import re
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.transitions import transition
from transactions import tasks
from transactions.documents import einvoice
from transactions.documents.models import CashReceiptCancel, Document, DocumentCounter, DocumentKind
from transactions.models import LedgerAccount, LedgerEntry, LedgerTransaction, Order, OrderItem, RefundLine
from transactions.payments.gateway import GatewayDeclined, GatewayError, GatewayUnavailable, get_card_gateway

logger = logging.getLogger(__name__)

K = LedgerAccount.Kind
D = DocumentKind
ORIGINAL_KINDS = (D.RECEIPT, D.TAX_INVOICE, D.INVOICE)

TITLES = {
    D.RECEIPT: ("영수증", "Receipt"),
    D.TAX_INVOICE: ("세금계산서 (공급받는자 보관용)", "Tax invoice (buyer's copy)"),
    D.INVOICE: ("계산서 (공급받는자 보관용)", "Invoice, VAT exempt (buyer's copy)"),
    D.CANCELLATION: ("취소 영수증 (마이너스)", "Cancelling receipt (negative)"),
    D.CASH_RECEIPT: ("현금영수증 발급 내역", "Cash receipt record"),
}
CANCELLATION_TITLES = {
    D.TAX_INVOICE: ("수정세금계산서 (환입, 마이너스)", "Amended tax invoice (refund, negative)"),
    D.INVOICE: ("수정계산서 (환입, 마이너스)", "Amended invoice (refund, negative)"),
}


def digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def _next_number(year: int) -> tuple[int, str]:
    """The next number of the year, under a row lock held until the issuing transaction ends: unique and gap-free
    (a rolled-back issue rolls its number back too)."""
    DocumentCounter.objects.bulk_create([DocumentCounter(year=year)], ignore_conflicts=True)
    counter = DocumentCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last, f"{year}-{counter.last:06d}"


def _party(organization: Organization) -> dict:
    return {
        "name": organization.name_ko,
        "name_en": organization.name_en,
        "brn": organization.brn_display,
        "representative": organization.representative,
        "address": organization.address,
        "email": organization.contact_email,
        "vat_status": organization.vat_status,
    }


def _buyer(order: Order) -> dict:
    """The buyer as billed at checkout (the order's copy), with the organization's representative."""
    return {
        "name": order.billing_name,
        "name_en": order.buyer.name_en,
        "brn": order.billing_brn,
        "representative": order.buyer.representative,
        "address": order.billing_address,
        "email": order.billing_email,
    }


def _line(item: OrderItem, supply: int, vat: int) -> dict:
    return {
        "item": item.pk,
        "title": item.title,
        "title_en": (item.terms or {}).get("title_en", ""),
        "kind": item.kind,
        "supply_krw": supply,
        "vat_krw": vat,
        "total_krw": supply + vat,
        "tax_free": item.tax_free,
    }


def _kind_for(order: Order, supplier: Organization) -> str:
    if not digits(order.billing_brn):
        return D.RECEIPT
    return D.INVOICE if supplier.vat_status == Organization.VatStatus.EXEMPT else D.TAX_INVOICE


def _issue(*, kind, booked, order, supplier, lines, issued_at, original=None, extra=None) -> Document:
    local = timezone.localtime(issued_at)
    sequence, number = _next_number(local.year)
    supply = sum(line["supply_krw"] for line in lines)
    vat = sum(line["vat_krw"] for line in lines)
    tax_free = sum(line["total_krw"] for line in lines if line["tax_free"])
    title_ko, title_en = CANCELLATION_TITLES.get(original.kind, TITLES[kind]) if original is not None else TITLES[kind]
    snapshot = {
        "kind": kind,
        "title_ko": title_ko,
        "title_en": title_en,
        "number": number,
        "issued_at": local.isoformat(),
        "date": local.date().isoformat(),  # 작성일자
        "order_number": order.number,
        "payment_method": order.method,
        "settlement": "영수",  # paid: 영수 (not 청구)
        "supplier": _party(supplier) if supplier is not None else None,
        "buyer": _buyer(order),
        "lines": lines,
        "supply_krw": supply,
        "vat_krw": vat,
        "total_krw": supply + vat,
        "tax_free_krw": tax_free,
        "taxable_supply_krw": supply - tax_free,
        "original": (
            {"number": original.number, "kind": original.kind, "date": original.snapshot["date"]} if original else None
        ),
        **(extra or {}),
    }
    return Document.objects.create(
        kind=kind,
        number=number,
        year=local.year,
        sequence=sequence,
        issued_at=issued_at,
        ledger_transaction=booked,
        order=order,
        supplier=supplier,
        buyer_id=order.buyer_id,
        original=original,
        supply_krw=supply,
        vat_krw=vat,
        total_krw=supply + vat,
        tax_free_krw=tax_free,
        snapshot=snapshot,
    )


def _by_supplier(items) -> dict:
    grouped = defaultdict(list)
    for item in items:
        grouped[item.seller_id].append(item)
    return grouped


@transaction.atomic
def document_issue_for(ledger_transaction: LedgerTransaction) -> list[Document]:
    """Issue the documents of a `payment` or `refund` ledger transaction (other kinds issue none). Call it in the
    transaction that booked it. Returns the documents of that transaction, issued now or before."""
    booked = ledger_transaction
    if booked.kind not in (LedgerTransaction.Kind.PAYMENT, LedgerTransaction.Kind.REFUND) or booked.order_id is None:
        return []
    order = Order.objects.select_related("buyer").get(pk=booked.order_id)
    done = {d.supplier_id: d for d in Document.objects.filter(ledger_transaction=booked).exclude(kind=D.CASH_RECEIPT)}
    entries = LedgerEntry.objects.filter(transaction=booked, order_item__isnull=False)
    item_ids = set(entries.values_list("order_item_id", flat=True))
    items = list(OrderItem.objects.filter(pk__in=item_ids).select_related("seller").order_by("pk"))
    suppliers = {item.seller_id: item.seller for item in items}
    issued_at = booked.created_at or timezone.now()
    issued = []
    if booked.kind == LedgerTransaction.Kind.PAYMENT:
        for supplier_id, lines in sorted(_by_supplier(items).items()):
            if supplier_id in done:
                continue
            supplier = suppliers[supplier_id]
            if not any(item.total_krw for item in lines):
                continue
            issued.append(
                _issue(
                    kind=_kind_for(order, supplier),
                    booked=booked,
                    order=order,
                    supplier=supplier,
                    lines=[_line(item, item.supply_krw, item.vat_krw) for item in lines if item.total_krw],
                    issued_at=issued_at,
                )
            )
    else:
        # What was refunded of the supply, whoever gets the money back (the buyer, or the data voucher): the
        # provider side of the refund (its supply less commission, the commission and the VAT reversed).
        refunded = {
            row["order_item"]: row["total"]
            for row in entries.filter(account__kind__in=(K.PROVIDER_PAYABLE, K.COMMISSION, K.PROVIDER_VAT))
            .values("order_item")
            .annotate(total=Sum("amount_krw"))
        }
        vat_back = {
            row["order_item"]: row["total"]
            for row in entries.filter(account__kind=K.PROVIDER_VAT)
            .values("order_item")
            .annotate(total=Sum("amount_krw"))
        }
        for supplier_id, lines in sorted(_by_supplier(items).items()):
            if supplier_id in done:
                continue
            lines = [item for item in lines if refunded.get(item.pk)]
            if not lines:
                continue
            original = (
                Document.objects.filter(order=order, supplier_id=supplier_id, kind__in=ORIGINAL_KINDS)
                .order_by("issued_at", "pk")
                .first()
            )
            issued.append(
                _issue(
                    kind=D.CANCELLATION,
                    booked=booked,
                    order=order,
                    supplier=suppliers[supplier_id],
                    lines=[
                        _line(
                            item,
                            -(refunded[item.pk] - vat_back.get(item.pk, 0)),
                            -vat_back.get(item.pk, 0),
                        )
                        for item in lines
                    ],
                    issued_at=issued_at,
                    original=original,
                )
            )
    einvoice.send_on_commit([doc for doc in issued if einvoice.applies_to(doc)])
    return sorted([*done.values(), *issued], key=lambda doc: doc.number)


# --- 현금영수증 ------------------------------------------------------------------------------------------------

CASH_RECEIPT_TYPES = {
    # Toss's words; PortOne calls them PERSONAL / CORPORATE.
    "income_deduction": "소득공제",  # an individual: phone number (or cash-receipt card number)
    "expense_proof": "지출증빙",  # a business: its registration number
}


def cash_receipt_eligibility(order: Order, now=None):
    """Why the order cannot have a cash receipt (a lazy message), or None when it can: paid by bank transfer,
    billed to nobody with a registration number (those get a 세금계산서), not refunded in full, none issued yet,
    and asked within CASH_RECEIPT_REQUEST_DAYS of payment."""
    now = now or timezone.now()
    if order.method != Order.Method.BANK_TRANSFER or order.paid_at is None:
        return _("A cash receipt is for an order paid by bank transfer (a card slip is the receipt of a card payment).")
    if digits(order.billing_brn):
        return _("This order is billed to a business registration number: its tax invoice is the document.")
    if order.state == Order.State.REFUNDED or cash_receipt_payment(order) is None:
        return _("This order was refunded.")
    if Document.objects.filter(order=order, kind=D.CASH_RECEIPT).exists():
        return _("A cash receipt was already issued for this order.")
    if now > order.paid_at + timedelta(days=settings.CASH_RECEIPT_REQUEST_DAYS):
        return _("The time to ask for a cash receipt for this order has passed.")
    return None


CASH_RECEIPT_PAYMENT_STATES = ("done", "partially_refunded")


def cash_receipt_payment(order: Order):
    """The bank-transfer payment a cash receipt is for (done, or partly refunded), or None when none has money left."""
    payment = order.payments.filter(state__in=CASH_RECEIPT_PAYMENT_STATES).order_by("-pk").first()
    if payment is None or cash_receipt_amounts(order, payment)[0] <= 0:
        return None
    return payment


def cash_receipt_amounts(order: Order, payment) -> tuple[int, int]:
    """What the cash receipt is for: the payment less the buyer's own share of the done refunds (what went back
    through it; a data voucher's share never went through the payment), and its tax-free (면세) part (the buyer's
    own tax-free part, `due_tax_free_krw`, which a data voucher lowers, less the buyer's share of the tax-free
    lines' refunds), never more than the amount."""
    done = payment.refunds.filter(state="done")
    own = F("amount_krw") - F("voucher_krw")
    back = done.aggregate(total=Sum(own))["total"] or 0
    tax_free_back = (
        RefundLine.objects.filter(refund__in=done, order_item__tax_free=True).aggregate(total=Sum(own))["total"] or 0
    )
    amount = payment.amount_krw - back
    return amount, max(0, min(amount, order.due_tax_free_krw() - tax_free_back))


def _net_lines(order: Order, items) -> list[dict]:
    """The buyer's own share of the order's lines (what the payment carried: a data voucher's share is not the
    buyer's cash) less the buyer's share of the done refunds: the cash receipt's record, whose total is the amount
    the PG is asked to issue (`cash_receipt_amounts`). VAT is split as the line's net figures after its cancelling
    documents (refunds) are, in proportion to the buyer's share (rounded down; the whole of it without a voucher)."""
    back: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for document in Document.objects.filter(order=order, kind=D.CANCELLATION):
        for line in document.snapshot.get("lines", []):
            back[line["item"]][0] += line["supply_krw"]
            back[line["item"]][1] += line["vat_krw"]
    own_back = {
        row["order_item"]: row["total"]
        for row in RefundLine.objects.filter(refund__order=order, refund__state="done")
        .values("order_item")
        .annotate(total=Sum(F("amount_krw") - F("voucher_krw")))
    }
    lines = []
    for item in items:
        supply, vat = item.supply_krw + back[item.pk][0], item.vat_krw + back[item.pk][1]
        own = item.total_krw - item.voucher_krw - (own_back.get(item.pk) or 0)
        if own <= 0:
            continue
        if own != supply + vat:  # part of what is left is the voucher's
            vat = vat * own // (supply + vat) if supply + vat > 0 else 0
            supply = own - vat
        lines.append(_line(item, supply, vat))
    return lines


def _cash_idempotency_key(order: Order) -> str:
    # The same for every attempt of one order: a retry after a timeout gets the PG's first answer.
    return str(uuid.uuid5(order.checkout_token, "cash-receipt"))


def cash_receipt_request(*, actor, order: Order, registration_number: str, receipt_type: str) -> Document:
    """Ask the PG for a 현금영수증 of a bank-transfer order and keep its record (a Document of kind cash_receipt).

    Checked under the order lock, then the lock is released before the PG is called (never held across a
    network call); the answer is recorded under a fresh lock. The Idempotency-Key is fixed per order, so two
    requests at once, or a retry after a lost answer, issue one receipt at the PG; the database keeps one record
    per order (a unique constraint). The record is of what the PG issued (the lines as they were when it was
    asked); a refund done meanwhile found no receipt to cancel, so its part is recorded as a pending cancellation
    with the receipt (the whole receipt if nothing is left) and sent after commit."""
    if not can(actor, "accounts.buy_for_org", order.buyer) and not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only a buyer of the organization that placed the order can ask for its cash receipt."))
    if receipt_type not in CASH_RECEIPT_TYPES:
        raise DomainError(_("Choose the kind of cash receipt."), code="cash_receipt_type")
    number = digits(registration_number)
    if not 10 <= len(number) <= 18:
        raise DomainError(
            _("Enter the phone number or cash-receipt card number (10 to 18 digits)."), code="cash_receipt_number"
        )
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        problem = cash_receipt_eligibility(locked)
        if problem:
            raise DomainError(problem, code="cash_receipt_not_available")
        payment = cash_receipt_payment(locked)
        booked = LedgerTransaction.objects.filter(kind=LedgerTransaction.Kind.PAYMENT, order=locked).first()
        if payment is None or booked is None:
            raise DomainError(
                _("This order has no payment to issue a cash receipt for."), code="cash_receipt_no_payment"
            )
        amount, tax_free = cash_receipt_amounts(locked, payment)
        # The record is of what the PG is asked to issue now, whatever is refunded before its answer is recorded.
        lines = _net_lines(locked, list(locked.items.select_related("seller").order_by("pk")))
        refunds_before = set(locked.refunds.filter(state="done").values_list("pk", flat=True))
    gateway = get_card_gateway()
    try:
        answer = gateway.issue_cash_receipt(
            order_number=order.number,
            amount=amount,
            tax_free_amount=tax_free,
            registration_number=number,
            type=CASH_RECEIPT_TYPES[receipt_type],
            order_name=f"{order.number}",
            idempotency_key=_cash_idempotency_key(order),
        )
    except GatewayError as exc:
        raise DomainError(exc.message, code=f"cash_receipt_{exc.code or 'refused'}".lower()[:60]) from exc
    with transaction.atomic():
        locked = Order.objects.select_for_update(of=("self",)).select_related("buyer").get(pk=order.pk)
        existing = Document.objects.filter(order=locked, kind=D.CASH_RECEIPT).first()
        if existing is not None:
            return existing
        masked = number[:3] + "*" * (len(number) - 7) + number[-4:]
        document = _issue(
            kind=D.CASH_RECEIPT,
            booked=booked,
            order=locked,
            supplier=None,
            lines=lines,
            issued_at=timezone.now(),
            extra={
                "cash_receipt": {
                    "type": CASH_RECEIPT_TYPES[receipt_type],
                    "registration_number": masked,
                    "receipt_key": answer.receipt_key,
                    "issue_number": answer.issue_number,
                    "receipt_url": answer.receipt_url,
                    "status": answer.status,
                    "amount": answer.amount,
                    "tax_free_amount": tax_free,
                    "pg": gateway.name,
                },
            },
        )
        audit(
            actor=actor,
            action="document.cash_receipt",
            obj=document,
            organization=locked.buyer,
            data={"order": locked.number, "amount_krw": amount, "receipt_key": answer.receipt_key},
        )
        # A refund done while the PG was issuing found no receipt to cancel: its part is cancelled now (pending,
        # sent after commit by the task, or by the reconciliation), the whole receipt if nothing of it is left.
        for refund in locked.refunds.filter(state="done").exclude(pk__in=refunds_before).order_by("done_at", "pk"):
            cash_receipt_cancel_record(refund)
        return document


# --- cancelling a 현금영수증 when its order is refunded ---------------------------------------------------------


def cash_receipt_cancel_record(refund) -> CashReceiptCancel | None:
    """Inside a refund's own transaction (transactions.refunds.services._complete, order locked): when the order has
    a cash receipt, record the cancellation of the refunded part of it (`pending`), and ask the PG after commit
    (`cash_receipt_cancel_send`). The whole receipt (no amount sent) when nothing of it is left afterwards. None when
    there is nothing to cancel (no cash receipt, or none of it left)."""
    receipt = Document.objects.filter(order_id=refund.order_id, kind=D.CASH_RECEIPT).first()
    if receipt is None or refund.payment.method != Order.Method.BANK_TRANSFER:
        return None
    issued = int(receipt.snapshot.get("cash_receipt", {}).get("amount") or receipt.total_krw)
    cancelled = (
        CashReceiptCancel.objects.filter(receipt=receipt)
        .exclude(state=CashReceiptCancel.State.FAILED)
        .aggregate(total=Sum("amount_krw"))["total"]
        or 0
    )
    left = issued - cancelled
    # Only the buyer's own share went back through the payment; the voucher's share was never on the receipt.
    amount = min(refund.own_krw, left)
    if amount <= 0:
        return None
    cancel = CashReceiptCancel.objects.create(receipt=receipt, refund=refund, amount_krw=amount, full=amount == left)
    audit(
        actor=None,
        action="document.cash_receipt_cancel_recorded",
        obj=receipt,
        organization_id=receipt.buyer_id,
        data={"refund": refund.pk, "amount_krw": amount, "full": cancel.full, "cancel": cancel.pk},
    )
    pk = cancel.pk
    # robust: a broker outage must not undo the refund; the reconciliation (beat) sends what stayed pending.
    transaction.on_commit(lambda: tasks.cash_receipt_cancel_task.delay(pk), robust=True)
    return cancel


def _cancel_lease_is_fresh(cancel: CashReceiptCancel, now) -> bool:
    started = cancel.attempted_at
    return started is not None and started > now - timedelta(seconds=settings.PAYMENT_CONFIRM_LEASE_SECONDS)


@transaction.atomic
def _cancel_claim(cancel_pk: int) -> CashReceiptCancel | None:
    """Step 1: the row locked (skipped if busy), still pending and no call under way: a fresh lease, committed."""
    cancel = (
        CashReceiptCancel.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("receipt")
        .filter(pk=cancel_pk)
        .first()
    )
    now = timezone.now()
    if cancel is None or cancel.state != CashReceiptCancel.State.PENDING or _cancel_lease_is_fresh(cancel, now):
        return None
    cancel.attempted_at = now
    cancel.attempts += 1
    cancel.save(update_fields=["attempted_at", "attempts"])
    return cancel


def cash_receipt_cancel_send(cancel_pk: int, *, source: str) -> CashReceiptCancel:
    """Ask the PG to cancel a recorded cash-receipt cancellation: claimed under the row lock, called with no
    transaction open, the answer applied under a fresh lock. The same Idempotency-Key every time, so a cancel that
    reached the PG before is answered, not made twice. No answer leaves it pending (the lease dropped)."""
    claimed = _cancel_claim(cancel_pk)
    if claimed is None:
        return CashReceiptCancel.objects.get(pk=cancel_pk)
    assert not transaction.get_connection().in_atomic_block, "never call the PG inside a transaction"
    receipt_key = claimed.receipt.snapshot.get("cash_receipt", {}).get("receipt_key", "")
    gateway = get_card_gateway()
    answer = error = None
    try:
        answer = gateway.cancel_cash_receipt(
            receipt_key, None if claimed.full else claimed.amount_krw, str(claimed.idempotency_key)
        )
    except GatewayError as exc:
        error = exc
    with transaction.atomic():
        cancel = CashReceiptCancel.objects.select_for_update(of=("self",)).select_related("receipt").get(pk=cancel_pk)
        if cancel.state != CashReceiptCancel.State.PENDING:
            return cancel  # finished by another run meanwhile
        now = timezone.now()
        data = {"refund": cancel.refund_id, "amount_krw": cancel.amount_krw, "source": source}
        if isinstance(error, GatewayUnavailable) or (error is not None and not isinstance(error, GatewayDeclined)):
            if cancel.attempted_at == claimed.attempted_at:
                cancel.attempted_at = None  # our lease ends: the reconciliation asks again
                cancel.gateway_response = {"error": error.as_event()}
                cancel.save(update_fields=["attempted_at", "gateway_response"])
            return cancel
        if error is not None:
            cancel.failure_code = (error.code or "")[:80]
            cancel.failure_message = (error.pg_message or str(error.message))[:500]
            cancel.failed_at, cancel.gateway_response = now, error.raw or {}
            transition(
                cancel,
                to=CashReceiptCancel.State.FAILED,
                actor=None,
                reason=cancel.failure_message,
                fields=("failure_code", "failure_message", "failed_at", "gateway_response"),
                data=data,
            )
            logger.error("the PG refused to cancel cash receipt %s: %s", cancel.receipt.number, error)
            return cancel
        cancel.done_at, cancel.gateway_response = now, answer.raw
        transition(
            cancel,
            to=CashReceiptCancel.State.DONE,
            actor=None,
            fields=("done_at", "gateway_response"),
            data={**data, "status": answer.status},
        )
        return cancel


def cash_receipt_cancels_reconcile(*, limit: int = 200) -> dict:
    """Celery beat (with refunds_reconcile): cancellations left pending, whose call died or was not answered, older
    than PAYMENT_RECONCILE_AFTER_SECONDS, are sent again with their own Idempotency-Key. Returns counts by outcome."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    lease = now - timedelta(seconds=settings.PAYMENT_CONFIRM_LEASE_SECONDS)
    due = CashReceiptCancel.objects.filter(state=CashReceiptCancel.State.PENDING, created_at__lt=cutoff).filter(
        Q(attempted_at__isnull=True) | Q(attempted_at__lt=lease)
    )
    counts: dict[str, int] = {}
    for pk in list(due.order_by("pk").values_list("pk", flat=True)[:limit]):
        try:
            outcome = cash_receipt_cancel_send(pk, source="reconcile").state
        except Exception:  # one bad row must not stop the others; logged and tried again next run
            logger.exception("reconciling cash receipt cancellation %s failed", pk)
            outcome = "error"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
