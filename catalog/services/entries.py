"""The catalog index (CatalogEntry): what buyers can find, kept in step with every change that affects it."""

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.expressions import RawSQL

from catalog import discovery
from catalog.models import CatalogEntry, DataFile, Dataset, DatasetVersion, HarvestedDataset, Offer
from catalog.pricing import entry_prices
from catalog.search import facet_keys, sort_keys, version_vector
from catalog.services.title_buckets import TITLE_KEYS_SQL

PRICE_TYPES = {Offer.Kind.FREE: "free", Offer.Kind.ONE_OFF: "paid", Offer.Kind.SUBSCRIPTION: "subscription"}


def area_of(spatial_area: str) -> str:
    """The facet value of a spatial coverage: its first two administrative levels (경기도 시흥시 정왕동 → 경기도 시흥시)."""
    return " ".join((spatial_area or "").split()[:2])[:60]


def external_formats(version: DatasetVersion) -> set[str]:
    """The facet values of a version's link resources: "CSV" → "csv", as our files' formats are written."""
    found = set()
    for value in version.external_resources.values_list("format", flat=True):
        value = "".join(c for c in value.lower() if c.isalnum())[:10]
        if value:
            found.add(value)
    return found


def catalog_entry_refresh(
    dataset: Dataset, *, harvested: bool | None = None, fresh: bool = False
) -> CatalogEntry | None:
    """Write (or delete) the dataset's catalog entry from its current published version, listing and offers.

    Called inside the transaction of every use case that changes what buyers see: approval, withdrawal,
    suspension and reinstatement, offers, download counts. Returns the entry, or None when the dataset
    is not visible to buyers. A caller that knows spares the queries: `harvested`, whether the dataset is a
    harvested listing; `fresh`, the dataset was created in this transaction (no offers yet).
    """
    version = (
        DatasetVersion.objects.filter(dataset=dataset, state=DatasetVersion.State.PUBLISHED)
        .select_related("dataset__publisher", "theme")
        .prefetch_related("files")  # the formats and the search vector's columns: one query
        .first()
    )
    dataset = version.dataset if version else Dataset.objects.get(pk=dataset.pk)
    discovery.bump_generation_on_commit()
    if version is None or dataset.listing != Dataset.Listing.ACTIVE:
        CatalogEntry.objects.filter(dataset=dataset).delete()
        return None
    files = version.files.all()
    formats = sorted({f.format for f in files if f.format != DataFile.Format.ZIP} or {f.format for f in files})
    if harvested is None:
        harvested = HarvestedDataset.objects.filter(dataset=dataset).exists()
    if harvested:
        # A harvested listing's resources are links to its source (ExternalResource): their formats are its own.
        formats = sorted({*formats, *external_formats(version)})
    offers = (
        []
        if fresh
        else list(
            dataset.offers.filter(active=True, buyer__isnull=True).values_list("kind", "price_krw", "subscription_days")
        )
    )
    kinds = [kind for kind, _price, _days in offers]
    if harvested and not offers:
        kinds = [Offer.Kind.FREE]  # free at its source, until a local offer is added (then the offers decide)
    price_from_krw, subscription_prices = entry_prices(offers)
    facets = {
        "theme_id": version.theme_id,
        "publisher_id": dataset.publisher_id,
        "licence_id": version.licence_id,
        "formats": formats,
        "price_types": sorted({PRICE_TYPES[k] for k in kinds if k in PRICE_TYPES}),  # API plans: no facet
        "tags": list(dict.fromkeys(version.tags)),
        "update_cadence": version.update_cadence,
        "area": area_of(version.spatial_area),
    }
    keys = facet_keys(
        dataset_id=dataset.pk,
        theme_id=facets["theme_id"],
        publisher_id=facets["publisher_id"],
        licence_id=facets["licence_id"],
        cadence=facets["update_cadence"],
        area=facets["area"],
        formats=formats,
        price_types=facets["price_types"],
        tags=facets["tags"],
        sample_levels=settings.CATALOG_SAMPLE_LEVELS,
    )
    values = {
        "version": version,
        "title_ko": version.title_ko,
        "title_en": version.title_en,
        "published_at": version.published_at,
        "download_count": dataset.download_count,
        "facet_keys": keys,
        "sort_keys": sort_keys(dataset.download_count, version.published_at),
        "price_from_krw": price_from_krw,
        "subscription_prices": subscription_prices,
        **facets,
    }
    # One INSERT … ON CONFLICT (dataset) DO UPDATE: no read first, no savepoint, safe against a concurrent writer.
    (entry,) = CatalogEntry.objects.bulk_create(
        [CatalogEntry(dataset=dataset, **values)],
        update_conflicts=True,
        unique_fields=["dataset"],
        update_fields=list(values),
    )
    # The title keys (catalog.services.title_buckets) are computed by PostgreSQL, with the column's collation.
    CatalogEntry.objects.filter(pk=dataset.pk).update(
        search_vector=version_vector(version),
        sort_keys=RawSQL(f"%s::varchar(12)[] || {TITLE_KEYS_SQL}", [values["sort_keys"]]),
    )
    return entry


@transaction.atomic
def dataset_count_download(dataset_id: int, count: int = 1) -> None:
    """A delivered package was downloaded: the dataset's figure (and its catalog entry's) goes up.

    Transactions calls this; the catalog never imports transactions.
    """
    Dataset.objects.filter(pk=dataset_id).update(download_count=F("download_count") + count)
    CatalogEntry.objects.filter(dataset_id=dataset_id).update(download_count=F("download_count") + count)
    entry = (
        CatalogEntry.objects.filter(dataset_id=dataset_id).values("download_count", "published_at", "sort_keys").first()
    )
    if entry is None:
        return
    titles = [key for key in entry["sort_keys"] if key.startswith("s")]  # the title keys stay as they are
    if entry["sort_keys"] != (keys := sort_keys(entry["download_count"], entry["published_at"]) + titles):
        CatalogEntry.objects.filter(dataset_id=dataset_id).update(sort_keys=keys)  # crossed into the next bucket


def catalog_reindex() -> int:
    """Rebuild every entry (after a bulk load or a change of the search document); returns how many exist."""
    for dataset in Dataset.objects.all().iterator(chunk_size=500):
        with transaction.atomic():
            catalog_entry_refresh(dataset)
    return CatalogEntry.objects.count()
