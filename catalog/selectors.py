"""Read queries of the catalog, shared by the provider pages, the tus endpoint and (later) the API."""

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import Organization
from accounts.permissions import can
from catalog import derived, discovery
from catalog.models import DataFile, Dataset, DatasetVersion, DerivedFile, Licence, Review, Theme
from catalog.pricing import offer_price
from catalog.schedule import next_update_due
from core.errors import NotAllowed


def datasets_for_publisher(organization) -> QuerySet[Dataset]:
    """The organization's datasets with their newest version, for "My datasets"."""
    newest = DatasetVersion.objects.order_by("-number")
    return (
        Dataset.objects.filter(publisher=organization)
        .prefetch_related(Prefetch("versions", queryset=newest))
        .annotate(version_count=Count("versions"))
        .order_by("-updated_at")
    )


def _check_publisher(user, dataset: Dataset):
    if not can(user, "accounts.publish_for_org", dataset.publisher):
        raise NotAllowed


def dataset_get_for_publisher(*, user, pk: int) -> Dataset:
    dataset = get_object_or_404(Dataset.objects.select_related("publisher"), pk=pk)
    _check_publisher(user, dataset)
    return dataset


def version_get_for_publisher(*, user, pk: int) -> DatasetVersion:
    """A version of one of the user's organization's datasets; 403 for anyone else."""
    version = get_object_or_404(DatasetVersion.objects.select_related("dataset__publisher", "theme", "licence"), pk=pk)
    _check_publisher(user, version.dataset)
    return version


def datafile_get_for_publisher(*, user, pk: int) -> DataFile:
    datafile = get_object_or_404(DataFile.objects.select_related("version__dataset__publisher"), pk=pk)
    _check_publisher(user, datafile.version.dataset)
    return datafile


def version_files(version: DatasetVersion) -> QuerySet[DataFile]:
    return version.files.filter(parent__isnull=True).prefetch_related("members").order_by("created_at")


def licences_for(organization) -> QuerySet[Licence]:
    return Licence.objects.filter(Q(organization__isnull=True) | Q(organization=organization))


def themes() -> QuerySet[Theme]:
    return Theme.objects.all()


# The review diff compares every field a publisher describes (the same list the services write).
DIFF_FIELDS = DatasetVersion.METADATA_FIELDS


def version_baseline(version: DatasetVersion) -> DatasetVersion | None:
    """The version a reviewer compares against: the newest published (or superseded) one before it."""
    return (
        version.dataset.versions.filter(number__lt=version.number, state__in=["published", "superseded", "withdrawn"])
        .order_by("-number")
        .first()
    )


def _display(value):
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def version_diff(version: DatasetVersion, baseline: DatasetVersion | None = None) -> dict:
    """What changed against the last published version: metadata fields, files, schema columns
    (added, removed, retyped) and row counts. With no baseline everything is new."""
    baseline = baseline if baseline is not None else version_baseline(version)
    result = {"baseline": baseline, "fields": [], "files": []}
    if baseline is None:
        return result
    for name in DIFF_FIELDS:
        old, new = getattr(baseline, name), getattr(version, name)
        if _display(old) != _display(new):
            label = DatasetVersion._meta.get_field(name).verbose_name
            result["fields"].append({"field": name, "label": label, "old": _display(old), "new": _display(new)})

    def files_of(v):
        return {f.original_name: f for f in v.files.filter(parent__isnull=True).order_by("original_name")} | {
            f"{f.parent.original_name}/{f.original_name}": f
            for f in v.files.filter(parent__isnull=False).select_related("parent")
        }

    old_files, new_files = files_of(baseline), files_of(version)
    for name in sorted(set(old_files) | set(new_files)):
        old, new = old_files.get(name), new_files.get(name)
        entry = {
            "name": name,
            "status": "unchanged",
            "rows_old": getattr(old, "row_count", None),
            "rows_new": getattr(new, "row_count", None),
            "added": [],
            "removed": [],
            "retyped": [],
        }
        if old is None:
            entry["status"] = "added"
        elif new is None:
            entry["status"] = "removed"
        elif old.sha256 != new.sha256:
            entry["status"] = "changed"
        if old is not None and new is not None:
            old_cols = {f["name"]: f["type"] for f in (old.table_schema or {}).get("fields", [])}
            new_cols = {f["name"]: f["type"] for f in (new.table_schema or {}).get("fields", [])}
            entry["added"] = [c for c in new_cols if c not in old_cols]
            entry["removed"] = [c for c in old_cols if c not in new_cols]
            entry["retyped"] = [
                {"name": c, "old": old_cols[c], "new": new_cols[c]}
                for c in new_cols
                if c in old_cols and old_cols[c] != new_cols[c]
            ]
        result["files"].append(entry)
    return result


OPEN_STATES = ("draft", "checking", "ready", "submitted", "rejected")


def version_has_personal_data(version: DatasetVersion) -> bool:
    """A file of the version passed with personal data, so submission needs a justification."""
    return version.files.needing_justification().exists()


def version_history(version: DatasetVersion) -> QuerySet[Review]:
    return version.reviews.select_related("actor").order_by("-created_at", "-id")


def version_open_sibling(version: DatasetVersion) -> DatasetVersion | None:
    """The other version of the dataset that is in progress, if any (at most one may be open)."""
    return version.dataset.versions.filter(state__in=OPEN_STATES).exclude(pk=version.pk).first()


def review_queue_counts() -> dict[str, int]:
    return {
        "waiting": DatasetVersion.objects.filter(state="submitted").count(),
        "published": DatasetVersion.objects.filter(state="published").count(),
        "suspended": Dataset.objects.filter(listing=Dataset.Listing.SUSPENDED, versions__state="published").count(),
    }


def review_queue_waiting() -> QuerySet[DatasetVersion]:
    """Submitted versions, the longest waiting first, with their file count and a personal-data flag."""
    pii = DataFile.objects.needing_justification().filter(version=OuterRef("pk"))
    return (
        DatasetVersion.objects.filter(state="submitted")
        .select_related("dataset__publisher", "theme")
        .annotate(file_count=Count("files", filter=Q(files__parent__isnull=True)), has_pii=Exists(pii))
        .order_by("submitted_at", "pk")
    )


def review_recent_decisions(limit: int = 50):
    return (
        Review.objects.filter(action__in=[Review.Action.APPROVE, Review.Action.REJECT])
        .select_related("version__dataset__publisher", "actor")
        .order_by("-created_at", "-id")[:limit]
    )


def review_published() -> QuerySet[DatasetVersion]:
    return (
        DatasetVersion.objects.filter(state="published")
        .select_related("dataset__publisher")
        .order_by("-dataset__listing", "-published_at")
    )


def catalog_search(params, *, page=1):
    """The catalog page for GET parameters: entries, total (exact or labelled estimate) and facets."""
    return discovery.catalog_search(params, page=page)


def home_sections() -> dict:
    return discovery.home_sections()


def similar_terms(q: str) -> list[str]:
    return discovery.similar_terms(q)


# ---- Public dataset and organization pages (catalog/public_views.py) --------------------------------------
# Everything a buyer sees comes from CatalogEntry: a dataset without an entry (draft, rejected, withdrawn,
# suspended) does not exist for these functions. The dataset page costs five queries whatever the number
# of files: entry (with version, theme, licence, dataset, publisher), files, offers, history, related.

from dataclasses import dataclass, field  # noqa: E402
from datetime import date, datetime  # noqa: E402

from catalog.licences import RenderedLicence, UnfilledPlaceholder, render_for_version  # noqa: E402
from catalog.models import CatalogEntry, Offer  # noqa: E402

PUBLIC_HISTORY_STATES = (DatasetVersion.State.PUBLISHED, DatasetVersion.State.SUPERSEDED)
SAMPLE_CHECK_STATES = (DataFile.Check.PASSED, DataFile.Check.WARNING)
RELATED_LIMIT = 6
_RELATED_FIELDS = (
    "dataset__slug",
    "title_ko",
    "title_en",
    "publisher__name_ko",
    "publisher__name_en",
    "theme__code",
    "theme__name_ko",
    "theme__name_en",
    "tags",
    "formats",
    "price_types",
    "published_at",
    "update_cadence",
    "download_count",
)


@dataclass
class DatasetPage:
    """What the public dataset page shows, read in a fixed number of queries."""

    entry: CatalogEntry
    version: DatasetVersion
    dataset: Dataset
    files: list[DataFile]  # top-level files; a ZIP's members are in .member_list
    tabular_files: list[DataFile]  # every file with a schema (ZIP members included), in page order
    offers: list[Offer]  # public, active; each with .price (catalog.pricing.Price) and .version_number
    history: list[DatasetVersion]  # published and superseded versions, newest first
    related: list[CatalogEntry]
    bbox: tuple[float, float, float, float] | None  # (west, south, east, north), WGS84
    next_update: date | None
    today: date = field(default_factory=date.today)
    # The licence text with its blanks filled, as checkout shows it (catalog.licences); None without one.
    licence_text: RenderedLicence | None = None

    @property
    def has_free_offer(self) -> bool:
        return any(o.kind == Offer.Kind.FREE for o in self.offers)

    @property
    def sample_files(self) -> list[DataFile]:
        return [f for f in self.tabular_files if f.sample_rows]

    @property
    def shipped_files(self) -> list[DataFile]:
        """The files a package holds under data/ byte for byte (an uploaded ZIP's members, not the
        ZIP), as transactions.delivery.packaging plans them."""
        return [m for f in self.files for m in (f.member_list or [f])]

    @property
    def has_excel_copies(self) -> bool:
        """Some CSV/TSV file gets a separate copy for Excel in data/excel/ (catalog.derived)."""
        return any("excel" in derived.kinds_for(f) and not f.excel_as_is for f in self.shipped_files)

    @property
    def excel_as_is(self) -> list[DataFile]:
        """CSV/TSV files that are their own Excel copy (UTF-8 with a BOM, no formula-looking cell), as
        found when the copies were made: the package says to open them as they are."""
        return [f for f in self.shipped_files if f.excel_as_is]

    @property
    def has_utf8_copies(self) -> bool:
        """Some JSON/GeoJSON stored in another encoding also comes as UTF-8 in data/utf8/."""
        return any("utf8" in derived.kinds_for(f) for f in self.shipped_files)

    @property
    def first_published_at(self) -> datetime | None:
        dates = [v.published_at for v in self.history if v.published_at]
        return min(dates) if dates else None

    @property
    def update_overdue(self) -> bool:
        return self.next_update is not None and self.next_update < self.today


def valid_bbox(value) -> tuple[float, float, float, float] | None:
    """[west, south, east, north] in WGS84 degrees, or None when the stored value is not one."""
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        return None
    try:
        west, south, east, north = (float(v) for v in value)
    except (TypeError, ValueError):
        return None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south < north <= 90) or west == east:
        return None
    return west, south, east, north


def _file_tree(files: list[DataFile]) -> tuple[list[DataFile], list[DataFile]]:
    """Top-level files with their ZIP members attached, and the tabular files in page order."""
    by_id = {f.pk: f for f in files}
    for f in files:
        f.member_list = []
        preview = f.preview if f.check_state in SAMPLE_CHECK_STATES else None
        f.sample_rows = len((preview or {}).get("rows") or [])
        f.has_nulls = any(col.get("nulls") for col in f.profile or [])
    for f in files:
        if f.parent_id in by_id:
            by_id[f.parent_id].member_list.append(f)
    top = [f for f in files if f.parent_id is None]
    tabular = [f for parent in top for f in (parent, *parent.member_list) if f.table_schema]
    return top, tabular


def dataset_related(entry: CatalogEntry, limit: int = RELATED_LIMIT) -> list[CatalogEntry]:
    """Other visible datasets sharing a keyword (first) or the theme: one query of two capped index scans."""
    base = (
        CatalogEntry.objects.exclude(pk=entry.pk)
        .select_related("dataset", "publisher", "theme")
        .only(*_RELATED_FIELDS)
        .order_by("-published_at", "pk")
    )
    same_theme = base.filter(theme_id=entry.theme_id)[:limit]
    rows = (
        list(base.filter(tags__overlap=entry.tags)[:limit].union(same_theme, all=True))
        if entry.tags
        else list(same_theme)
    )
    tags = set(entry.tags)
    seen, result = set(), []
    # Sorted: more shared keywords first, then newest (the union keeps each half newest first).
    for row in sorted(rows, key=lambda r: -len(tags.intersection(r.tags))):
        if row.pk not in seen:
            seen.add(row.pk)
            result.append(row)
    return result[:limit]


def dataset_page(slug: str) -> DatasetPage:
    """The public page of a dataset buyers can see; 404 for any other (drafts, rejected, withdrawn, suspended)."""
    entry = (
        CatalogEntry.objects.select_related("dataset__publisher", "version__theme", "version__licence")
        .defer("search_vector")
        .filter(dataset__slug=slug)
        .first()
    )
    if entry is None:
        raise Http404
    version, dataset = entry.version, entry.dataset
    version.dataset = dataset
    files = list(
        DataFile.objects.filter(version=version)
        .defer("check_messages", "pii_findings", "file")
        # A file that is its own Excel copy (catalog.derived), known once the copies were made.
        .annotate(
            excel_as_is=Exists(
                DerivedFile.objects.filter(
                    datafile=OuterRef("pk"), kind=DerivedFile.Kind.EXCEL, same_as_original=True, built_at__isnull=False
                )
            )
        )
        .order_by("created_at", "id")
    )
    top, tabular = _file_tree(files)
    history = list(
        DatasetVersion.objects.filter(dataset=dataset, state__in=PUBLIC_HISTORY_STATES)
        .only("id", "dataset_id", "number", "state", "change_note", "published_at")
        .order_by("-number")
    )
    numbers = {v.pk: v.number for v in history}
    offers = list(
        Offer.objects.filter(dataset=dataset, buyer__isnull=True, active=True).order_by("price_krw", "kind", "pk")
    )
    for offer in offers:
        offer.dataset = dataset  # the publisher's VAT status, without a query per offer
        offer.price = offer_price(offer)
        offer.version_number = numbers.get(offer.version_id)
    today = timezone.localdate()
    published = timezone.localdate(version.published_at) if version.published_at else None
    return DatasetPage(
        entry=entry,
        version=version,
        dataset=dataset,
        files=top,
        tabular_files=tabular,
        offers=offers,
        history=history,
        related=dataset_related(entry),
        bbox=valid_bbox(version.spatial_bbox),
        next_update=next_update_due(version.update_cadence, published),
        today=today,
        licence_text=_licence_text(version),
    )


def _licence_text(version: DatasetVersion) -> RenderedLicence | None:
    try:
        return render_for_version(version.licence, version)
    except UnfilledPlaceholder:
        # Checkout refuses such a text; the page shows the licence's name and summary without it.
        return None


def dataset_sample_file(slug: str, file_id: int | None = None) -> DataFile:
    """A checked file of a visible dataset's published version with preview rows (the free sample)."""
    files = (
        DataFile.objects.filter(
            version__entry__dataset__slug=slug, check_state__in=SAMPLE_CHECK_STATES, preview__rows__0__isnull=False
        )
        .select_related("version")
        .only("id", "original_name", "preview", "created_at", "version__id", "version__number")
        .order_by("created_at", "id")
    )
    datafile = (files.filter(pk=file_id) if file_id is not None else files).first()
    if datafile is None:
        raise Http404
    return datafile


def organization_public_get(slug: str):
    """Any organization by its short name (verified or not: the page says which); 404 when unknown."""
    return get_object_or_404(Organization.objects.select_related("parent"), slug=slug)


def organization_entries(organization) -> QuerySet[CatalogEntry]:
    """The organization's datasets that buyers can see, newest first."""
    return (
        CatalogEntry.objects.filter(publisher=organization)
        .select_related("dataset", "theme", "version")
        .only(
            "dataset__slug",
            "title_ko",
            "title_en",
            "theme__code",
            "theme__name_ko",
            "theme__name_en",
            "formats",
            "price_types",
            "published_at",
            "version__number",
            "version__description_ko",
            "version__description_en",
        )
        .order_by("-published_at", "pk")
    )


def organization_departments(organization):
    """Its departments (a city's divisions), each with how many datasets buyers can see."""

    def count():
        departments = list(organization.departments.order_by("name_ko"))
        # One grouped count over the publisher index (an index-only scan): a count per department as a correlated
        # subquery visited every entry's heap row (0.3 s for 27 departments at a million datasets).
        counts = (
            dict(
                CatalogEntry.objects.filter(publisher__in=[d.pk for d in departments])
                .order_by()
                .values_list("publisher")
                .annotate(n=Count("*"))  # count(*): the index alone answers
            )
            if departments
            else {}
        )
        for department in departments:
            department.published = counts.get(department.pk, 0)
        return departments

    # Cached per catalog generation (and ten minutes, for departments created meanwhile).
    return cache.get_or_set(f"catalog:departments:{discovery.catalog_generation()}:{organization.pk}", count, 600)
