"""Reads about data vouchers: an organization's vouchers, the choices at checkout, what the agency owes."""

from dataclasses import dataclass

from django.db.models import F, Q, Sum
from django.utils import timezone

from accounts.models import Organization
from transactions.models import LedgerAccount, LedgerEntry, Order, Voucher, VoucherUse
from transactions.vouchers.services import voucher_split

RECEIVABLE = LedgerAccount.Kind.VOUCHER_RECEIVABLE


def vouchers_of(organization: Organization):
    return Voucher.objects.filter(organization=organization).select_related("registered_by", "decided_by")


def usable_vouchers(organization: Organization) -> list[Voucher]:
    """Verified, in their period today, with something left."""
    today = timezone.localdate()
    return list(
        Voucher.objects.filter(
            organization=organization, state=Voucher.State.VERIFIED, starts_on__lte=today, ends_on__gte=today
        )
        .filter(used_krw__lt=F("granted_krw"))
        .order_by("ends_on", "pk")
    )


@dataclass(frozen=True)
class VoucherOption:
    """A voucher the buyer may apply at checkout, and what it would pay of the cart now."""

    voucher: Voucher
    amount_krw: int
    due_krw: int

    @property
    def value(self) -> str:
        return f"{self.voucher.pk}:{self.amount_krw}"


def checkout_voucher_options(organization: Organization, lines, total_krw: int) -> list[VoucherOption]:
    """For each usable voucher, what it would pay of these cart lines (nothing eligible: no options)."""
    pairs = [(line.price.total_krw, bool(line.offer.voucher_eligible)) for line in lines]
    if not total_krw or not any(eligible for _t, eligible in pairs):
        return []
    options = []
    for voucher in usable_vouchers(organization):
        amount = sum(voucher_split(lines=pairs, copay_percent=voucher.copay_percent, balance_krw=voucher.balance_krw))
        if amount:
            options.append(VoucherOption(voucher=voucher, amount_krw=amount, due_krw=total_krw - amount))
    return options


def order_voucher_use(order: Order) -> VoucherUse | None:
    """The voucher part of an order, with its voucher and settlement (None when none was used)."""
    return VoucherUse.objects.select_related("voucher", "settlement").filter(order=order).first()


def outstanding_by_order(order_ids) -> dict[int, int]:
    """What the voucher agency still owes per order (from the ledger: booked at payment, less settlements)."""
    rows = (
        LedgerEntry.objects.filter(account__kind=RECEIVABLE, order_item__order__in=list(order_ids))
        .values("order_item__order")
        .annotate(total=Sum("amount_krw"))
    )
    return {row["order_item__order"]: row["total"] for row in rows}


def owed_back_by_order(order_ids) -> dict[int, int]:
    """What the platform owes the agency back per order (voucher shares of refunds after it paid, not yet repaid)."""
    rows = (
        LedgerEntry.objects.filter(account__kind=LedgerAccount.Kind.VOUCHER_PAYABLE, order_item__order__in=order_ids)
        .values("order_item__order")
        .annotate(total=Sum("amount_krw"))
    )
    return {row["order_item__order"]: -row["total"] for row in rows}


def vouchers_for_staff(state: str = ""):
    """Every voucher (newest first), with how much the agency still owes for it."""
    queryset = Voucher.objects.select_related("organization", "registered_by", "decided_by")
    if state:
        queryset = queryset.filter(state=state)
    vouchers = list(queryset)
    uses = VoucherUse.objects.filter(voucher__in=vouchers, released_at__isnull=True)
    outstanding = outstanding_by_order(uses.values_list("order_id", flat=True))
    by_voucher: dict[int, int] = {}
    for voucher_id, order_id in uses.values_list("voucher_id", "order_id"):
        by_voucher[voucher_id] = by_voucher.get(voucher_id, 0) + outstanding.get(order_id, 0)
    for voucher in vouchers:
        voucher.outstanding_krw = by_voucher.get(voucher.pk, 0)
    return vouchers


def voucher_receivables(voucher: Voucher) -> list[VoucherUse]:
    """The orders of a voucher with their voucher part, what is outstanding (paid orders) and the settlement."""
    uses = list(
        VoucherUse.objects.filter(voucher=voucher)
        .select_related("order", "order__buyer", "settlement")
        .order_by("created_at", "pk")
    )
    outstanding = outstanding_by_order([u.order_id for u in uses])
    owed_back = owed_back_by_order([u.order_id for u in uses])
    for use in uses:
        use.outstanding_krw = outstanding.get(use.order_id, 0)
        use.owed_back_krw = owed_back.get(use.order_id, 0)
        use.settleable = use.outstanding_krw > 0 and use.settlement_id is None and use.released_at is None
    return uses


def vouchers_for_staff_queryset():
    return Voucher.objects.select_related("organization", "registered_by", "decided_by")


def settleable_orders(voucher: Voucher, order_ids) -> list[Order]:
    return list(Order.objects.filter(Q(pk__in=order_ids) & Q(voucher_use__voucher=voucher)))


def uses_of(vouchers) -> list[VoucherUse]:
    return list(
        VoucherUse.objects.filter(voucher__in=list(vouchers)).select_related("order", "settlement").order_by("pk")
    )


def orders_by_number(numbers) -> list[Order]:
    """The orders with these numbers, whoever's (voucher_settle refuses those not paid with its voucher)."""
    return list(Order.objects.filter(number__in=list(numbers)))
