"""A provider's monthly statement: the ledger transactions of one organization's sales, refunds and voucher
settlements, grouped by the month (Asia/Seoul) in which they were booked, their totals frozen when it closes.

Imported by transactions.models (so the models belong to the transactions app). Every ledger transaction that moves
what an organization is owed lands on exactly one of its statements (a unique line per organization and
transaction); one booked after its month's statement closed lands on the next one. A statement's payout is its own
ledger transaction (`payout`), booked when an admin marks it paid. Database triggers (migration 0012) refuse any
change to a paid statement, any change to the totals of a closed one, and any change to the lines of a statement
that is no longer open.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from core.db import choices_constraint


class StatementState(models.TextChoices):
    OPEN = (
        "open",
        _("Being assembled"),
    )  # being assembled by statements_close_month (never seen outside that transaction)
    CLOSED = "closed", _("Closed")  # totals frozen; waiting for the payout (or carried into the next statement)
    PAID = "paid", _("Payout made")  # the payout is booked; nothing about it changes any more


class ProviderStatement(models.Model):
    State = StatementState

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="statements")
    period = models.DateField()  # the first day of the month (Asia/Seoul)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    # The statement before this one of the same organization: what it left unpaid (or, negative, what the
    # provider owed back after refunds) is carried into this one.
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="carried_into"
    )

    # Frozen when closed (won). sales and refunds are line totals (supply + VAT); commission and VAT are net of
    # refunds; voucher is the part of the sales the voucher agency owes (voucher_receivable on its lines);
    # net = sales − refunds − commission + other = what this month's bookings added to what the platform owes it.
    sales_krw = models.BigIntegerField(default=0)
    refunds_krw = models.BigIntegerField(default=0)
    commission_krw = models.BigIntegerField(default=0)
    vat_krw = models.BigIntegerField(default=0)
    voucher_krw = models.BigIntegerField(default=0)
    voucher_settled_krw = models.BigIntegerField(default=0)
    other_krw = models.BigIntegerField(default=0)  # corrections booked on its accounts without an order line
    net_krw = models.BigIntegerField(default=0)
    carried_krw = models.BigIntegerField(default=0)  # from the previous statement
    payable_krw = models.BigIntegerField(default=0)  # carried + net: what to pay when positive

    paid_krw = models.BigIntegerField(default=0)  # the payout (at most what was owed then)
    payout = models.OneToOneField(
        "transactions.LedgerTransaction", null=True, blank=True, on_delete=models.PROTECT, related_name="statement"
    )
    transfer_reference = models.CharField(_("transfer reference"), max_length=100, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-period", "organization_id"]
        verbose_name = _("statement")
        verbose_name_plural = _("statements")
        constraints = [
            choices_constraint("state", StatementState, name="statement_state_valid"),
            models.UniqueConstraint(fields=["organization", "period"], name="statement_once_per_month"),
            models.CheckConstraint(
                condition=Q(payable_krw=models.F("carried_krw") + models.F("net_krw")), name="statement_payable_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(state="paid", payout__isnull=False, paid_krw__gt=0) | ~Q(state="paid"),
                name="statement_paid_has_payout",
            ),
        ]

    def __str__(self):
        return f"statement {self.period:%Y-%m} of organization {self.organization_id}"

    @property
    def left_krw(self) -> int:
        """What this statement leaves for the next one: all of it unless paid, else what the payout did not cover."""
        return self.payable_krw - self.paid_krw


class StatementLine(models.Model):
    """One ledger transaction on one organization's statement (a transaction of an order with lines of two providers
    is on a statement of each)."""

    statement = models.ForeignKey(ProviderStatement, on_delete=models.PROTECT, related_name="lines")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    transaction = models.ForeignKey(
        "transactions.LedgerTransaction", on_delete=models.PROTECT, related_name="statement_lines"
    )

    class Meta:
        ordering = ["transaction_id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "transaction"], name="statement_line_once"),
        ]

    def __str__(self):
        return f"ledger transaction {self.transaction_id} on statement {self.statement_id}"
