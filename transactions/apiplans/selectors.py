"""Reads of API plans and usage (issue 16): the line a plan is taken with, the buyer's and the provider's usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db.models import Q, Sum
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import Organization
from catalog.licences import UnfilledPlaceholder, render_for_version
from catalog.models import CatalogEntry, Dataset, Offer, OfferKind
from catalog.pricing import metered_amount_krw, offer_price, price_of
from transactions import selectors
from transactions.apiplans.models import ApiBill, ApiPlan, ApiUsage
from transactions.dataapi import metering
from transactions.statements.selectors import SEOUL, month_of

USAGE_DAYS = 30


def offer_line(offer: Offer, organization: Organization) -> selectors.Line:
    """An API offer as a one-line order takes it: today's price, the licence text to accept, any problem."""
    version = selectors.offer_version(offer)
    licence = version.licence if version else None
    problem = selectors.purchase_problem(offer, organization, version=version)
    try:
        rendered = render_for_version(licence, version, publisher=offer.dataset.publisher) if version else None
    except UnfilledPlaceholder:
        rendered, problem = None, problem or gettext_lazy("The licence text has a blank: ask the publisher to fix it.")
    return selectors.Line(
        offer=offer,
        version=version,
        price=offer_price(offer),
        licence=licence,
        rendered=rendered,
        licence_sha256=selectors.licence_sha256(rendered),
        problem=problem,
    )


def api_offer_get(pk, organization: Organization | None) -> Offer:
    """An API offer a buyer may see (404 otherwise, and for a private one of another organization)."""
    offer = selectors.offer_for_cart(pk, organization)
    if offer.kind not in (OfferKind.API_DEV, OfferKind.API_METERED):
        raise Http404
    return offer


def plan_for_buyer(*, organization: Organization | None, pk) -> ApiPlan:
    if organization is None or not str(pk).isdigit():
        raise Http404
    plan = ApiPlan.objects.select_related("dataset", "entitlement__order_item__order", "organization").filter(
        pk=pk, organization=organization
    )
    found = plan.first()
    if found is None:
        raise Http404
    return found


def _month_calls(plan: ApiPlan, month: date) -> int:
    following = (month + timedelta(days=32)).replace(day=1)
    total = ApiUsage.objects.filter(plan=plan, day__gte=month, day__lt=following).aggregate(n=Sum("calls"))["n"]
    return int(total or 0)


def metered_amount(plan: ApiPlan, calls: int) -> int:
    """공급가액 of `calls` under a metered plan: calls × price per 1,000 / 1,000, rounded down to the won."""
    return metered_amount_krw(calls, plan.price_per_1000_krw)


@dataclass
class PlanRow:
    plan: ApiPlan
    quota: dict
    month_calls: int = 0
    month_amount_krw: int = 0  # 공급가액 so far this month (metered)
    month_total_krw: int = 0  # with VAT by the supplier's status
    bills: list = field(default_factory=list)
    title: str = ""  # the dataset's title in the catalog


@dataclass
class Chart:
    """One usage chart: a series per table (or one series), a value per day; `rows` is its table under the chart."""

    key: str
    unit: str  # "calls" | "bytes"
    labels: list[str]  # days, oldest first
    series: list[dict]  # [{"label", "values"}]

    @property
    def rows(self) -> list[tuple[str, list[int], int]]:
        return [
            (label, values := [s["values"][i] for s in self.series], sum(values)) for i, label in enumerate(self.labels)
        ]

    @property
    def totals(self) -> list[int]:
        return [sum(s["values"]) for s in self.series]

    @property
    def grand_total(self) -> int:
        return sum(self.totals)

    def as_json(self) -> dict:
        return {"unit": self.unit, "months": self.labels, "series": self.series}


@dataclass
class Usage:
    days: list[dict]  # [{"day", "calls", "errors", "bytes"}] oldest first, every day of the range
    tables: list[dict]  # [{"dataset", "table", "calls", "errors", "bytes"}] by calls
    totals: dict
    plans: list[PlanRow]
    default_quota: dict | None
    charts: list[Chart] = field(default_factory=list)

    def charts_json(self) -> dict:
        return {c.key: c.as_json() for c in self.charts}


MAX_SERIES = 8  # tables beyond the busiest ones are summed as "other"


def _charts(rows, days: list[dict], titles: dict) -> list[Chart]:
    labels = [d["day"].strftime("%m-%d") for d in days]
    index = {d["day"]: i for i, d in enumerate(days)}
    per_table: dict[str, list[int]] = {}
    for r in rows.values("day", "dataset_id", "table").annotate(calls=Sum("calls")):
        label = f"{titles.get(r['dataset_id'], r['dataset_id'])} › {r['table']}"
        per_table.setdefault(label, [0] * len(days))[index[r["day"]]] += int(r["calls"])
    ranked = sorted(per_table.items(), key=lambda kv: -sum(kv[1]))
    series = [{"label": label, "values": values} for label, values in ranked[:MAX_SERIES]]
    if len(ranked) > MAX_SERIES:
        other = [sum(v[i] for _l, v in ranked[MAX_SERIES:]) for i in range(len(days))]
        series.append({"label": str(gettext_lazy("Other tables")), "values": other})
    return [
        Chart("usage-calls", "calls", labels, series),
        Chart(
            "usage-errors",
            "calls",
            labels,
            [{"label": str(gettext_lazy("Errors")), "values": [d["errors"] for d in days]}],
        ),
        Chart(
            "usage-bytes",
            "bytes",
            labels,
            [{"label": str(gettext_lazy("Bytes")), "values": [d["bytes"] for d in days]}],
        ),
    ]


def _usage(rows, *, since: date, until: date) -> tuple[list[dict], list[dict], dict]:
    by_day = {
        r["day"]: r for r in rows.values("day").annotate(calls=Sum("calls"), errors=Sum("errors"), bytes=Sum("bytes"))
    }
    days = []
    day = since
    while day <= until:
        r = by_day.get(day, {})
        days.append(
            {"day": day, "calls": r.get("calls") or 0, "errors": r.get("errors") or 0, "bytes": r.get("bytes") or 0}
        )
        day += timedelta(days=1)
    tables = [
        {
            "dataset": r["dataset_id"],
            "dataset_id": r["dataset_id"],
            "table": r["table"],
            "calls": r["calls"],
            "errors": r["errors"],
            "bytes": r["bytes"],
        }
        for r in rows.values("dataset_id", "table")
        .annotate(calls=Sum("calls"), errors=Sum("errors"), bytes=Sum("bytes"))
        .order_by("-calls", "table")
    ]
    totals = {k: sum(d[k] for d in days) for k in ("calls", "errors", "bytes")}
    return days, tables, totals


def _titles(dataset_ids) -> dict[int, str]:
    """Dataset titles as the catalog lists them (their slug when not listed any more)."""
    titles = dict(CatalogEntry.objects.filter(dataset_id__in=dataset_ids).values_list("dataset_id", "title_ko"))
    for pk, slug in Dataset.objects.filter(pk__in=set(dataset_ids) - set(titles)).values_list("pk", "slug"):
        titles[pk] = slug
    return titles


def dataset_titles(dataset_ids) -> dict[int, str]:
    return _titles(dataset_ids)


def _fill_titles(rows: list[PlanRow]) -> None:
    titles = _titles({row.plan.dataset_id for row in rows})
    for row in rows:
        row.title = titles.get(row.plan.dataset_id, "")


def _range(days: int) -> tuple[date, date]:
    today = timezone.now().astimezone(SEOUL).date()
    return today - timedelta(days=days - 1), today


def buyer_usage(organization: Organization, *, days: int = USAGE_DAYS) -> Usage:
    """The organization's data API calls over the last `days` days (Asia/Seoul), its plans with what is left of
    their quota and the metered amount of the month so far."""
    since, until = _range(days)
    rows = ApiUsage.objects.filter(organization=organization, day__gte=since, day__lte=until)
    day_rows, tables, totals = _usage(rows, since=since, until=until)
    titles = _titles({t["dataset_id"] for t in tables})
    for t in tables:
        t["dataset"] = titles.get(t["dataset_id"], t["dataset_id"])
    month = month_of(timezone.now())
    plans = []
    now = timezone.now()
    for plan in (
        ApiPlan.objects.filter(organization=organization)
        .filter(Q(state=ApiPlan.State.ACTIVE) | Q(ended_at__gte=now - timedelta(days=days)))
        .select_related("dataset__publisher", "entitlement__order_item__order")
        .prefetch_related("bills__order")
    ):
        row = PlanRow(plan=plan, quota=metering.quota_status(plan=plan, organization_id=organization.pk))
        if plan.kind == OfferKind.API_METERED:
            row.month_calls = _month_calls(plan, month)
            row.month_amount_krw = metered_amount(plan, row.month_calls)
            exempt = plan.dataset.publisher.vat_status == Organization.VatStatus.EXEMPT
            row.month_total_krw = price_of(row.month_amount_krw, tax_free=exempt).total_krw
            row.bills = list(plan.bills.all())
        plans.append(row)
    _fill_titles(plans)
    default_quota = metering.quota_status(plan=None, organization_id=organization.pk)
    return Usage(
        days=day_rows,
        tables=tables,
        totals=totals,
        plans=plans,
        default_quota=default_quota,
        charts=_charts(rows, day_rows, titles) if totals["calls"] else [],
    )


def provider_usage(organization: Organization, *, days: int = USAGE_DAYS) -> Usage:
    """Calls to the provider's datasets over the last `days` days, per day and per table, and the plans taken."""
    since, until = _range(days)
    rows = ApiUsage.objects.filter(dataset__publisher=organization, day__gte=since, day__lte=until)
    day_rows, tables, totals = _usage(rows, since=since, until=until)
    titles = _titles({t["dataset_id"] for t in tables})
    for t in tables:
        t["dataset"] = titles.get(t["dataset_id"], t["dataset_id"])
    plans = [
        PlanRow(plan=p, quota={})
        for p in ApiPlan.objects.filter(dataset__publisher=organization, state=ApiPlan.State.ACTIVE).select_related(
            "dataset", "organization"
        )
    ]
    _fill_titles(plans)
    return Usage(
        days=day_rows,
        tables=tables,
        totals=totals,
        plans=plans,
        default_quota=None,
        charts=_charts(rows, day_rows, titles) if totals["calls"] else [],
    )


def bills_for_plan(plan: ApiPlan):
    return ApiBill.objects.filter(plan=plan).select_related("order")
