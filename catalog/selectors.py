"""Read queries of the catalog, shared by the provider pages, the tus endpoint and (later) the API."""

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from accounts.exceptions import NotAllowed
from accounts.permissions import can
from catalog.models import DataFile, Dataset, DatasetVersion, Licence, Review, Theme


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
    version = get_object_or_404(
        DatasetVersion.objects.select_related("dataset__publisher", "theme", "licence"), pk=pk
    )
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


DIFF_FIELDS = (
    "title_ko", "title_en", "description_ko", "description_en", "theme", "tags", "department", "contact_name",
    "contact_phone", "contact_email", "update_cadence", "spatial_area", "spatial_bbox", "temporal_start",
    "temporal_end", "legal_basis", "collection_method", "data_kind", "licence", "data_limits", "notes",
)


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
            f"{f.parent.original_name}/{f.original_name}": f for f in v.files.filter(parent__isnull=False).select_related("parent")
        }

    old_files, new_files = files_of(baseline), files_of(version)
    for name in sorted(set(old_files) | set(new_files)):
        old, new = old_files.get(name), new_files.get(name)
        entry = {"name": name, "status": "unchanged", "rows_old": getattr(old, "row_count", None),
                 "rows_new": getattr(new, "row_count", None), "added": [], "removed": [], "retyped": []}
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
                for c in new_cols if c in old_cols and old_cols[c] != new_cols[c]
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


def published_versions(q: str = "") -> QuerySet[DatasetVersion]:
    """What buyers may see: the published version of every actively listed dataset (those with a
    catalog entry); with a query, only the matches, best first."""
    from django.contrib.postgres.search import SearchRank

    from catalog.search import parse_query

    qs = DatasetVersion.objects.filter(entry__isnull=False).select_related("dataset__publisher", "theme", "licence")
    query = parse_query(q)
    if query is None:
        return qs.order_by("-published_at")
    rank = SearchRank("entry__search_vector", query, weights=[0.1, 0.2, 0.4, 1.0], cover_density=True)
    return qs.filter(entry__search_vector=query).annotate(rank=rank).order_by("-rank", "-published_at")


def dataset_public_get(slug: str) -> DatasetVersion:
    """The published version of a listed dataset; 404 for drafts, rejected, withdrawn or suspended ones."""
    from django.http import Http404

    version = published_versions().filter(dataset__slug=slug).first()
    if version is None:
        raise Http404
    return version


def dataset_public_history(dataset: Dataset) -> QuerySet[DatasetVersion]:
    return dataset.versions.filter(state__in=["published", "superseded"]).order_by("-number")
