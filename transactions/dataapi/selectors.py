"""What a data API URL names: the dataset (visible in the catalog), the version (a number, `latest` or `live`)
and its tables in the query store (catalog.querystore), as engine sources for the full data or the sample.

Reads only. A withdrawn version's stores are not served (only published and superseded versions are found); a
dataset that is not in the catalog (draft, suspended, withdrawn) is 404 like its page."""

from dataclasses import dataclass, field

from django.http import Http404

from catalog.models import Dataset, DatasetVersion
from catalog.querystore import selectors as store_selectors
from catalog.selectors import PUBLIC_HISTORY_STATES

LIVE = "live"
LATEST = "latest"
MAX_NUMBER = 2**31 - 1


@dataclass
class Target:
    """The dataset and version a URL names (`version` is None for `live`)."""

    dataset: Dataset
    version: DatasetVersion | None
    token: str  # what the URL said: "latest", "live" or the number
    latest_number: int | None = None
    # The version's store tables per variant, read once per call (store_tables): the table, its sources and its
    # row count come from the same rows.
    _store_tables: dict | None = field(default=None, repr=False, compare=False)

    def store_tables(self) -> dict:
        if self._store_tables is None:
            self._store_tables = store_selectors.tables_by_variant(self.version) if self.version is not None else {}
        return self._store_tables

    @property
    def live(self) -> bool:
        return self.version is None

    @property
    def number_text(self) -> str:
        return LIVE if self.version is None else str(self.version.number)

    @property
    def url_token(self) -> str:
        """How the URL named the version: "latest" and "live" stay, a number is written plainly."""
        return self.token if self.token in (LATEST, LIVE) else self.number_text


@dataclass
class TableInfo:
    """A table as the API lists and documents it (the same for a store table and a live table)."""

    name: str
    title: str
    columns: list[dict]
    row_count: int | None
    geometry: dict | None
    order_key: str = ""
    variants: list[str] = field(default_factory=list)  # "full", "sample" (live: "live")
    source_table: object | None = None  # the QueryTable or LiveTable


def dataset_get(slug: str) -> Dataset:
    """A dataset buyers can see (its catalog entry exists), with its current version; 404 for any other."""
    dataset = (
        Dataset.objects.select_related("publisher", "entry__version").filter(slug=slug, entry__isnull=False).first()
    )
    if dataset is None:
        raise Http404
    return dataset


def public_versions(dataset: Dataset) -> list[DatasetVersion]:
    """Its published and superseded versions, newest first."""
    return list(DatasetVersion.objects.filter(dataset=dataset, state__in=PUBLIC_HISTORY_STATES).order_by("-number"))


def target_get(slug: str, token: str) -> Target:
    """The dataset and version of `/<slug>/<number|latest|live>/`; 404 when it names nothing served."""
    dataset = dataset_get(slug)
    latest = dataset.entry.version
    token = (token or "").strip().lower()
    if token == LIVE:
        if not live_tables(dataset):
            raise Http404
        return Target(dataset, None, LIVE, latest.number)
    if token == LATEST:
        return Target(dataset, latest, LATEST, latest.number)
    if not token.isdigit() or int(token) > MAX_NUMBER:
        raise Http404
    version = DatasetVersion.objects.filter(dataset=dataset, number=int(token), state__in=PUBLIC_HISTORY_STATES).first()
    if version is None:
        raise Http404
    return Target(dataset, version, token, latest.number)


def version_for_body(dataset: Dataset, value) -> Target:
    """The version the SQL endpoint's body names ("latest", "live" or a number)."""
    return target_get(dataset.slug, str(value if value not in (None, "") else LATEST))


def _store_table_info(table, variants) -> TableInfo:
    return TableInfo(
        name=table.name,
        title=table.title,
        columns=list(table.columns or []),
        row_count=table.row_count,
        geometry=table.geometry,
        order_key=table.order_key or "",
        variants=variants,
        source_table=table,
    )


def version_tables(version: DatasetVersion, by_variant: dict | None = None) -> list[TableInfo]:
    """The tables of a version in the query store: those of the full store (ready), and which of them the sample
    store also has; a version whose full store is not ready lists the sample's. One query (or none: `by_variant`,
    the version's tables_by_variant already read)."""
    if by_variant is None:
        by_variant = store_selectors.tables_by_variant(version)
    full = by_variant.get("full", [])
    sample = by_variant.get("sample", [])
    sample_names = {t.name for t in sample}
    if full:
        return [_store_table_info(t, ["full", "sample"] if t.name in sample_names else ["full"]) for t in full]
    return [_store_table_info(t, ["sample"]) for t in sample]


def live_tables(dataset: Dataset) -> list:
    """The live tables of a dataset (catalog.live), none when the dataset is not live."""
    manager = getattr(dataset, "live_tables", None)  # catalog.live's related name (issue 16, live)
    if manager is None:
        return []
    return list(manager.all().order_by("name"))


def live_table_infos(dataset: Dataset) -> list[TableInfo]:
    return [
        TableInfo(
            name=t.name,
            title=t.title,
            columns=list(t.columns or []),
            row_count=t.row_count,
            geometry=None,
            variants=[LIVE],
            source_table=t,
        )
        for t in live_tables(dataset)
    ]


def tables_of(target: Target) -> list[TableInfo]:
    return live_table_infos(target.dataset) if target.live else version_tables(target.version, target.store_tables())


def table_get(target: Target, name: str) -> TableInfo:
    for table in tables_of(target):
        if table.name == name:
            return table
    raise Http404


def sources(target: Target, variant: str, *, since: int | None = None) -> list:
    """The engine sources (catalog.querystore.engine.Source) of every table of the version's store of `variant`,
    or of the dataset's live tables (with `since`: only what a since= page can return)."""
    if target.live:
        # catalog.live is another app package of issue 16; imported here so a dataset API without it still loads
        from catalog.live.selectors import live_source

        return [live_source(t, since=since) for t in live_tables(target.dataset)]
    return store_selectors.sources_for_tables(target.store_tables().get(variant, []))


def store_status(version: DatasetVersion, stores=None):
    return store_selectors.store_status(version, stores)


def versions_overview(versions: list[DatasetVersion]) -> dict[int, tuple[dict, list[TableInfo]]]:
    """For the dataset's table list: each version's store status and tables, in two queries for all versions."""
    stores = store_selectors.stores_by_versions(versions)
    tables = store_selectors.tables_by_versions(versions)
    return {
        v.pk: (store_selectors.store_status(v, stores.get(v.pk, [])), version_tables(v, tables.get(v.pk, {})))
        for v in versions
    }


def stored_row_count(target: Target, name: str, variant: str) -> int | None:
    """The row count the store recorded for the table in `variant` (None for live tables: they grow)."""
    if target.live:
        return None
    for table in target.store_tables().get(variant, []):
        if table.name == name:
            return table.row_count
    return None
