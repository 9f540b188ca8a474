"""Read queries of the catalog, shared by the provider pages, the tus endpoint and (later) the API."""

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from accounts.permissions import can
from catalog import derived, dictionary, discovery, textdiff
from catalog.models import (
    API_OFFER_KINDS,
    DataFile,
    Dataset,
    DatasetVersion,
    DerivedFile,
    Licence,
    Offer,
    Review,
    Theme,
    Upload,
)
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


# --- The provider API (/api/v1/provider/): everything is looked up inside the acting organization, so another
# organization's ids are simply not found (404), never shown and never told apart from ids that do not exist.


def provider_datasets(organization) -> QuerySet[Dataset]:
    """The organization's datasets in every state, newest change first, each with its versions (newest first),
    the version in progress (`open_versions`) and the published one (`published_versions`)."""
    versions = DatasetVersion.objects.order_by("-number")
    return (
        Dataset.objects.filter(publisher=organization)
        .prefetch_related(
            Prefetch("versions", queryset=versions),
            Prefetch("versions", queryset=versions.filter(state__in=OPEN_STATES), to_attr="open_versions"),
            Prefetch("versions", queryset=versions.filter(state="published"), to_attr="published_versions"),
        )
        .annotate(version_count=Count("versions"))
        .order_by("-updated_at", "-pk")
    )


def provider_dataset_get(*, organization, slug: str) -> Dataset:
    return get_object_or_404(provider_datasets(organization), slug=slug)


def provider_version_get(*, organization, pk: int) -> DatasetVersion:
    return get_object_or_404(
        DatasetVersion.objects.select_related("dataset__publisher", "theme", "licence"),
        pk=pk,
        dataset__publisher=organization,
    )


def provider_version_files(version: DatasetVersion) -> QuerySet[DataFile]:
    """Every file of a version, ZIP members and a workbook's sheet tables included (each names its `parent`)."""
    return version.files.select_related("predecessor").order_by("created_at", "id")


def provider_datafile_get(*, version: DatasetVersion, pk: int) -> DataFile:
    return get_object_or_404(provider_version_files(version).select_related("version__dataset__publisher"), pk=pk)


def provider_version_file(version: DatasetVersion, pk: int) -> DataFile | None:
    """A top-level file of this version by id (the file an upload replaces), or None."""
    return version.files.filter(pk=pk, parent__isnull=True).first()


def provider_dataset_offers(dataset: Dataset) -> QuerySet[Offer]:
    """The dataset's active offers, as the version page lists them."""
    return dataset.offers.filter(active=True).select_related("buyer", "version").order_by("price_krw", "pk")


def provider_offer_get(*, organization, pk: int) -> Offer:
    return get_object_or_404(
        Offer.objects.select_related("dataset__publisher", "buyer", "version"), pk=pk, dataset__publisher=organization
    )


def provider_dataset_version(dataset: Dataset, pk: int) -> DatasetVersion | None:
    """A version of this dataset by id (the one-off offer's version), or None."""
    return dataset.versions.filter(pk=pk).first()


def version_files(version: DatasetVersion) -> QuerySet[DataFile]:
    """Top-level files with their ZIP members, and the file each continues (`predecessor`: carried over
    from, or replacing a file of, the version this one was started from)."""
    members = DataFile.objects.select_related("predecessor__version").order_by("created_at", "id")
    return (
        version.files.filter(parent__isnull=True)
        .select_related("predecessor__version")
        .prefetch_related(Prefetch("members", queryset=members), "members__members")
        .order_by("created_at", "id")
    )


def version_lineage(version: DatasetVersion) -> dict | None:
    """Where a new version's files came from: {"from": number of the version they continue, "carried": files
    still carried over unchanged, "replaced": files uploaded to replace one}; None for a version that did not
    start from another."""
    rows = list(
        version.files.filter(parent__isnull=True, predecessor__isnull=False).values_list(
            "file", "predecessor__file", "predecessor__version__number"
        )
    )
    if not rows:
        return None
    carried = sum(1 for name, old_name, _number in rows if name == old_name)
    return {"from": max(number for *_names, number in rows), "carried": carried, "replaced": len(rows) - carried}


def version_dictionary_files(version: DatasetVersion) -> list[DataFile]:
    """The table files of a version (ZIP members included) with their data dictionary rows, for the review."""
    files = list(
        version.files.filter(table_schema__isnull=False)
        .only("id", "original_name", "table_schema", "dictionary", "version_id")
        .order_by("created_at", "id")
    )
    for f in files:
        f.dictionary_rows = dictionary.rows(f)
        f.described = dictionary.described_count(f)
    return files


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


# A file of the new version whose name matches no file of the baseline is paired with the baseline file whose
# columns it shares most, when they share enough: at least half of all their column names (Jaccard), or at
# least two names making up 80 % of the narrower file's columns (a file that gained many columns).
SCHEMA_MATCH_JACCARD = 0.5
SCHEMA_MATCH_COVER = 0.8


def _columns(datafile: DataFile) -> dict[str, str]:
    return {c["name"]: c.get("type", "") for c in (datafile.table_schema or {}).get("fields", []) if "name" in c}


def _schema_match(old: DataFile, new: DataFile) -> tuple[float, int] | None:
    a, b = set(_columns(old)), set(_columns(new))
    shared = len(a & b)
    if not shared:
        return None
    jaccard = shared / len(a | b)
    if jaccard >= SCHEMA_MATCH_JACCARD or (shared >= 2 and shared / min(len(a), len(b)) >= SCHEMA_MATCH_COVER):
        return jaccard, shared
    return None


def _pair_files(old_files: dict[str, DataFile], new_files: dict[str, DataFile]) -> list[tuple]:
    """(old key, new key, how) pairs: by predecessor (a carried file or a replacement uploaded for one), then by
    name, then by the columns they share; the files left over are added or removed."""
    pairs = []
    old_left, new_left = dict(old_files), dict(new_files)
    old_by_pk = {f.pk: key for key, f in old_files.items()}
    for key, new in list(new_left.items()):
        old_key = old_by_pk.get(new.predecessor_id)
        if old_key in old_left:
            pairs.append((old_key, key, "predecessor"))
            del old_left[old_key], new_left[key]
    for key in [k for k in new_left if k in old_left]:
        pairs.append((key, key, "name"))
        del old_left[key], new_left[key]
    candidates = sorted(
        (
            (score, old_key, new_key)
            for old_key, old in old_left.items()
            for new_key, new in new_left.items()
            if (score := _schema_match(old, new))
        ),
        reverse=True,
    )
    for _score, old_key, new_key in candidates:
        if old_key in old_left and new_key in new_left:
            pairs.append((old_key, new_key, "schema"))
            del old_left[old_key], new_left[new_key]
    pairs += [(key, None, None) for key in old_left] + [(None, key, None) for key in new_left]
    return pairs


def _files_by_name(version: DatasetVersion) -> dict[str, DataFile]:
    """Every file of a version by its name as a buyer sees it (a ZIP member as "archive.zip/member.csv")."""
    files = list(version.files.select_related("parent").order_by("created_at", "id"))
    result = {}
    for f in files:
        key = f"{f.parent.original_name}/{f.original_name}" if f.parent_id else f.original_name
        while key in result:  # two files of one name: both are compared
            key += " "
        result[key] = f
    return result


def version_diff(version: DatasetVersion, baseline: DatasetVersion | None = None) -> dict:
    """What changed against the last published version. Description fields with a word diff
    (catalog.textdiff), and per file: how it pairs with a file of the baseline (kept, changed, replaced under
    another name, added, removed), the columns added, removed and retyped, and the change in rows.
    With no baseline everything is new."""
    baseline = baseline if baseline is not None else version_baseline(version)
    result = {"baseline": baseline, "fields": [], "files": [], "column_changes": 0}
    if baseline is None:
        return result
    for name in DIFF_FIELDS:
        old, new = getattr(baseline, name), getattr(version, name)
        if _display(old) != _display(new):
            label = DatasetVersion._meta.get_field(name).verbose_name
            result["fields"].append(
                {
                    "field": name,
                    "label": label,
                    "old": _display(old),
                    "new": _display(new),
                    "words": textdiff.word_diff(_display(old), _display(new)),
                }
            )

    old_files, new_files = _files_by_name(baseline), _files_by_name(version)
    for old_key, new_key, how in _pair_files(old_files, new_files):
        old, new = old_files.get(old_key), new_files.get(new_key)
        entry = {
            "name": (new_key or old_key).rstrip(),
            "old_name": old_key.rstrip() if old_key and new_key and old_key != new_key else "",
            "matched_by": how,
            "status": "unchanged",
            "rows_old": getattr(old, "row_count", None),
            "rows_new": getattr(new, "row_count", None),
            "rows_delta": None,
            "added": [],
            "removed": [],
            "retyped": [],
        }
        if old is None:
            entry["status"] = "added"
        elif new is None:
            entry["status"] = "removed"
        elif old.sha256 != new.sha256:
            entry["status"] = "replaced" if entry["old_name"] else "changed"
        if old is not None and new is not None:
            old_cols, new_cols = _columns(old), _columns(new)
            entry["added"] = [c for c in new_cols if c not in old_cols]
            entry["removed"] = [c for c in old_cols if c not in new_cols]
            entry["retyped"] = [
                {"name": c, "old": old_cols[c], "new": new_cols[c]}
                for c in new_cols
                if c in old_cols and old_cols[c] != new_cols[c]
            ]
            if old.row_count is not None and new.row_count is not None:
                entry["rows_delta"] = new.row_count - old.row_count
                entry["rows_change"] = abs(entry["rows_delta"])
        entry["column_change"] = bool(entry["added"] or entry["removed"] or entry["retyped"])
        result["column_changes"] += entry["column_change"]
        result["files"].append(entry)
    result["files"].sort(key=lambda e: e["name"])
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


def review_pii_summaries(versions) -> dict[int, dict]:
    """For a page of the review queue: per version, the kinds of personal data its files' checks found, how many
    files had any, and whether any finding blocks publication (one query)."""
    summaries = {v.pk: {"kinds": set(), "files": 0, "blocking": False} for v in versions}
    rows = (
        DataFile.objects.filter(version_id__in=list(summaries))
        .exclude(pii_findings=[])
        .values_list("version_id", "pii_findings")
    )
    for version_id, findings in rows:
        summary = summaries[version_id]
        summary["files"] += 1
        for finding in findings or []:
            summary["kinds"].add(str(finding.get("kind", "")))
            summary["blocking"] = summary["blocking"] or bool(finding.get("blocking"))
    for summary in summaries.values():
        summary["kinds"] = sorted(k for k in summary["kinds"] if k)
    return summaries


def version_get_for_review(pk: int) -> DatasetVersion:
    """Any version, for the platform admin's review page and API (the caller checks the admin)."""
    return get_object_or_404(
        DatasetVersion.objects.select_related("dataset__publisher", "theme", "licence", "created_by"), pk=pk
    )


def dataset_get_for_review(slug: str) -> Dataset:
    """Any dataset by its short name, for the platform admin's listing decisions."""
    return get_object_or_404(Dataset.objects.select_related("publisher"), slug=slug)


def dataset_active_offers(dataset: Dataset) -> QuerySet:
    """The dataset's offers in force (private ones included), cheapest first, as the review and submission show."""
    return dataset.offers.filter(active=True).select_related("buyer", "version").order_by("price_krw", "id")


def version_pii_files(version: DatasetVersion) -> list[DataFile]:
    """The version's files (ZIP members and sheets included) in which the checks found personal data."""
    return [f for f in version.files.select_related("parent").order_by("created_at", "id") if f.pii_findings]


def catalog_search(params, *, page=1, page_size=None):
    """The catalog page for GET parameters: entries, total (exact or labelled estimate) and facets."""
    return discovery.catalog_search(params, page=page, page_size=page_size)


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

from catalog.filters import CatalogFilter  # noqa: E402
from catalog.harvest import selectors as harvest_selectors  # noqa: E402
from catalog.harvest.models import ExternalResource, HarvestedDataset  # noqa: E402
from catalog.licences import RenderedLicence, UnfilledPlaceholder, render_for_version  # noqa: E402
from catalog.models import CatalogEntry, LiveTable  # noqa: E402

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
    api_offers: list[Offer] = field(default_factory=list)  # API plans (issue 16), shown in their own box
    # A harvested listing (issue 17): where it comes from (source, owner, link back), and its resources that stay
    # at the source. None and [] for a listing made here.
    harvest: HarvestedDataset | None = None
    external_resources: list[ExternalResource] = field(default_factory=list)

    @property
    def free_at_source(self) -> bool:
        """A harvested listing without a local public offer: free at its source (the page says so and links there;
        a local offer, once added, is shown and sold like any other)."""
        return self.harvest is not None and not self.offers and not self.api_offers

    @property
    def map_files(self) -> list[DataFile]:
        """The files with a map layer (points, grid or features; catalog.ingest.maps), in page order."""
        return [m for f in self.files for m in (f, *f.member_list) if getattr(m, "map_kind", None)]

    @property
    def has_free_offer(self) -> bool:
        return any(o.kind == Offer.Kind.FREE for o in self.offers)

    @property
    def sample_files(self) -> list[DataFile]:
        return [f for f in self.tabular_files if f.sample_rows]

    @property
    def shipped_files(self) -> list[DataFile]:
        """The files a package holds under data/ byte for byte (an uploaded ZIP's members, not the
        ZIP; a workbook, not its sheets' tables), as transactions.delivery.packaging plans them."""
        return [m for f in self.files for m in (f.member_list if f.format == "zip" and f.member_list else [f])]

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
    """Top-level files with their members attached (a ZIP's files, a workbook's sheet tables, a
    ZIP's workbook's sheet tables under it), and the tabular files in page order."""
    by_id = {f.pk: f for f in files}
    for f in files:
        f.member_list = []
        # The preview (masked by the checks where they found personal data) only of a file whose checks passed.
        f.public_preview = f.preview if f.check_state in SAMPLE_CHECK_STATES else None
        f.sample_rows = len((f.public_preview or {}).get("rows") or [])
        f.has_nulls = any(col.get("nulls") for col in f.profile or [])
        f.dictionary_rows = dictionary.rows(f) if f.table_schema else []
        f.has_dictionary = any(r["description"] or r["unit"] or r["codes"] for r in f.dictionary_rows)
    for f in files:
        if f.parent_id in by_id:
            by_id[f.parent_id].member_list.append(f)
            f.parent = by_id[f.parent_id]  # the page names a sheet's workbook: no query per table
    top = [f for f in files if f.parent_id is None]

    def walk(f):
        yield f
        for m in f.member_list:
            yield from walk(m)

    tabular = [f for parent in top for f in walk(parent) if f.table_schema]
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


def _public_files(version: DatasetVersion) -> tuple[list[DataFile], list[DataFile]]:
    """The files of a version buyers can see, as the dataset page shows them (one query): top-level files with
    their members, and the tabular files in page order (see _file_tree)."""
    return public_files_of([version])[version.pk]


def public_files_of(versions: list[DatasetVersion]) -> dict[int, tuple[list[DataFile], list[DataFile]]]:
    """_public_files of several versions in one query (a page of the DCAT catalog): {version id: (top, tabular)}."""
    by_version = {v.pk: v for v in versions}
    grouped: dict[int, list[DataFile]] = {pk: [] for pk in by_version}
    files = (
        DataFile.objects.filter(version_id__in=list(by_version))
        .defer("check_messages", "pii_findings", "map_layer")  # not "file": is_sheet reads it
        .annotate(**{f"map_{key}": KT(f"map_layer__{key}") for key in MAP_SUMMARY_KEYS})
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
    for f in files:
        f.version = by_version[f.version_id]
        _map_summary(f)
        grouped[f.version_id].append(f)
    return {pk: _file_tree(group) for pk, group in grouped.items()}


def dataset_page(slug: str) -> DatasetPage:
    """The public page of a dataset buyers can see; 404 for any other (drafts, rejected, withdrawn, suspended)."""
    entry = (
        CatalogEntry.objects.select_related(
            "dataset__publisher", "dataset__harvest__source", "version__theme", "version__licence"
        )
        .defer("search_vector")
        .annotate(has_live_tables=Exists(LiveTable.objects.filter(dataset_id=OuterRef("dataset_id"))))
        # Harvested (issue 17)? A correlated subquery, not joins: three more joins cost ~3 ms of planning on every
        # page; this costs well under 1 ms, and only a harvested listing reads its source (one more query).
        .annotate(harvest_pk=Subquery(HarvestedDataset.objects.filter(dataset_id=OuterRef("dataset_id")).values("pk")))
        .filter(dataset__slug=slug)
        .first()
    )
    if entry is None:
        raise Http404
    version, dataset = entry.version, entry.dataset
    # The live section (catalog/live/_freshness.html) reads the live tables only when there are some: most datasets
    # have none, and the page's queries stay what they were (catalog.live.selectors.freshness).
    dataset.has_live_tables = entry.has_live_tables
    version.dataset = dataset
    top, tabular = _public_files(version)
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
    # API plans (issue 16) are listed in their own box (catalog/_api_offers.html): what each plan gives.
    api_offers = [o for o in offers if o.kind in API_OFFER_KINDS]
    offers = [o for o in offers if o.kind not in API_OFFER_KINDS]
    today = timezone.localdate()
    published = timezone.localdate(version.published_at) if version.published_at else None
    harvest = harvest_selectors.dataset_harvest_info(dataset) if entry.harvest_pk else None
    return DatasetPage(
        entry=entry,
        version=version,
        dataset=dataset,
        files=top,
        tabular_files=tabular,
        offers=offers,
        api_offers=api_offers,
        history=history,
        related=dataset_related(entry),
        bbox=valid_bbox(version.spatial_bbox),
        next_update=next_update_due(version.update_cadence, published),
        today=today,
        licence_text=_licence_text(version),
        harvest=harvest,
        external_resources=harvest_selectors.version_external_resources(version) if harvest else [],
    )


# What the page says about a file's map layer without reading the layer itself (it is served by its own URL).
MAP_SUMMARY_KEYS = ("kind", "total", "shown", "capped", "cell", "hidden", "personal")


def _map_summary(f: DataFile) -> None:
    """The annotated layer summary (JSON text) as numbers and booleans for the template."""
    for key in ("total", "shown", "hidden"):
        value = getattr(f, f"map_{key}")
        setattr(f, f"map_{key}", int(value) if value not in (None, "") else None)
    f.map_cell = float(f.map_cell) if f.map_cell not in (None, "") else None
    f.map_cell_km = round(f.map_cell * 111, 1) if f.map_cell else None
    f.map_capped = f.map_capped == "true"
    f.map_personal = f.map_personal == "true"


def dataset_map_layer(slug: str, file_id: int) -> dict:
    """The map layer of a file of a visible dataset's published version; 404 for any other."""
    layer = (
        DataFile.objects.filter(pk=file_id, version__entry__dataset__slug=slug, map_layer__isnull=False)
        .values_list("map_layer", flat=True)
        .first()
    )
    if layer is None:
        raise Http404
    return layer


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
        .select_related("version", "parent")
        .only(
            "id",
            "original_name",
            "preview",
            "created_at",
            "file",
            "sheet",
            "version__id",
            "version__number",
            "parent__original_name",
        )
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
        # A harvested listing's source name for its "Harvested" badge (None for our own); a correlated subquery
        # rather than two more joins, as catalog.discovery's result lines do.
        .annotate(
            harvest_source=Subquery(
                HarvestedDataset.objects.filter(dataset_id=OuterRef("dataset_id")).values("source__name")
            )
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


# ---- What the API reads beside the pages (catalog/api): the same rows, by the same rules ----------------------

OFFER_KIND_ORDER = {
    Offer.Kind.FREE: 0,
    Offer.Kind.ONE_OFF: 1,
    Offer.Kind.SUBSCRIPTION: 2,
    Offer.Kind.API_DEV: 3,
    Offer.Kind.API_METERED: 4,
    Offer.Kind.API_SUBSCRIPTION: 5,
}


def offers_visible_to(dataset: Dataset, organization: Organization | None) -> list[Offer]:
    """The active offers of a dataset a buyer may see: every public one, and a private one only when it
    names the buyer's organization. Private first, then free, then by price (the purchase panel's order)."""
    private = Q(buyer=organization) if organization is not None else Q(pk__in=[])
    offers = (
        Offer.objects.filter(dataset=dataset, active=True)
        .filter(Q(buyer__isnull=True) | private)
        .select_related("dataset__publisher", "version", "buyer")
    )
    return sorted(offers, key=lambda o: (o.buyer_id is None, OFFER_KIND_ORDER[o.kind], o.price_krw, o.pk))


def _visible_entry(slug: str) -> CatalogEntry:
    """The catalog entry of a dataset buyers can see (404 for drafts, rejected, withdrawn, suspended)."""
    entry = CatalogEntry.objects.select_related("dataset").defer("search_vector").filter(dataset__slug=slug).first()
    if entry is None:
        raise Http404
    return entry


@dataclass
class PublicVersion:
    """A published or superseded version of a visible dataset with its files as the dataset page shows them."""

    entry: CatalogEntry
    version: DatasetVersion
    files: list[DataFile]  # top-level files; members in .member_list
    tabular_files: list[DataFile]

    @property
    def is_current(self) -> bool:
        return self.version.pk == self.entry.version_id


def dataset_version_public(slug: str, number: int) -> PublicVersion:
    """Version `number` of a visible dataset when it is published or superseded; 404 for any other."""
    return _public_version(_visible_entry(slug), number)


def _public_version(entry: CatalogEntry, number: int) -> PublicVersion:
    version = (
        DatasetVersion.objects.select_related("theme", "licence")
        .filter(dataset_id=entry.dataset_id, number=number, state__in=PUBLIC_HISTORY_STATES)
        .first()
    )
    if version is None:
        raise Http404
    version.dataset = entry.dataset
    files, tabular = _public_files(version)
    return PublicVersion(entry, version, files, tabular)


def dataset_file_public(slug: str, file_id: int) -> tuple[PublicVersion, DataFile]:
    """A file (ZIP member and sheet table included) of a published or superseded version of a visible dataset,
    with its members; 404 for any other."""
    entry = _visible_entry(slug)
    number = (
        DataFile.objects.filter(
            pk=file_id, version__dataset_id=entry.dataset_id, version__state__in=PUBLIC_HISTORY_STATES
        )
        .values_list("version__number", flat=True)
        .first()
    )
    if number is None:
        raise Http404
    public = _public_version(entry, number)
    for top in public.files:
        for f in (top, *top.member_list, *(t for m in top.member_list for t in m.member_list)):
            if f.pk == file_id:
                return public, f
    raise Http404


def themes_with_counts() -> list[Theme]:
    """Every theme with `.published`: how many datasets buyers can see in it (catalog.discovery.catalog_counts)."""
    counts = discovery.catalog_counts()["themes"]
    themes = list(Theme.objects.order_by("position", "code"))
    for theme in themes:
        theme.published = counts.get(theme.pk, 0)
    return themes


def organizations_public() -> QuerySet[Organization]:
    """The provider organizations anyone may look up: verified providers, and any organization with datasets
    buyers can see; by Korean name. Their counts: organization_counts."""
    publishers = list(discovery.catalog_counts()["publishers"])
    return (
        Organization.objects.filter(
            Q(
                kind__in=[Organization.Kind.PROVIDER, Organization.Kind.BOTH],
                verification=Organization.Verification.VERIFIED,
            )
            | Q(pk__in=publishers)
        )
        .select_related("parent")
        .order_by("name_ko", "pk")
    )


def organization_counts(organizations) -> None:
    """Set `.published` on each organization: how many of its datasets buyers can see."""
    counts = discovery.catalog_counts()["publishers"]
    for organization in organizations:
        organization.published = counts.get(organization.pk, 0)


def catalog_filter_errors(params) -> dict[str, list[tuple[str, str]]]:
    """What the catalog filter cannot read in GET parameters `params`, as {name: [(code, message)]} in the active
    language: the catalog page ignores such filters, the API refuses them (400)."""
    search = CatalogFilter(params, queryset=CatalogEntry.objects.none())
    return {
        name: [(error.code or "invalid", message) for error in errors for message in error.messages]
        for name, errors in search.form.errors.as_data().items()
    }


def upload_get_for_publisher(*, user, pk) -> Upload:
    """A resumable upload its own creator may still continue, look at or cancel: one they made (404 for anyone else's:
    no hint that it exists), for an organization they, and the API key they send if any, may publish for now
    (403: a member who left or lost the role, or a key made for another organization)."""
    upload = Upload.objects.select_related("version__dataset__publisher").filter(pk=pk, created_by=user).first()
    if upload is None:
        raise Http404
    if not can(user, "accounts.publish_for_org", upload.version.dataset.publisher):
        raise NotAllowed(_("You may not publish for this organization (any more): this upload cannot go on."))
    return upload
