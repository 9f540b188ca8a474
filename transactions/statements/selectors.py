"""Reads of statements, sales and the ledger per organization. Everything here is computed from the ledger
(transactions.ledger): a refund or a voucher booked there appears here without further wiring.

An organization's *statement transactions* are the ledger transactions, payouts apart, that touch what it is owed
(its provider_payable or provider_vat account) or the voucher part of its order lines (voucher_receivable entries on
them; the voucher shares of refunds also count voucher_payable ones). Payouts belong to the statement they pay (ProviderStatement.payout).
"""

from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.paginator import Page, Paginator
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Sum, Value, When, Window
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404
from django.utils import timezone

from accounts.models import Organization
from catalog.models import DatasetVersion
from transactions import ledger
from transactions.models import (
    DownloadEvent,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    OrderItem,
    ProviderStatement,
    StatementLine,
)

SEOUL = ZoneInfo("Asia/Seoul")
K = LedgerAccount.Kind
T = LedgerTransaction.Kind
PROVIDER_KINDS = (K.PROVIDER_PAYABLE, K.PROVIDER_VAT)
LINE_KINDS = (K.PROVIDER_PAYABLE, K.PROVIDER_VAT, K.COMMISSION)  # together: the line total (supply + VAT)
VOUCHER_KINDS = (K.VOUCHER_RECEIVABLE, K.VOUCHER_PAYABLE)


# --- months (Asia/Seoul) ------------------------------------------------------------------------------------------


def month_of(moment: datetime) -> date:
    """The first day of the month of `moment` in Seoul."""
    return moment.astimezone(SEOUL).date().replace(day=1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def previous_month(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """Midnight in Seoul on the month's first day, and on the next month's first day."""
    month = month.replace(day=1)
    end = next_month(month)
    return (
        datetime(month.year, month.month, 1, tzinfo=SEOUL),
        datetime(end.year, end.month, 1, tzinfo=SEOUL),
    )


# --- which transactions, and their totals --------------------------------------------------------------------------


def _relevant_entries(organization_id: int) -> Q:
    """The entries of a statement transaction that concern this organization."""
    return Q(account__organization_id=organization_id, account__kind__in=PROVIDER_KINDS) | Q(
        order_item__seller_id=organization_id, account__kind__in=(K.COMMISSION, *VOUCHER_KINDS)
    )


def statement_transactions(organization: Organization | int):
    """Every ledger transaction that belongs on one of the organization's statements (payouts apart)."""
    organization_id = getattr(organization, "pk", organization)
    touches = LedgerEntry.objects.filter(transaction=OuterRef("pk")).filter(
        Q(account__organization_id=organization_id, account__kind__in=PROVIDER_KINDS)
        | Q(order_item__seller_id=organization_id, account__kind=K.VOUCHER_RECEIVABLE)
    )
    return LedgerTransaction.objects.exclude(kind=T.PAYOUT).filter(Exists(touches))


def unassigned_transactions(organization: Organization | int, *, before: datetime | None = None):
    """The organization's statement transactions on none of its statements yet (booked before `before`)."""
    organization_id = getattr(organization, "pk", organization)
    qs = statement_transactions(organization_id).exclude(
        Exists(StatementLine.objects.filter(transaction=OuterRef("pk"), organization_id=organization_id))
    )
    if before is not None:
        qs = qs.filter(created_at__lt=before)
    return qs


def organizations_with_unassigned(*, before: datetime) -> list[int]:
    """Ids of the organizations that have statement transactions booked before `before` on no statement yet."""
    candidates = (
        LedgerAccount.objects.filter(kind__in=PROVIDER_KINDS)
        .values_list("organization_id", flat=True)
        .distinct()
        .order_by("organization_id")
    )
    return [org_id for org_id in candidates if unassigned_transactions(org_id, before=before).exists()]


def _sum(condition: Q, sign: int = 1):
    return Coalesce(
        Sum(Case(When(condition, then="amount_krw"), default=Value(0), output_field=IntegerField())) * sign,
        Value(0),
    )


def _total_expressions() -> dict:
    sale, refund = Q(transaction__kind=T.PAYMENT), Q(transaction__kind=T.REFUND)
    line = Q(account__kind__in=LINE_KINDS)
    # The voucher part of sales, less the voucher shares of refunds (receivable reversed, or owed back to the
    # agency when it had paid already).
    voucher = Q(account__kind__in=VOUCHER_KINDS)
    settlement = Q(transaction__kind=T.VOUCHER_SETTLEMENT)
    return {
        "sales_krw": _sum(sale & line, -1),
        "refunds_krw": _sum(refund & line),
        "commission_krw": _sum((sale | refund) & Q(account__kind=K.COMMISSION), -1),
        "vat_krw": _sum((sale | refund) & Q(account__kind=K.PROVIDER_VAT), -1),
        "voucher_krw": _sum(voucher & ~settlement),
        "voucher_settled_krw": _sum(voucher & settlement, -1),
        "net_krw": _sum(Q(account__kind__in=PROVIDER_KINDS), -1),
    }


@dataclass
class Totals:
    sales_krw: int = 0
    refunds_krw: int = 0
    commission_krw: int = 0
    vat_krw: int = 0
    voucher_krw: int = 0
    voucher_settled_krw: int = 0
    net_krw: int = 0

    @property
    def other_krw(self) -> int:
        """What moved the amount owed outside sales, refunds and commission (a correction)."""
        return self.net_krw - (self.sales_krw - self.refunds_krw - self.commission_krw)


def totals_of(organization: Organization | int, transactions) -> Totals:
    """The organization's totals over these ledger transactions (a queryset or ids)."""
    organization_id = getattr(organization, "pk", organization)
    row = (
        LedgerEntry.objects.filter(transaction__in=transactions)
        .filter(_relevant_entries(organization_id))
        .aggregate(**_total_expressions())
    )
    return Totals(**{name: int(value or 0) for name, value in row.items()})


@dataclass
class Row:
    """One line of a statement: one order line (or none, for a correction) in one ledger transaction."""

    transaction: LedgerTransaction
    order_item: object
    sales_krw: int
    refunds_krw: int
    commission_krw: int
    vat_krw: int
    voucher_krw: int
    voucher_settled_krw: int
    net_krw: int

    @property
    def buyer_paid_krw(self) -> int:
        """A sale paid partly by a data voucher: the buyer's own part (card or bank transfer); 0 otherwise."""
        return self.sales_krw - self.voucher_krw if self.voucher_krw > 0 else 0


ROWS_PER_PAGE = 100  # ledger transactions per page of a statement's lines (a busy provider books thousands a month)


def _grouped(organization_id: int, transactions):
    """The statement's lines as one aggregate in SQL: per ledger transaction and order line, in date order."""
    return (
        LedgerEntry.objects.filter(transaction__in=transactions)
        .filter(_relevant_entries(organization_id))
        .values("transaction_id", "order_item_id")
        .annotate(booked_at=F("transaction__created_at"), **_total_expressions())
        .order_by("booked_at", "transaction_id", F("order_item_id").asc(nulls_first=True))
    )


def _rows(grouped) -> list[Row]:
    """Rows from grouped values, their transactions and order lines fetched in two queries."""
    grouped = list(grouped)
    booked = LedgerTransaction.objects.select_related("order", "order__buyer").in_bulk(
        {g["transaction_id"] for g in grouped}
    )
    items = OrderItem.objects.select_related("dataset", "order", "order__buyer").in_bulk(
        {g["order_item_id"] for g in grouped if g["order_item_id"]}
    )
    return [
        Row(
            transaction=booked[g["transaction_id"]],
            order_item=items.get(g["order_item_id"]),
            **{k: int(g[k] or 0) for k in _total_expressions()},
        )
        for g in grouped
    ]


def rows_of(organization: Organization | int, transactions) -> list[Row]:
    """The statement's lines: per ledger transaction and order line, date order (all of them: see rows_page)."""
    return _rows(_grouped(getattr(organization, "pk", organization), transactions))


def rows_page(organization: Organization | int, transactions, number, *, per_page: int | None = None) -> Page:
    """One page of the statement's lines: `per_page` of its ledger transactions in date order (counted and sliced
    in SQL), and the lines of those only (one per transaction and order line). A Django Page whose object_list are
    Rows, so a month of thousands of transactions costs one page of them."""
    booked = (
        LedgerTransaction.objects.filter(pk__in=transactions).order_by("created_at", "pk").values_list("pk", flat=True)
    )
    page = Paginator(booked, per_page or ROWS_PER_PAGE).get_page(number)
    page.object_list = rows_of(organization, list(page.object_list))
    return page


# --- statements -----------------------------------------------------------------------------------------------------


def statements_for_provider(organization: Organization):
    return ProviderStatement.objects.filter(organization=organization).exclude(state=ProviderStatement.State.OPEN)


def statement_get_for_provider(*, organization: Organization, pk: int) -> ProviderStatement:
    """A statement of this organization, or 404 (another organization's statement does not exist for it)."""
    statement = (
        statements_for_provider(organization)
        .select_related("organization", "paid_by", "previous")
        .filter(pk=pk)
        .first()
    )
    if statement is None:
        raise Http404("no such statement")
    return statement


def statement_get_for_staff(pk: int) -> ProviderStatement:
    statement = (
        ProviderStatement.objects.exclude(state=ProviderStatement.State.OPEN)
        .select_related("organization", "paid_by", "previous", "payout")
        .filter(pk=pk)
        .first()
    )
    if statement is None:
        raise Http404("no such statement")
    return statement


def statement_rows(statement: ProviderStatement) -> list[Row]:
    return rows_of(statement.organization_id, statement.lines.values("transaction_id"))


def statement_rows_page(statement: ProviderStatement, number, *, per_page: int | None = None) -> Page:
    return rows_page(statement.organization_id, statement.lines.values("transaction_id"), number, per_page=per_page)


def latest_statement(organization: Organization | int) -> ProviderStatement | None:
    organization_id = getattr(organization, "pk", organization)
    return (
        ProviderStatement.objects.filter(organization_id=organization_id)
        .exclude(state=ProviderStatement.State.OPEN)
        .order_by("-period")
        .first()
    )


@dataclass
class Current:
    """What is not on a statement yet: the month under way, and anything booked after its month's statement closed."""

    organization: Organization
    month: date
    totals: Totals
    carried_krw: int
    rows: list = field(default_factory=list)
    previous: ProviderStatement | None = None
    page: Page | None = None  # with rows_page: the page of `rows`

    @property
    def payable_krw(self) -> int:
        return self.carried_krw + self.totals.net_krw

    @property
    def previous_awaits_payout(self) -> bool:
        """The last statement is closed and not paid yet: its amount is carried here only if it is still unpaid when
        this month closes."""
        return bool(
            self.previous and self.previous.state == ProviderStatement.State.CLOSED and self.previous.left_krw > 0
        )


def statement_current(organization: Organization, *, with_rows: bool = True, rows_page_number=None) -> Current:
    """What is on no statement yet; `with_rows`: all its lines, or with `rows_page_number` one page of them."""
    pending = unassigned_transactions(organization)
    last = latest_statement(organization)
    page = rows_page(organization, pending, rows_page_number) if with_rows and rows_page_number is not None else None
    return Current(
        organization=organization,
        month=month_of(timezone.now()),
        totals=totals_of(organization, pending),
        carried_krw=last.left_krw if last else 0,
        rows=page.object_list if page is not None else rows_of(organization, pending) if with_rows else [],
        previous=last,
        page=page,
    )


# --- the platform admins' payout page -------------------------------------------------------------------------------


def statements_to_pay():
    """Closed statements that are the latest of their organization (nothing carried them on) with something to pay."""
    return (
        ProviderStatement.objects.filter(state=ProviderStatement.State.CLOSED, payable_krw__gt=0)
        .exclude(Exists(ProviderStatement.objects.filter(previous=OuterRef("pk"))))
        .select_related("organization")
        .order_by("period", "organization__name_ko")
    )


def statements_not_payable():
    """Closed statements with nothing to pay (a negative or zero amount, carried into the next one), or already
    carried on by a later statement."""
    carried = Exists(ProviderStatement.objects.filter(previous=OuterRef("pk")))
    return (
        ProviderStatement.objects.filter(state=ProviderStatement.State.CLOSED)
        .filter(Q(payable_krw__lte=0) | carried)
        .annotate(is_carried=carried)
        .select_related("organization")
        .order_by("-period", "organization__name_ko")
    )


def statements_paid(limit: int = 100):
    return (
        ProviderStatement.objects.filter(state=ProviderStatement.State.PAID)
        .select_related("organization", "paid_by")
        .order_by("-paid_at", "-pk")[:limit]
    )


def last_closed_month() -> date | None:
    last = ProviderStatement.objects.exclude(state=ProviderStatement.State.OPEN).order_by("-period").first()
    return last.period if last else None


# --- the ledger of one organization ---------------------------------------------------------------------------------


def ledger_organizations():
    """Organizations with ledger accounts (providers and buyers with refunds), for the admin's ledger index."""
    return (
        Organization.objects.filter(ledger_accounts__isnull=False)
        .distinct()
        .annotate(statement_count=Count("statements", distinct=True))
        .order_by("name_ko")
    )


def organization_get_for_ledger(pk: int) -> Organization:
    organization = Organization.objects.filter(pk=pk).first()
    if organization is None:
        raise Http404("no such organization")
    return organization


ENTRIES_PER_PAGE = 100  # ledger entries per account and page


@dataclass
class AccountView:
    account: LedgerAccount
    entries: list  # (entry, running balance) of the page shown
    balance_krw: int
    page: Page | None = None


def organization_ledger(
    organization: Organization, *, account_kind: str = "", page=None, per_page: int | None = None
) -> list[AccountView]:
    """Its accounts, each with one page of its entries (and their transactions) in order and the running balance:
    page `page` of the account of kind `account_kind`, the last page (the most recent entries) of the others.
    Balances and running balances come from SQL (a window sum over the account's entries), so a provider with years
    of sales costs a page of them."""
    views = []
    for acc in LedgerAccount.objects.filter(organization=organization).order_by("kind"):
        order = ("transaction__created_at", "transaction_id", "id")
        entries = (
            acc.entries.select_related("transaction", "transaction__order", "order_item")
            .annotate(running_krw=Window(Sum("amount_krw"), order_by=[F(name).asc() for name in order]))
            .order_by(*order)
        )
        paginator = Paginator(entries, per_page or ENTRIES_PER_PAGE)
        shown = paginator.get_page(page if acc.kind == account_kind and page else paginator.num_pages)
        balance = acc.entries.aggregate(total=Sum("amount_krw"))["total"] or 0
        rows = [(entry, entry.running_krw) for entry in shown.object_list]
        views.append(AccountView(account=acc, entries=rows, balance_krw=balance, page=shown))
    return views


@dataclass
class LedgerCheck:
    """Whether the ledger and the statements tell the same story for one organization."""

    owed_krw: int  # ledger.owed_to: its provider accounts' balance
    statements_net_krw: int  # the closed and paid statements' nets
    current_net_krw: int  # what is not on a statement yet
    paid_out_krw: int  # payouts booked

    @property
    def statements_owed_krw(self) -> int:
        return self.statements_net_krw + self.current_net_krw - self.paid_out_krw

    @property
    def matches(self) -> bool:
        return self.statements_owed_krw == self.owed_krw


def ledger_check(organization: Organization) -> LedgerCheck:
    statements = ProviderStatement.objects.filter(organization=organization).exclude(state=ProviderStatement.State.OPEN)
    paid_out = LedgerEntry.objects.filter(
        transaction__kind=T.PAYOUT, account__organization=organization, account__kind__in=PROVIDER_KINDS
    ).aggregate(total=Sum("amount_krw"))["total"]
    return LedgerCheck(
        owed_krw=ledger.owed_to(organization),
        statements_net_krw=statements.aggregate(total=Sum("net_krw"))["total"] or 0,
        current_net_krw=totals_of(organization, unassigned_transactions(organization)).net_krw,
        paid_out_krw=paid_out or 0,
    )


# --- the provider's sales charts -----------------------------------------------------------------------------------


@dataclass
class Series:
    label: str
    values: list[int]

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass
class Chart:
    key: str  # the canvas's data-chart and the JSON's key
    unit: str  # "won" or "count"
    months: list[str]  # "2026-01" …
    series: list[Series]

    @property
    def rows(self) -> list[tuple[str, list[int], int]]:
        """The data table: per month, each series' value and the month's total."""
        return [
            (month, [s.values[i] for s in self.series], sum(s.values[i] for s in self.series))
            for i, month in enumerate(self.months)
        ]

    @property
    def totals(self) -> list[int]:
        return [s.total for s in self.series]

    @property
    def grand_total(self) -> int:
        return sum(self.totals)

    def as_json(self) -> dict:
        return {
            "unit": self.unit,
            "months": self.months,
            "series": [{"label": s.label, "values": s.values} for s in self.series],
        }


def _dataset_titles(dataset_ids) -> dict[int, str]:
    titles = {}
    for version in DatasetVersion.objects.filter(dataset_id__in=dataset_ids).order_by("dataset_id", "-number"):
        titles.setdefault(version.dataset_id, version.title)
    return titles


def _charts(key_prefix, unit, months, rows, titles) -> tuple[Chart, Chart]:
    """Two charts from (month, dataset id, buyer type, value) rows: by dataset, and by buyer type."""
    index = {m: i for i, m in enumerate(months)}
    by_dataset, by_type = {}, {}
    for month, dataset_id, org_type, value in rows:
        label = month.astimezone(SEOUL).strftime("%Y-%m") if isinstance(month, datetime) else month.strftime("%Y-%m")
        if label not in index:
            continue
        by_dataset.setdefault(dataset_id, [0] * len(months))[index[label]] += value
        by_type.setdefault(org_type, [0] * len(months))[index[label]] += value
    type_labels = dict(Organization.OrgType.choices)
    dataset_series = sorted(
        (Series(label=titles.get(d, str(d)), values=v) for d, v in by_dataset.items()), key=lambda s: -s.total
    )
    type_order = list(type_labels)
    type_series = [
        Series(label=str(type_labels.get(t, t)), values=v)
        for t, v in sorted(by_type.items(), key=lambda kv: type_order.index(kv[0]) if kv[0] in type_order else 99)
    ]
    return (
        Chart(key=f"{key_prefix}-by-dataset", unit=unit, months=months, series=dataset_series),
        Chart(key=f"{key_prefix}-by-buyer-type", unit=unit, months=months, series=type_series),
    )


@dataclass
class SalesCharts:
    months: list[str]
    sales_by_dataset: Chart
    sales_by_buyer_type: Chart
    downloads_by_dataset: Chart
    downloads_by_buyer_type: Chart

    @property
    def charts(self) -> list[Chart]:
        return [
            self.sales_by_dataset,
            self.sales_by_buyer_type,
            self.downloads_by_dataset,
            self.downloads_by_buyer_type,
        ]

    def as_json(self) -> dict:
        return {chart.key: chart.as_json() for chart in self.charts}


def sales_charts(organization: Organization, *, months: int = 12, now: datetime | None = None) -> SalesCharts:
    """Sales (won: line totals paid less refunds, by the month booked) and downloads (started, resumed parts not
    counted) of the organization's datasets over the last `months` months, by dataset and by buyer type."""
    last = month_of(now or timezone.now())
    month_list = [last]
    for _i in range(months - 1):
        month_list.insert(0, previous_month(month_list[0]))
    labels = [m.strftime("%Y-%m") for m in month_list]
    start, _end = month_bounds(month_list[0])

    sales = (
        LedgerEntry.objects.filter(
            order_item__seller=organization,
            account__kind__in=LINE_KINDS,
            transaction__kind__in=(T.PAYMENT, T.REFUND),
            transaction__created_at__gte=start,
        )
        .annotate(month=TruncMonth("transaction__created_at", tzinfo=SEOUL))
        .values("month", "order_item__dataset_id", "order_item__order__buyer__org_type")
        .annotate(total=Sum("amount_krw"))
        .order_by()
    )
    sales_rows = [
        (r["month"], r["order_item__dataset_id"], r["order_item__order__buyer__org_type"], -int(r["total"]))
        for r in sales
    ]
    downloads = (
        DownloadEvent.objects.filter(
            package__entitlement__dataset__publisher=organization,
            started_at__gte=start,
            range_header="",
            status__lt=400,
        )
        .annotate(month=TruncMonth("started_at", tzinfo=SEOUL))
        .values("month", "package__entitlement__dataset_id", "organization__org_type")
        .annotate(total=Count("id"))
        .order_by()
    )
    download_rows = [
        (r["month"], r["package__entitlement__dataset_id"], r["organization__org_type"], int(r["total"]))
        for r in downloads
    ]
    titles = _dataset_titles({r[1] for r in sales_rows} | {r[1] for r in download_rows})
    sales_by_dataset, sales_by_type = _charts("sales", "won", labels, sales_rows, titles)
    downloads_by_dataset, downloads_by_type = _charts("downloads", "count", labels, download_rows, titles)
    return SalesCharts(
        months=labels,
        sales_by_dataset=sales_by_dataset,
        sales_by_buyer_type=sales_by_type,
        downloads_by_dataset=downloads_by_dataset,
        downloads_by_buyer_type=downloads_by_type,
    )


def owed_now(organization: Organization | int) -> int:
    """What the platform owes the organization now, by its ledger (transactions.ledger.owed_to)."""
    return ledger.owed_to(organization)
