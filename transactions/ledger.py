"""The double-entry ledger: every payment, refund, voucher settlement and payout is one balanced
`LedgerTransaction`, written in the same database transaction as the event it records.

Signs: a debit is positive, a credit negative; every transaction's entries sum to zero (a deferred database trigger
refuses any other commit, and nothing is ever updated or deleted: a correction is a new transaction).

Accounts (transactions.models.LedgerAccountKind): the platform's cash, commission and voucher receivable; per
provider the supply it is owed (after commission) and the VAT it charged; per buyer the refunds paid back to it.
A payment of an order line with supply S and VAT V (total S + V) books

    Dr cash S + V   /   Cr provider_payable S − C,  Cr commission C,  Cr provider_vat V

where C = commission_of(S). A line partly paid by a 데이터바우처 (OrderItem.voucher_krw = W) debits cash only with what
the buyer paid (S + V − W) and voucher_receivable with W, the credits unchanged; when the agency pays, a
voucher_settlement moves W from voucher_receivable to cash (per line, never more than is outstanding).

**Rounding rule**: the commission is PLATFORM_COMMISSION_PERCENT of the supply, rounded down to the won (the
provider never receives less than its share because of rounding), on each order line, never on the VAT.

**Refunds.** A refund books the reverse of the part refunded, in proportion (cumulatively, so many partial refunds
add up to exactly the reverse of the payment): Dr provider_payable, commission, provider_vat. Who gets the money
back is the **voucher split**: a refund of A on a line with total T and voucher part W goes

- to the voucher, `voucher_share` = ⌊(R + A) × W / T⌋ − (what earlier refunds of the line gave the voucher), R what
  was refunded of the line before (cumulative rounding like the VAT: refunding the whole line gives the voucher
  back exactly W, the buyer exactly T − W); clamped so neither side gets more than is left of its part;
- to the buyer, the rest (A − voucher share): Cr refund_payable, paid back through the payment (the PG's cancel
  amount, or the admin's bank transfer: record_refund_paid), so the buyer never gets back more than it paid
  (Payment.amount_krw = Σ (T − W)).

The voucher share reverses the receivable while the agency has not paid it (Cr voucher_receivable, at most what is
outstanding on the line, which so never goes negative); once the agency paid (settled), it is owed back to the
agency instead (Cr voucher_payable, a platform account), and paying the agency back (record_voucher_repaid) moves it
out of cash. The voucher's balance is restored by the refund service (VoucherUse.returned_krw). A payout moves what a
provider is owed out of cash, never more than it is owed.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from core.errors import DomainError
from core.text import lazy_percent
from transactions.models import (
    PLATFORM_ACCOUNTS,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    OrderItem,
    Payment,
)

K = LedgerAccount.Kind
T = LedgerTransaction.Kind


def commission_of(supply_krw: int) -> int:
    """The platform's commission on a line's supply (excluding VAT): the percentage, rounded down to the won."""
    return supply_krw * settings.PLATFORM_COMMISSION_PERCENT // 100


def account(kind: str, organization: Organization | int | None = None) -> LedgerAccount:
    """The account of this kind (the platform's when organization is None), made on first use."""
    organization_id = getattr(organization, "pk", organization)
    if (kind in PLATFORM_ACCOUNTS) != (organization_id is None):
        raise ValueError(f"{kind} is {'a platform' if kind in PLATFORM_ACCOUNTS else 'an organization'} account")
    row, _created = LedgerAccount.objects.get_or_create(kind=kind, organization_id=organization_id)
    return row


@dataclass(frozen=True)
class Line:
    """One entry to write: account, signed amount (debit +, credit −), the order line it concerns."""

    account: LedgerAccount
    amount_krw: int
    order_item: OrderItem | None = None


def post(*, kind: str, lines: list[Line], order=None, payment=None, memo: str = "", actor=None) -> LedgerTransaction:
    """Write one balanced transaction (inside the caller's database transaction). Zero amounts are left out."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger.post must run inside the transaction of the event it records")
    lines = [line for line in lines if line.amount_krw]
    if sum(line.amount_krw for line in lines) != 0 or not lines:
        raise ValueError(f"unbalanced ledger transaction: {[(l.account.kind, l.amount_krw) for l in lines]}")
    booked = LedgerTransaction.objects.create(
        kind=kind,
        order=order,
        payment=payment,
        memo=memo[:300],
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    LedgerEntry.objects.bulk_create(
        LedgerEntry(transaction=booked, account=line.account, amount_krw=line.amount_krw, order_item=line.order_item)
        for line in lines
    )
    return booked


def record_payment(*, order: Order, payment: Payment | None) -> LedgerTransaction | None:
    """Book a paid order's money: per line the cash the buyer paid and the voucher's part (due from the agency),
    and the provider's supply less commission, the commission and the provider's VAT. A free order moves no money (None). Booked once per payment (a unique constraint)."""
    items = list(order.items.all())
    if not order.total_krw:
        return None
    if payment is not None and LedgerTransaction.objects.filter(kind=T.PAYMENT, payment=payment).exists():
        return LedgerTransaction.objects.get(kind=T.PAYMENT, payment=payment)
    lines = []
    for item in items:
        commission = commission_of(item.supply_krw)
        lines += [
            # What the buyer paid of the line, and what the voucher agency owes for it.
            Line(account(K.CASH), item.total_krw - item.voucher_krw, item),
            Line(account(K.VOUCHER_RECEIVABLE), item.voucher_krw, item),
            Line(account(K.PROVIDER_PAYABLE, item.seller_id), -(item.supply_krw - commission), item),
            Line(account(K.COMMISSION), -commission, item),
            Line(account(K.PROVIDER_VAT, item.seller_id), -item.vat_krw, item),
        ]
    return post(kind=T.PAYMENT, lines=lines, order=order, payment=payment, memo=f"order {order.number}")


def voucher_outstanding_on(item: OrderItem) -> int:
    """What the voucher agency still owes for an order line (its voucher part booked, less what it paid)."""
    total = LedgerEntry.objects.filter(order_item=item, account__kind=K.VOUCHER_RECEIVABLE).aggregate(
        total=Sum("amount_krw")
    )["total"]
    return total or 0


def record_voucher_settlement(*, order: Order, actor=None, memo: str = "") -> LedgerTransaction:
    """The voucher agency paid the voucher part of `order`: per line, Dr cash / Cr voucher_receivable with what is
    outstanding on it. Raises DomainError when nothing is outstanding (never settled twice, never negative)."""
    lines = []
    for item in order.items.all():
        outstanding = voucher_outstanding_on(item)
        if outstanding > 0:
            lines += [Line(account(K.CASH), outstanding, item), Line(account(K.VOUCHER_RECEIVABLE), -outstanding, item)]
    if not lines:
        raise DomainError(
            lazy_percent(_("Nothing is due from the voucher agency for order %(number)s."), {"number": order.number}),
            code="voucher_nothing_due",
        )
    return post(kind=T.VOUCHER_SETTLEMENT, lines=lines, order=order, memo=memo, actor=actor)


def _refund_credits(item: OrderItem, kinds) -> int:
    total = LedgerEntry.objects.filter(order_item=item, transaction__kind=T.REFUND, account__kind__in=kinds).aggregate(
        total=Sum("amount_krw")
    )["total"]
    return -(total or 0)


VOUCHER_KINDS = (K.VOUCHER_RECEIVABLE, K.VOUCHER_PAYABLE)


def refunded_on(item: OrderItem) -> int:
    """What was granted back of an order line so far: what its refunds made owed to the buyer plus what they gave
    back to the voucher."""
    return _refund_credits(item, (K.REFUND_PAYABLE, *VOUCHER_KINDS))


def voucher_refunded_on(item: OrderItem) -> int:
    """What refunds of an order line gave back to the voucher so far (receivable reversed, or owed to the agency)."""
    return _refund_credits(item, VOUCHER_KINDS)


def voucher_share(
    *, total_krw: int, voucher_krw: int, before_krw: int, voucher_before_krw: int, amount_krw: int
) -> int:
    """The voucher's share of refunding `amount_krw` of a line (total `total_krw`, voucher part `voucher_krw`) after
    `before_krw` was refunded of it, `voucher_before_krw` of that to the voucher: the rule in the module docstring.
    Cumulatively rounded down; never more than is left of the voucher's part nor less than what the buyer's part
    cannot take, so a refund of everything left returns exactly what is left of each part."""
    if not voucher_krw or not total_krw:
        return 0
    share = (before_krw + amount_krw) * voucher_krw // total_krw - voucher_before_krw
    voucher_left = voucher_krw - voucher_before_krw
    own_left = (total_krw - voucher_krw) - (before_krw - voucher_before_krw)
    return min(max(share, amount_krw - own_left, 0), voucher_left, amount_krw)


def record_refund(
    *, item: OrderItem, amount_krw: int, voucher_krw: int | None = None, payment=None, actor=None, memo: str = ""
) -> LedgerTransaction:
    """Book giving back `amount_krw` of an order line: the reverse, in proportion, of what its payment booked (its
    VAT, and the commission *booked then*, whatever the rate is now; both rounded down), never more than was paid
    for it. `voucher_krw` is the voucher's share of it (the refund service passes what it stored on the refund
    line; None: computed here by `voucher_share`); the rest is owed back to the buyer."""
    amount_krw = int(amount_krw)
    already = refunded_on(item)
    if amount_krw <= 0 or already + amount_krw > item.total_krw:
        raise DomainError(
            _("A refund must be more than 0 and at most what is left of the line's total."), code="refund_amount"
        )
    voucher_before = voucher_refunded_on(item)
    if voucher_krw is None:
        voucher_krw = voucher_share(
            total_krw=item.total_krw,
            voucher_krw=item.voucher_krw,
            before_krw=already,
            voucher_before_krw=voucher_before,
            amount_krw=amount_krw,
        )
    voucher_krw = int(voucher_krw)
    own_left = (item.total_krw - item.voucher_krw) - (already - voucher_before)
    if not (0 <= voucher_krw <= item.voucher_krw - voucher_before and amount_krw - voucher_krw <= own_left):
        raise ValueError(
            f"voucher share {voucher_krw} of a refund of {amount_krw} does not fit line {item.pk} "
            f"(voucher part {item.voucher_krw}, {voucher_before} of it refunded)"
        )
    booked_commission = -(
        LedgerEntry.objects.filter(order_item=item, transaction__kind=T.PAYMENT, account__kind=K.COMMISSION).aggregate(
            total=Sum("amount_krw")
        )["total"]
        or 0
    )
    # The parts of everything refunded so far, minus those already booked: cumulative rounding, so many small
    # refunds add up to exactly the reverse of the payment.
    vat_to_date = (already + amount_krw) * item.vat_krw // item.total_krw if item.total_krw else 0
    vat_before = already * item.vat_krw // item.total_krw if item.total_krw else 0
    vat = vat_to_date - vat_before
    supply_to_date, supply_before = already + amount_krw - vat_to_date, already - vat_before

    def commission_share(supply_refunded: int) -> int:
        return booked_commission * supply_refunded // item.supply_krw if item.supply_krw else 0

    commission = commission_share(supply_to_date) - commission_share(supply_before)
    supply = amount_krw - vat
    # The voucher's share: the agency's receivable reversed while it is outstanding, owed back to it once paid.
    receivable = min(voucher_krw, max(voucher_outstanding_on(item), 0))
    lines = [
        Line(account(K.PROVIDER_PAYABLE, item.seller_id), supply - commission, item),
        Line(account(K.COMMISSION), commission, item),
        Line(account(K.PROVIDER_VAT, item.seller_id), vat, item),
        Line(account(K.REFUND_PAYABLE, item.order.buyer_id), -(amount_krw - voucher_krw), item),
        Line(account(K.VOUCHER_RECEIVABLE), -receivable, item),
        Line(account(K.VOUCHER_PAYABLE), -(voucher_krw - receivable), item),
    ]
    return post(kind=T.REFUND, lines=lines, order=item.order, payment=payment, memo=memo, actor=actor)


def record_refund_paid(
    *, item: OrderItem, amount_krw: int, payment=None, actor=None, memo: str = ""
) -> LedgerTransaction:
    """The money of a granted refund went back to the buyer (the gateway's cancel, or the admin's bank transfer)."""
    owed = -(
        LedgerEntry.objects.filter(order_item=item, account__kind=K.REFUND_PAYABLE).aggregate(total=Sum("amount_krw"))[
            "total"
        ]
        or 0
    )
    if int(amount_krw) <= 0 or int(amount_krw) > owed:
        raise DomainError(
            _("Only a refund that was granted and not yet paid back can be paid."), code="refund_paid_amount"
        )
    lines = [
        Line(account(K.REFUND_PAYABLE, item.order.buyer_id), int(amount_krw), item),
        Line(account(K.CASH), -int(amount_krw), item),
    ]
    return post(kind=T.REFUND_PAID, lines=lines, order=item.order, payment=payment, memo=memo, actor=actor)


def voucher_payable_on(item: OrderItem) -> int:
    """What the platform owes the voucher agency back for an order line (voucher shares of refunds made after the
    agency paid, less what was paid back to it)."""
    total = LedgerEntry.objects.filter(order_item=item, account__kind=K.VOUCHER_PAYABLE).aggregate(
        total=Sum("amount_krw")
    )["total"]
    return -(total or 0)


def record_voucher_repaid(*, order: Order, actor=None, memo: str = "") -> LedgerTransaction:
    """The platform paid the voucher agency back what refunds of `order` owed it: per line, Dr voucher_payable /
    Cr cash with what is owed. Raises DomainError when nothing is owed."""
    lines = []
    for item in order.items.all():
        owed = voucher_payable_on(item)
        if owed > 0:
            lines += [Line(account(K.VOUCHER_PAYABLE), owed, item), Line(account(K.CASH), -owed, item)]
    if not lines:
        raise DomainError(
            lazy_percent(
                _("Nothing is owed back to the voucher agency for order %(number)s."), {"number": order.number}
            ),
            code="voucher_nothing_owed",
        )
    return post(kind=T.VOUCHER_REPAID, lines=lines, order=order, memo=memo, actor=actor)


def owed_to(organization: Organization | int) -> int:
    """What the platform owes a provider now: its supply (after commission) and VAT, less what was paid out."""
    organization_id = getattr(organization, "pk", organization)
    total = LedgerEntry.objects.filter(
        account__organization_id=organization_id, account__kind__in=[K.PROVIDER_PAYABLE, K.PROVIDER_VAT]
    ).aggregate(total=Sum("amount_krw"))["total"]
    return -(total or 0)


def record_payout(*, organization: Organization, amount_krw: int, actor=None, memo: str = "") -> LedgerTransaction:
    """Pay a provider: VAT owed first, then supply; never more than it is owed (checked under a lock of its
    accounts, so two payouts at once cannot both pass)."""
    amount_krw = int(amount_krw)
    payable = account(K.PROVIDER_PAYABLE, organization)
    vat_account = account(K.PROVIDER_VAT, organization)
    list(LedgerAccount.objects.select_for_update().filter(pk__in=[payable.pk, vat_account.pk]).order_by("pk"))
    owed = owed_to(organization)
    if amount_krw <= 0 or amount_krw > owed:
        raise DomainError(
            _("A payout must be more than 0 and at most what the provider is owed."), code="payout_amount"
        )
    vat_owed = -(vat_account.entries.aggregate(total=Sum("amount_krw"))["total"] or 0)
    vat = min(vat_owed, amount_krw)
    lines = [
        Line(vat_account, vat),
        Line(payable, amount_krw - vat),
        Line(account(K.CASH), -amount_krw),
    ]
    return post(kind=T.PAYOUT, lines=lines, memo=memo, actor=actor)


def balance(ledger_account: LedgerAccount) -> int:
    return ledger_account.entries.aggregate(total=Sum("amount_krw"))["total"] or 0
