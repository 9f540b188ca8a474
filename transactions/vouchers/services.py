"""The data voucher (데이터바우처, MSIT / K-DATA): every write about vouchers. One function per use case.

- A buyer organization's owner registers its agreement (`voucher_register`); a platform admin verifies or rejects
  it (`voucher_verify`, `voucher_reject`).
- At checkout (transactions.services.orders.checkout_place) a verified voucher in its period pays part of the
  eligible lines (`voucher_split`, the rounding rule below); `voucher_lock_usable` locks the voucher row and
  `voucher_use_record` reserves the amount in the checkout's own transaction. The balance cannot go below zero:
  the row lock serialises checkouts of one voucher, and a CHECK (used_krw <= granted_krw) refuses any write that
  would (the last line of defence). A cancelled order gives its amount back (`voucher_release_for_order`, called
  in the cancellation's transaction); a refund of a paid order gives its voucher share back
  (`voucher_return_for_refund`, in the refund's transaction; the rule is in transactions/ledger.py).
- When the agency pays, an admin records it (`voucher_settle`): one voucher_settlement ledger transaction per order.

**Rounding rule (integer won).** Of an order, the voucher pays V = min(balance, ⌊E × (100 − copay) / 100⌋), E the
total (VAT included) of the eligible lines: rounded down, so the buyer's own share is never below its co-payment.
V is spread over the eligible lines in proportion to their totals, cumulatively rounded down
(line i gets ⌊V·Cᵢ/E⌋ − ⌊V·Cᵢ₋₁/E⌋ with Cᵢ the running total), so the lines add up to V exactly and no line's
part exceeds its total. Because copay ≥ 1 %, V < E ≤ the order's total: the buyer always pays something.
"""

from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.text import lazy_percent
from core.transitions import transition
from transactions import ledger
from transactions.models import LedgerTransaction, Order, Voucher, VoucherSettlement, VoucherUse

V = Voucher.State


# --- registration and verification ---------------------------------------------------------------------------


AGREEMENT_NUMBER_MAX = 60  # Voucher.agreement_number's max_length


def normalise_agreement_number(value: str) -> str:
    """One spelling per agreement number: trimmed, runs of spaces as one, upper-case ("2025-dv 07" → "2025-DV 07")."""
    return " ".join((value or "").split()).upper()


@transaction.atomic
def voucher_register(
    *,
    actor,
    organization: Organization,
    agreement_number: str,
    granted_krw: int,
    starts_on: date,
    ends_on: date,
    copay_percent: int | None = None,
) -> Voucher:
    """The owner of a buyer organization registers its voucher agreement; a platform admin verifies it next."""
    if not can(actor, "accounts.manage_org", organization):
        raise NotAllowed(_("Only an owner of the organization can register its data voucher."))
    if not organization.is_consumer:
        raise DomainError(_("Only a buyer organization can register a data voucher."), code="voucher_not_buyer")
    agreement_number = normalise_agreement_number(agreement_number)
    if not agreement_number:
        raise DomainError(_("Enter the agreement number (협약번호) of the voucher."), code="voucher_agreement")
    if len(agreement_number) > AGREEMENT_NUMBER_MAX or "\x00" in agreement_number:
        raise DomainError(
            _("The agreement number is at most 60 letters and digits, as on the agreement."), code="voucher_agreement"
        )
    granted_krw = int(granted_krw or 0)
    if granted_krw <= 0:
        raise DomainError(_("Enter the amount granted in won."), code="voucher_amount")
    if ends_on < starts_on:
        raise DomainError(_("The voucher's period must end after it starts."), code="voucher_period")
    copay = settings.VOUCHER_COPAY_PERCENT_DEFAULT if copay_percent is None else int(copay_percent)
    low, high = settings.VOUCHER_COPAY_PERCENT_MIN, settings.VOUCHER_COPAY_PERCENT_MAX
    if not low <= copay <= high:
        raise DomainError(
            lazy_percent(
                _("The own share (자부담) must be between %(low)s and %(high)s percent."), {"low": low, "high": high}
            ),
            code="voucher_copay",
        )
    duplicate = DomainError(
        _("This agreement number is already registered. Check the number, or ask the platform if it is yours."),
        code="voucher_duplicate",
    )
    if Voucher.objects.filter(agreement_number__iexact=agreement_number).exclude(state=V.REJECTED).exists():
        raise duplicate
    try:
        # A savepoint: two owners registering the same number at once both pass the check above; the second
        # insert waits for the first and then breaks the voucher_agreement_once constraint. It is told so.
        with transaction.atomic():
            voucher = Voucher.objects.create(
                organization=organization,
                agreement_number=agreement_number,
                granted_krw=granted_krw,
                copay_percent=copay,
                starts_on=starts_on,
                ends_on=ends_on,
                registered_by=actor,
            )
    except IntegrityError as exc:
        if "voucher_agreement_once" not in str(exc):
            raise
        raise duplicate from exc
    audit(
        actor=actor,
        action="voucher.registered",
        obj=voucher,
        organization=organization,
        data={"agreement": agreement_number, "granted_krw": granted_krw, "copay_percent": copay},
    )
    return voucher


def _require_admin(actor) -> None:
    if not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only a platform admin can decide on data vouchers."))


@transaction.atomic
def voucher_verify(*, actor, voucher: Voucher) -> Voucher:
    """A platform admin confirmed the agreement with the agency: the voucher can be used at checkout."""
    _require_admin(actor)
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    if voucher.state == V.VERIFIED:
        return voucher
    voucher.decided_by, voucher.decided_at = actor, timezone.now()
    transition(voucher, to=V.VERIFIED, actor=actor, fields=("decided_by", "decided_at"))
    return voucher


@transaction.atomic
def voucher_reject(*, actor, voucher: Voucher, reason: str) -> Voucher:
    """A platform admin could not confirm the agreement; the reason is shown to the organization."""
    _require_admin(actor)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the voucher is rejected."), code="voucher_reason")
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    voucher.decided_by, voucher.decided_at, voucher.rejection_reason = actor, timezone.now(), reason[:300]
    transition(
        voucher, to=V.REJECTED, actor=actor, reason=reason, fields=("decided_by", "decided_at", "rejection_reason")
    )
    return voucher


# --- checkout -----------------------------------------------------------------------------------------------------


def voucher_split(*, lines: list[tuple[int, bool]], copay_percent: int, balance_krw: int) -> list[int]:
    """What the voucher pays of each line, given (line total, eligible) pairs (the rule in the module docstring)."""
    eligible_total = sum(total for total, eligible in lines if eligible)
    if eligible_total <= 0 or balance_krw <= 0:
        return [0] * len(lines)
    if not 1 <= copay_percent <= 99:
        raise ValueError("a voucher's co-payment is 1–99 %")
    amount = min(int(balance_krw), eligible_total * (100 - copay_percent) // 100)
    shares, running, given = [], 0, 0
    for total, eligible in lines:
        if not eligible:
            shares.append(0)
            continue
        running += total
        upto = amount * running // eligible_total
        shares.append(upto - given)
        given = upto
    return shares


def voucher_lock_usable(*, voucher_id: int, organization: Organization) -> Voucher:
    """The organization's voucher, locked (select_for_update) for this checkout: verified and in its period.
    Another organization's voucher is refused as if it did not exist."""
    voucher = Voucher.objects.select_for_update().filter(pk=voucher_id, organization=organization).first()
    if voucher is None:
        raise DomainError(_("This data voucher is not one of your organization's."), code="voucher_unknown")
    if voucher.state != V.VERIFIED:
        raise DomainError(_("This data voucher is not verified yet."), code="voucher_not_verified")
    if not voucher.in_period():
        raise DomainError(_("This data voucher is not valid today."), code="voucher_out_of_period")
    return voucher


def voucher_use_record(*, voucher: Voucher, order: Order, amount_krw: int, actor) -> VoucherUse:
    """Reserve `amount_krw` of the (locked) voucher for the order, in the checkout's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("voucher_use_record must run inside the checkout's transaction, with the voucher locked")
    if amount_krw <= 0 or amount_krw > voucher.balance_krw:
        raise DomainError(_("The data voucher's balance does not cover this amount."), code="voucher_balance")
    # Under the row lock; the CHECK (used_krw <= granted_krw) refuses it anyway if anything went wrong above.
    Voucher.objects.filter(pk=voucher.pk).update(used_krw=F("used_krw") + amount_krw)
    voucher.refresh_from_db(fields=["used_krw"])
    use = VoucherUse.objects.create(voucher=voucher, order=order, amount_krw=amount_krw)
    audit(
        actor=actor,
        action="voucher.used",
        obj=voucher,
        organization_id=order.buyer_id,
        data={"order": order.number, "amount_krw": amount_krw, "balance_krw": voucher.balance_krw},
    )
    return use


def voucher_release_for_order(*, order: Order, actor=None) -> VoucherUse | None:
    """The order was cancelled unpaid: its voucher amount goes back on the balance. Called in the cancellation's
    transaction (the order locked); idempotent."""
    use = VoucherUse.objects.filter(order=order).first()
    if use is None:
        return None
    voucher = Voucher.objects.select_for_update().get(pk=use.voucher_id)
    use = VoucherUse.objects.select_for_update().get(pk=use.pk)
    if use.released_at is not None or use.settlement_id is not None:
        return use
    use.released_at = timezone.now()
    use.save(update_fields=["released_at"])
    Voucher.objects.filter(pk=voucher.pk).update(used_krw=F("used_krw") - use.amount_krw)
    audit(
        actor=actor,
        action="voucher.released",
        obj=voucher,
        organization_id=order.buyer_id,
        data={"order": order.number, "amount_krw": use.amount_krw},
    )
    return use


def voucher_return_for_refund(*, refund, actor=None) -> VoucherUse:
    """A refund of a paid voucher order is done: its voucher share (Refund.voucher_krw) goes back on the voucher's
    balance (VoucherUse.returned_krw grows, Voucher.used_krw shrinks). Called in the refund's transaction with the
    order locked; locks the voucher row (as checkouts and settlements do), and the CHECKs keep what is returned
    within what the order used and the balance within the grant. Whether the agency had paid for it already only
    changes the ledger (transactions.ledger.record_refund)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("voucher_return_for_refund must run inside the refund's transaction")
    amount = int(refund.voucher_krw)
    use = VoucherUse.objects.filter(order_id=refund.order_id).first()
    if use is None or amount <= 0:
        raise ValueError(f"refund {refund.pk} has no voucher share to return")
    voucher = Voucher.objects.select_for_update().get(pk=use.voucher_id)
    use = VoucherUse.objects.select_for_update().get(pk=use.pk)
    if use.released_at is not None or use.returned_krw + amount > use.amount_krw:
        raise ValueError(f"refund {refund.pk} returns more to voucher {voucher.pk} than order {use.order_id} used")
    VoucherUse.objects.filter(pk=use.pk).update(returned_krw=F("returned_krw") + amount)
    Voucher.objects.filter(pk=voucher.pk).update(used_krw=F("used_krw") - amount)
    use.refresh_from_db(fields=["returned_krw"])
    voucher.refresh_from_db(fields=["used_krw"])
    audit(
        actor=actor,
        action="voucher.returned",
        obj=voucher,
        organization_id=voucher.organization_id,
        data={
            "order": refund.order.number,
            "refund": refund.pk,
            "amount_krw": amount,
            "settled": use.settlement_id is not None,
            "balance_krw": voucher.balance_krw,
        },
    )
    return use


@transaction.atomic
def voucher_repay(*, actor, voucher: Voucher, order: Order, reference: str) -> LedgerTransaction:
    """A platform admin paid the agency back what refunds of `order` made after the agency's settlement owe it
    (the voucher shares, voucher_payable in the ledger): booked Dr voucher_payable / Cr cash per line. Nothing owed:
    DomainError."""
    _require_admin(actor)
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(_("Enter the reference of the agency's transfer."), code="settlement_reference")
    # The order first, then the voucher: the order a refund locks them in (it holds the order and books the
    # voucher's share once it holds the voucher too). The other way round the two deadlock, since the ledger rows
    # booked here refer to the order (a foreign key, which waits for the refund's lock of it).
    list(Order.objects.select_for_update().filter(pk=order.pk))
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    use = (
        VoucherUse.objects.select_for_update(of=("self",))
        .select_related("order")
        .filter(voucher=voucher, order=order)
        .first()
    )
    if use is None:
        raise DomainError(_("Some of the orders chosen were not paid with this voucher."), code="settlement_foreign")
    booked = ledger.record_voucher_repaid(
        order=use.order, actor=actor, memo=f"voucher {voucher.agreement_number} · back to the agency · {reference}"
    )
    amount = sum(e.amount_krw for e in booked.entries.all() if e.amount_krw > 0)
    audit(
        actor=actor,
        action="voucher.repaid",
        obj=voucher,
        organization_id=voucher.organization_id,
        data={"order": use.order.number, "reference": reference[:100], "amount_krw": amount},
    )
    return booked


# --- settlement by the agency -----------------------------------------------------------------------------------


@transaction.atomic
def voucher_settle(
    *, actor, voucher: Voucher, orders: list[Order], paid_on: date, reference: str, amount_krw: int
) -> VoucherSettlement:
    """The agency paid the voucher part of these orders (one transfer): recorded with its date and reference, and
    booked per order (Dr cash / Cr voucher_receivable per line). The amount must be exactly what is outstanding on
    the orders chosen; an order not of this voucher, not paid, or settled already is refused."""
    _require_admin(actor)
    reference = (reference or "").strip()
    if not reference:
        raise DomainError(_("Enter the reference of the agency's transfer."), code="settlement_reference")
    if not orders:
        raise DomainError(_("Choose the orders the agency paid for."), code="settlement_orders")
    # The orders first (by pk), then the voucher: the order a refund locks them in (see voucher_repay).
    list(Order.objects.select_for_update().filter(pk__in=[o.pk for o in orders]).order_by("pk"))
    voucher = Voucher.objects.select_for_update().get(pk=voucher.pk)
    uses = list(
        VoucherUse.objects.select_for_update(of=("self",))
        .select_related("order")
        .filter(voucher=voucher, order__in=[o.pk for o in orders])
        .order_by("pk")
    )
    if len(uses) != len({o.pk for o in orders}):
        raise DomainError(_("Some of the orders chosen were not paid with this voucher."), code="settlement_foreign")
    outstanding = {}
    for use in uses:
        if use.settlement_id is not None:
            raise DomainError(
                lazy_percent(_("Order %(number)s is settled already."), {"number": use.order.number}),
                code="settlement_twice",
            )
        due = sum(ledger.voucher_outstanding_on(item) for item in use.order.items.all())
        if use.released_at is not None or due <= 0:
            raise DomainError(
                lazy_percent(
                    _("Nothing is due from the voucher agency for order %(number)s."), {"number": use.order.number}
                ),
                code="voucher_nothing_due",
            )
        outstanding[use.pk] = due
    amount_krw = int(amount_krw or 0)
    expected = sum(outstanding.values())
    if amount_krw != expected:
        raise DomainError(
            lazy_percent(
                _(
                    "The agency's payment (%(amount)s won) is not what the chosen orders are owed (%(due)s won). "
                    "Choose exactly the orders it paid for."
                ),
                {"amount": f"{amount_krw:,}", "due": f"{expected:,}"},
            ),
            code="settlement_amount",
        )
    settlement = VoucherSettlement.objects.create(
        voucher=voucher, paid_on=paid_on, reference=reference[:100], amount_krw=amount_krw, recorded_by=actor
    )
    for use in uses:
        ledger.record_voucher_settlement(
            order=use.order, actor=actor, memo=f"voucher {voucher.agreement_number} · {reference}"
        )
    VoucherUse.objects.filter(pk__in=[u.pk for u in uses]).update(settlement=settlement)
    audit(
        actor=actor,
        action="voucher.settled",
        obj=voucher,
        organization_id=voucher.organization_id,
        data={
            "reference": reference,
            "paid_on": paid_on.isoformat(),
            "amount_krw": amount_krw,
            "orders": [u.order.number for u in uses],
        },
    )
    return settlement
