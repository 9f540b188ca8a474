"""Writes of statements and payouts: closing a month, and marking a statement paid (which books the payout).

Closing a month (Asia/Seoul) puts on one statement per organization every statement transaction booked before the
month's end that is on none yet, so a transaction booked after a statement closed lands on the next one. A
statement carries what the one before it left: all of it when that one was never paid (a negative amount after
refunds, or an admin who had not paid it yet: it is then paid through this one), or what its payout did not cover.
"""

from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from core.errors import DomainError, NotAllowed
from core.transitions import transition
from transactions import ledger
from transactions.models import ProviderStatement, StatementLine
from transactions.statements import selectors

S = ProviderStatement.State
# Closings take this transaction-scoped advisory lock: two at once (beat and the admin's button) run one after the
# other, and the second finds the work done.
CLOSE_LOCK = 0x5354_4D54  # "STMT"


def statements_close_month(*, month: date, actor=None, now: datetime | None = None) -> list[ProviderStatement]:
    """Close `month` (any day of it) for every organization with bookings on no statement yet: one statement each,
    its lines and totals frozen. Idempotent: an organization that already has a statement for this month or a later
    one is left alone (its late bookings wait for the next closing). `actor` None is the beat task; a person must
    be a platform admin. Returns the statements made."""
    if actor is not None and not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only a platform admin can close statements."))
    month = month.replace(day=1)
    _start, end = selectors.month_bounds(month)
    now = now or timezone.now()
    if end > now:
        raise DomainError(_("A month can be closed only after it has ended (Korean time)."), code="month_not_ended")
    made = []
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLOSE_LOCK])
        for organization_id in selectors.organizations_with_unassigned(before=end):
            if ProviderStatement.objects.filter(organization_id=organization_id, period__gte=month).exists():
                continue
            made.append(_close_one(organization_id, month=month, end=end, actor=actor, now=now))
    return made


def _close_one(organization_id: int, *, month: date, end: datetime, actor, now: datetime) -> ProviderStatement:
    # The statement before this one, locked: an admin paying it now either finishes first (we carry what the
    # payout left) or waits and then finds it carried on (statement_mark_paid refuses).
    previous = (
        ProviderStatement.objects.select_for_update()
        .filter(organization_id=organization_id, period__lt=month)
        .exclude(state=S.OPEN)
        .order_by("-period")
        .first()
    )
    statement = ProviderStatement.objects.create(organization_id=organization_id, period=month, previous=previous)
    pending = list(selectors.unassigned_transactions(organization_id, before=end).values_list("pk", flat=True))
    StatementLine.objects.bulk_create(
        StatementLine(statement=statement, organization_id=organization_id, transaction_id=pk) for pk in pending
    )
    totals = selectors.totals_of(organization_id, pending)
    fields = [
        "sales_krw",
        "refunds_krw",
        "commission_krw",
        "vat_krw",
        "voucher_krw",
        "voucher_settled_krw",
        "net_krw",
    ]
    for name in fields:
        setattr(statement, name, getattr(totals, name))
    statement.other_krw = totals.other_krw
    statement.carried_krw = previous.left_krw if previous else 0
    statement.payable_krw = statement.carried_krw + statement.net_krw
    statement.closed_at = now
    transition(
        statement,
        to=S.CLOSED,
        actor=actor,
        fields=[*fields, "other_krw", "carried_krw", "payable_krw", "closed_at"],
        data={"period": f"{month:%Y-%m}", "lines": len(pending), "net_krw": totals.net_krw},
    )
    return statement


def statement_mark_paid(*, statement: ProviderStatement, transfer_reference: str, actor) -> ProviderStatement:
    """A platform admin transferred a statement's amount: book the payout in the ledger and mark it paid, in one
    transaction. Pays what it shows (what it carried plus its net), but never more than the organization is owed now
    (a refund since it closed: the rest carries into the next statement); nothing when that is zero or negative. Two
    admins at once make one payout: the second finds it paid."""
    if not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only a platform admin can mark a statement paid."))
    reference = (transfer_reference or "").strip()
    if not reference:
        raise DomainError(_("Write the bank transfer's reference."), code="transfer_reference_required")
    with transaction.atomic():
        statement = ProviderStatement.objects.select_for_update().get(pk=statement.pk)
        if statement.state == S.PAID:
            raise DomainError(_("This statement is already paid."), code="statement_paid")
        if statement.state != S.CLOSED:
            raise DomainError(_("Only a closed statement can be paid."), code="statement_not_closed")
        if ProviderStatement.objects.filter(previous=statement).exists():
            raise DomainError(
                _("A later statement carried this one on: pay that one instead."), code="statement_carried"
            )
        if statement.payable_krw <= 0:
            raise DomainError(
                _("This statement has nothing to pay: its amount carries into the next statement."),
                code="statement_nothing_to_pay",
            )
        organization = Organization.objects.get(pk=statement.organization_id)
        amount = min(statement.payable_krw, ledger.owed_to(organization))
        if amount <= 0:
            raise DomainError(
                _("The provider is owed nothing now (refunds since the statement closed)."), code="nothing_owed"
            )
        payout = ledger.record_payout(
            organization=organization,
            amount_krw=amount,
            actor=actor,
            memo=f"statement {statement.period:%Y-%m} · {reference}",
        )
        statement.payout = payout
        statement.paid_krw = amount
        statement.transfer_reference = reference[:100]
        statement.paid_at = timezone.now()
        statement.paid_by = actor
        transition(
            statement,
            to=S.PAID,
            actor=actor,
            fields=["payout", "paid_krw", "transfer_reference", "paid_at", "paid_by"],
            data={"period": f"{statement.period:%Y-%m}", "paid_krw": amount, "reference": reference[:100]},
        )
    return statement
