"""What the DCAT-AP output reads: the public catalog, exactly as anonymous visitors see it.

The rule of what is public is the catalog's own: a dataset is described when it has a CatalogEntry (published
version, active listing), with the files catalog.selectors.public_files_of gives the dataset page, its link
resources when it was harvested, its publisher and its theme. A page of datasets costs a fixed number of queries
whatever its size: entries (with version, theme, licence, dataset, publisher, harvest source), files, first
publication dates, link resources.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Max, Min
from django.http import Http404

from catalog import selectors
from catalog.models import CatalogEntry, DataFile, DatasetVersion, ExternalResource, Theme

DATASET_ORDER = ("pk",)  # the dataset's primary key: stable while a harvester pages (new datasets come last)


@dataclass
class DatasetRecord:
    """One public dataset with everything its DCAT description needs."""

    entry: CatalogEntry
    files: list[DataFile]  # top-level files as the dataset page shows them; members in .member_list
    tabular_files: list[DataFile]
    first_published_at: datetime | None
    external_resources: list[ExternalResource] = field(default_factory=list)

    @property
    def version(self) -> DatasetVersion:
        return self.entry.version

    @property
    def dataset(self):
        return self.entry.dataset

    @property
    def harvest(self):
        """The HarvestedDataset of a harvested listing (with its source), or None."""
        try:
            return self.entry.dataset.harvest
        except ObjectDoesNotExist:
            return None

    @property
    def shipped_files(self) -> list[DataFile]:
        """What a buyer receives byte for byte (an uploaded ZIP's members, a workbook whole), as
        catalog.selectors.DatasetPage.shipped_files: the distributions."""
        return [m for f in self.files for m in (f.member_list if f.format == "zip" and f.member_list else [f])]


def _entries():
    return (
        CatalogEntry.objects.select_related(
            "dataset__publisher",
            "dataset__harvest__source__organization",
            "version__theme",
            "version__licence",
        )
        .defer("search_vector", "facet_keys", "sort_keys")
        .order_by(*DATASET_ORDER)
    )


def entries(*, modified_since: datetime | None = None):
    """The public datasets in paging order, those published (a new version included) since a moment only."""
    qs = _entries()
    if modified_since is not None:
        qs = qs.filter(published_at__gte=modified_since)
    return qs


def entry_ids(*, modified_since: datetime | None = None):
    """The ids of entries() in the same order: what a page is cut from. OFFSET over the primary key alone is an
    index scan; over the joined rows it would build every skipped row (75 ms at page 50 of 10,000)."""
    return entries(modified_since=modified_since).values_list("pk", flat=True)


def entries_by_ids(ids) -> list[CatalogEntry]:
    """The entries of a page of ids, in paging order, with everything records() needs."""
    return list(_entries().filter(pk__in=list(ids)))


def records(entries_page) -> list[DatasetRecord]:
    """DatasetRecords of a page of entries, in a fixed number of queries."""
    entries_page = list(entries_page)
    if not entries_page:
        return []
    versions = []
    for entry in entries_page:
        entry.version.dataset = entry.dataset
        versions.append(entry.version)
    files = selectors.public_files_of(versions)
    dataset_ids = [e.dataset_id for e in entries_page]
    first = dict(
        DatasetVersion.objects.filter(dataset_id__in=dataset_ids, state__in=selectors.PUBLIC_HISTORY_STATES)
        .order_by()
        .values_list("dataset_id")
        .annotate(first=Min("published_at"))
    )
    links: dict[int, list[ExternalResource]] = {}
    for resource in ExternalResource.objects.filter(version_id__in=[v.pk for v in versions]).order_by(
        "version_id", "position", "id"
    ):
        links.setdefault(resource.version_id, []).append(resource)
    return [
        DatasetRecord(
            entry=entry,
            files=files[entry.version_id][0],
            tabular_files=files[entry.version_id][1],
            first_published_at=first.get(entry.dataset_id),
            external_resources=links.get(entry.version_id, []),
        )
        for entry in entries_page
    ]


def dataset_record(slug: str) -> DatasetRecord:
    """The record of one public dataset; 404 for any dataset buyers cannot see."""
    entry = _entries().filter(dataset__slug=slug).first()
    if entry is None:
        raise Http404
    return records([entry])[0]


def last_modified() -> datetime | None:
    """When the public catalog last changed (its newest publication): one index lookup."""
    return CatalogEntry.objects.aggregate(last=Max("published_at"))["last"]


def themes() -> list[Theme]:
    return list(Theme.objects.order_by("position", "code"))


def table_file(slug: str, file_id: int) -> DataFile:
    """A file with a table schema (ZIP member and sheet table included) of a visible dataset's published or
    superseded version, with its dictionary; 404 for any other."""
    _public, datafile = selectors.dataset_file_public(slug, file_id)
    if not datafile.table_schema:
        raise Http404
    return datafile


def external_resources(version) -> list[ExternalResource]:
    """The link resources of a harvested listing's version, in the source's order (schema.org distributions)."""
    return list(ExternalResource.objects.filter(version=version).order_by("position", "id"))
