"""Reads of harvest sources, runs and reports (the staff pages), and of a harvested listing (the dataset page)."""

from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from catalog.harvest.models import (
    ExternalResource,
    HarvestedDataset,
    HarvestRecord,
    HarvestRun,
    HarvestSource,
    RecordAction,
)
from catalog.interop import licence_code_for_ckan_id
from catalog.models import DataKind, Licence, Theme
from core.models import AuditEvent

RECORDS_PER_PAGE = 50
RUNS_PER_PAGE = 20


def sources_with_last_run() -> list[HarvestSource]:
    """Every source, by name, each with `.last_run` (its newest run, or None), `.open_run` (queued or running, or
    None) and `.listing_count` (its listings still at the source): three queries whatever the number of sources."""
    newest = HarvestRun.objects.filter(source=OuterRef("pk")).order_by("-created_at", "-pk").values("pk")[:1]
    sources = list(
        HarvestSource.objects.select_related("organization")
        .annotate(
            last_run_pk=Subquery(newest),
            listing_count=Count("datasets", filter=Q(datasets__removed_at__isnull=True), distinct=True),
        )
        .order_by("name", "pk")
    )
    runs = HarvestRun.objects.in_bulk([s.last_run_pk for s in sources if s.last_run_pk])
    for source in sources:
        source.last_run = runs.get(source.last_run_pk)
        source.open_run = (
            source.last_run
            if source.last_run and source.last_run.state in (HarvestRun.State.QUEUED, HarvestRun.State.RUNNING)
            else None
        )
    return sources


def source_get(pk: int) -> HarvestSource:
    """A source for the staff pages (404 when unknown), with its owner and who registered it."""
    source = get_object_or_404(HarvestSource.objects.select_related("organization", "created_by"), pk=pk)
    source.listing_count = source.datasets.filter(removed_at__isnull=True).count()
    return source


def source_runs(source: HarvestSource, page_number=1) -> Page:
    """The source's runs, newest first, a page at a time, each with who asked for it."""
    runs = HarvestRun.objects.filter(source=source).select_related("requested_by").order_by("-created_at", "-pk")
    return Paginator(runs, RUNS_PER_PAGE).get_page(page_number)


def source_open_run(source: HarvestSource) -> HarvestRun | None:
    return (
        HarvestRun.objects.filter(source=source, state__in=[HarvestRun.State.QUEUED, HarvestRun.State.RUNNING])
        .order_by("-created_at")
        .first()
    )


def source_audit_events(source: HarvestSource, limit: int = 20):
    """The decisions about the source (registered, changed with the reason, paused, resumed), newest first."""
    return (
        AuditEvent.objects.filter(object_type="harvestsource", object_id=str(source.pk))
        .select_related("actor")
        .order_by("-created_at", "-pk")[:limit]
    )


def mapping_display(source: HarvestSource) -> dict:
    """The source's mapping rules with our themes and licences by name (in the reader's language): two queries."""
    mapping = source.mapping or {}
    themes = {t.code: t.name for t in Theme.objects.all()}
    licences = {lic.code: lic.name for lic in Licence.objects.all()}
    kinds = dict(DataKind.choices)
    return {
        "themes": [(value, themes.get(code, code)) for value, code in (mapping.get("themes") or {}).items()],
        "licences": [(value, licences.get(code, code)) for value, code in (mapping.get("licences") or {}).items()],
        "default_theme": themes.get(mapping.get("default_theme") or "", ""),
        "default_licence": licences.get(mapping.get("default_licence") or "", ""),
        "data_kind": kinds.get(mapping.get("data_kind") or DataKind.PUBLIC, ""),
    }


@dataclass
class ValueRow:
    value: str  # as the source writes it
    title: str  # the source's label for it
    datasets: int  # how many of the source's datasets use it
    ours: str  # what it becomes here (a theme or licence name), "" when nothing
    how: str  # "rule" (a mapping rule), "known" (a licence id we know), "default", or "none" (reported)


def mapping_coverage(values, mapping: dict) -> dict:
    """What each value a CKAN source uses (catalog.harvest.probe.SourceValues) becomes under `mapping`: by a rule,
    by a licence id we know (catalog.interop), by the default, or nothing (the dataset is reported, not imported).
    Lets the admin see, before a harvest, which values the rules leave out."""
    mapping = mapping or {}
    themes = {t.code: t.name for t in Theme.objects.all()}
    licences = {lic.code: lic.name for lic in Licence.objects.all()}
    theme_rules, licence_rules = mapping.get("themes") or {}, mapping.get("licences") or {}
    default_theme, default_licence = mapping.get("default_theme") or "", mapping.get("default_licence") or ""

    def theme_row(value, title, count):
        if value in theme_rules:
            return ValueRow(value, title, count, themes.get(theme_rules[value], theme_rules[value]), "rule")
        if default_theme:
            return ValueRow(value, title, count, themes.get(default_theme, default_theme), "default")
        return ValueRow(value, title, count, "", "none")

    def licence_row(value, title, count):
        if value in licence_rules:
            return ValueRow(value, title, count, licences.get(licence_rules[value], licence_rules[value]), "rule")
        known = licence_code_for_ckan_id(value)
        if known and known in licences:
            return ValueRow(value, title, count, licences[known], "known")
        if default_licence:
            return ValueRow(value, title, count, licences.get(default_licence, default_licence), "default")
        return ValueRow(value, title, count, "", "none")

    return {
        "groups": [theme_row(*row) for row in values.groups],
        "licences": [licence_row(*row) for row in values.licences],
        "tags": values.tags,
    }


@dataclass
class RunReport:
    run: HarvestRun
    action: str  # the filter ("" = every line)
    counts: dict  # action → number of report lines (what the filter tabs show)
    page: Page  # the report lines shown, each with .dataset (slug) when the listing exists

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def tabs(self) -> list[tuple[str, str, int]]:
        """(action, label, number of lines) for the filter tabs, in the order of RecordAction."""
        return [(value, label, self.counts.get(value, 0)) for value, label in RecordAction.choices]


def run_report(pk: int, *, action: str = "", page_number=1) -> RunReport:
    """A run with its report lines, filtered by action (one of RecordAction, or "" for all) and paginated."""
    run = get_object_or_404(HarvestRun.objects.select_related("source__organization", "requested_by"), pk=pk)
    if action not in RecordAction.values:
        action = ""
    counts = dict.fromkeys(RecordAction.values, 0)
    counts.update(dict(HarvestRecord.objects.filter(run=run).values_list("action").annotate(n=Count("id")).order_by()))
    records = (
        HarvestRecord.objects.filter(run=run)
        .select_related("dataset")
        .only(
            "id",
            "identifier",
            "title",
            "action",
            "message_ko",
            "message_en",
            "created_at",
            "run_id",
            "dataset__id",
            "dataset__slug",
        )
        .order_by("id")
    )
    if action:
        records = records.filter(action=action)
    return RunReport(
        run=run, action=action, counts=counts, page=Paginator(records, RECORDS_PER_PAGE).get_page(page_number)
    )


def dataset_harvest_info(dataset) -> HarvestedDataset | None:
    """Where a listing came from (its source and the source's owner), or None for a listing made here: one query.
    (catalog.selectors.dataset_page asks only for a listing it knows is harvested.)"""
    return HarvestedDataset.objects.select_related("source__organization").filter(dataset_id=dataset.pk).first()


def version_external_resources(version) -> list[ExternalResource]:
    """A harvested listing's resources that stay at the source, in the source's order."""
    return list(ExternalResource.objects.filter(version=version).order_by("position", "id"))


def harvested_datasets(source: HarvestSource) -> QuerySet[HarvestedDataset]:
    """The listings of a source, newest harvest first (removed ones included: the page says so)."""
    return HarvestedDataset.objects.filter(source=source).select_related("dataset").order_by("-harvested_at", "-pk")
