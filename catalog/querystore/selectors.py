"""Reads of the query stores: a version's tables, the engine's sources (local paths), the state for the page."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from catalog.models import DatasetVersion
from catalog.querystore.engine import Column, Source, ensure_local
from catalog.querystore.models import QueryStore, QueryTable

SERVED_VERSION_STATES = (DatasetVersion.State.PUBLISHED, DatasetVersion.State.SUPERSEDED)


def _served(version: DatasetVersion) -> bool:
    """A withdrawn (or unpublished) version's stores are not served; a superseded one's are (its buyers')."""
    return version.state in SERVED_VERSION_STATES


def tables_for_version(version: DatasetVersion, variant: str = QueryStore.Variant.FULL) -> list[QueryTable]:
    """The tables of the version's ready store of `variant`, in page order ([] while loading or not served)."""
    if not _served(version):
        return []
    return list(
        QueryTable.objects.filter(
            store__version=version, store__variant=variant, store__state=QueryStore.State.READY
        ).select_related("store")
    )


def tables_by_variant(version: DatasetVersion) -> dict[str, list[QueryTable]]:
    """The tables of the version's ready stores, per variant ("full", "sample"), in one query ({} when the version
    is not served)."""
    if not _served(version):
        return {}
    out: dict[str, list[QueryTable]] = {}
    tables = QueryTable.objects.filter(store__version=version, store__state=QueryStore.State.READY).select_related(
        "store"
    )
    for table in tables.order_by("store__variant", "position", "id"):
        out.setdefault(table.store.variant, []).append(table)
    return out


def sources_for_tables(tables: list[QueryTable]) -> list[Source]:
    """The engine's sources of tables of one store (local paths; fills the node cache when needed)."""
    if not tables:
        return []
    path = store_local_path(tables[0].store)
    return [source_for_table(t, path) for t in tables]


def source_for_table(table: QueryTable, path: str) -> Source:
    return Source(
        name=table.name,
        store_path=path,
        store_table=table.name,
        columns=tuple(Column(c["name"], c["type"], bool(c.get("masked"))) for c in table.columns),
        geometry=table.geometry,
        order_key=table.order_key,
    )


def store_local_path(store: QueryStore) -> str:
    """A local path of the store's DuckDB file: the stored file on a file-system storage, else the node's cached
    copy (streamed down once, checked by SHA-256)."""
    return ensure_local(default_storage, store.file.name, store.sha256, str(settings.QUERYSTORE_CACHE_DIR))


def sources_for_version(version: DatasetVersion, variant: str = QueryStore.Variant.FULL) -> list[Source]:
    """The engine's sources of the version's tables (local paths; fills the node cache when needed)."""
    tables = tables_for_version(version, variant)
    if not tables:
        return []
    path = store_local_path(tables[0].store)
    return [source_for_table(t, path) for t in tables]


STATUS_MESSAGES = {
    QueryStore.State.PENDING: _("Loading the data into the query store…"),
    QueryStore.State.BUILDING: _("Loading the data into the query store…"),
    QueryStore.State.READY: _("Ready to query."),
    QueryStore.State.FAILED: _("The data could not be loaded into the query store."),
}


def tables_by_versions(versions) -> dict[int, dict[str, list[QueryTable]]]:
    """tables_by_variant of several versions in one query: {version id: {variant: [tables]}}."""
    served = [v.pk for v in versions if _served(v)]
    out: dict[int, dict[str, list[QueryTable]]] = {pk: {} for pk in served}
    tables = QueryTable.objects.filter(store__version_id__in=served, store__state=QueryStore.State.READY)
    for table in tables.select_related("store").order_by("store__variant", "position", "id"):
        out[table.store.version_id].setdefault(table.store.variant, []).append(table)
    return out


def stores_by_versions(versions) -> dict[int, list[QueryStore]]:
    """The stores of several versions in one query, each with its table count (`n_tables`), for store_status."""
    served = [v.pk for v in versions if _served(v)]
    out: dict[int, list[QueryStore]] = {pk: [] for pk in served}
    for store in QueryStore.objects.filter(version_id__in=served).annotate(n_tables=Count("tables")):
        out[store.version_id].append(store)
    return out


def store_status(version: DatasetVersion, stores: list[QueryStore] | None = None) -> dict:
    """For the dataset page: {"state": pending|building|ready|failed|none, "message" (lazy), "error": {"ko", "en"}
    | None, "variants": {variant: state}, "tables": n (of the full store when ready)}. "none": no store (not
    published, or published before the query store existed and not yet loaded)."""
    if stores is None:
        stores = list(QueryStore.objects.filter(version=version)) if _served(version) else []
    stores = {s.variant: s for s in stores} if _served(version) else {}
    if not stores:
        return {"state": "none", "message": "", "error": None, "variants": {}, "tables": 0}
    states = {variant: store.state for variant, store in stores.items()}
    order = (QueryStore.State.FAILED, QueryStore.State.BUILDING, QueryStore.State.PENDING, QueryStore.State.READY)
    state = next(s for s in order if s in states.values())
    failed = next((s for s in stores.values() if s.state == QueryStore.State.FAILED), None)
    full = stores.get(QueryStore.Variant.FULL)
    return {
        "state": state,
        "message": STATUS_MESSAGES[state],
        "error": failed.error if failed else None,
        "variants": states,
        "tables": (full.n_tables if hasattr(full, "n_tables") else full.tables.count())
        if full and full.state == QueryStore.State.READY
        else 0,
    }
