"""Writes of the query stores: building a published version's stores under a lease, and the housekeeping.

`query_stores_build(version_id)` (the task of a publication, catalog.tasks.query_stores_build_task) builds the
"full" and the "sample" store of the version, each under its own lease: a compare-and-set under the row lock
(`lease`, `leased_until`), renewed while the tables load. Whoever finds a fresh lease leaves the build to its
holder; an expired lease (its worker was killed) is taken over, by a redelivered task or by the housekeeping beat
(`query_stores_housekeeping`). Only the lease holder records the result; an attempt that lost its lease deletes
its own file. The DuckDB file is written locally and then streamed into private storage; no database transaction
is held across the load or the upload. A failure is visible: state "failed" with the reason in Korean and
English (`error`), after the retries of a transient one.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.ingest.errors import IngestError, in_every_language
from catalog.models import DataFile, DatasetVersion
from catalog.querystore.models import QueryStore, QueryTable
from core.storage import copy_to_file, local_path
from core.text import lazy_percent
from core.transitions import transition

logger = logging.getLogger(__name__)

S = QueryStore.State
SERVED_VERSION_STATES = (DatasetVersion.State.PUBLISHED, DatasetVersion.State.SUPERSEDED)
TABLE_CHECK_STATES = (DataFile.Check.PASSED, DataFile.Check.WARNING)
VARIANTS = (QueryStore.Variant.FULL, QueryStore.Variant.SAMPLE)


class LeaseLost(Exception):
    """Another worker took the build over (this one was too slow to renew): stop and leave it to that one."""


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.QUERYSTORE_LEASE_SECONDS)


# ------------------------------------------------------------------------------------------------ the lease
def query_store_claim(*, version_id: int, variant: str) -> tuple[QueryStore, uuid.UUID | None]:
    """The store's row (created if need be) and a new lease when this caller is to build it; None as the lease
    when it is ready, failed for good, or another caller holds a fresh lease."""
    QueryStore.objects.get_or_create(version_id=version_id, variant=variant)
    with transaction.atomic():
        store = (
            QueryStore.objects.select_for_update(of=("self",))
            .select_related("version__dataset")
            .get(version_id=version_id, variant=variant)
        )
        now = timezone.now()
        if store.state == S.READY:
            return store, None
        if store.state == S.BUILDING and store.leased_until and store.leased_until > now:
            return store, None
        if store.state == S.FAILED:
            return store, None
        if store.attempts >= settings.QUERYSTORE_MAX_ATTEMPTS:
            # Its builders kept dying (killed, out of memory): said so, not tried for ever.
            store.error = in_every_language(
                lazy_percent(
                    _("Loading into the query store stopped after %(n)s attempts; the platform team has been told."),
                    {"n": store.attempts},
                )
            )
            store.lease = None
            store.leased_until = None
            if store.state == S.PENDING:
                transition(store, to=S.BUILDING, actor=None, fields=())
            transition(store, to=S.FAILED, actor=None, fields=("error", "lease", "leased_until"))
            return store, None
        store.lease = uuid.uuid4()
        store.leased_until = now + _lease_length()
        store.attempts += 1
        store.error = None
        fields = ("lease", "leased_until", "attempts", "error")
        if store.state == S.BUILDING:  # a stale lease taken over
            store.save(update_fields=[*fields, "updated_at"])
        else:
            transition(store, to=S.BUILDING, actor=None, fields=fields)
        return store, store.lease


def query_store_renew(*, pk: int, lease) -> bool:
    """The builder holding `lease` is alive; False when it lost the lease (it must stop)."""
    return (
        QueryStore.objects.filter(pk=pk, lease=lease, state=S.BUILDING).update(
            leased_until=timezone.now() + _lease_length()
        )
        == 1
    )


def query_store_release(*, pk: int, lease) -> None:
    """A transient failure of the build holding `lease`: back to pending, the retry builds it again."""
    with transaction.atomic():
        store = QueryStore.objects.select_for_update(of=("self",)).select_related("version__dataset").get(pk=pk)
        if store.lease != lease or store.state != S.BUILDING:
            return
        store.lease = None
        store.leased_until = None
        transition(store, to=S.PENDING, actor=None, fields=("lease", "leased_until"))


def query_store_failed(*, pk: int, lease, message) -> QueryStore | None:
    """The build holding `lease` cannot succeed: failed, with the reason in Korean and English."""
    with transaction.atomic():
        store = QueryStore.objects.select_for_update(of=("self",)).select_related("version__dataset").get(pk=pk)
        if store.lease != lease or store.state != S.BUILDING:
            return None
        store.lease = None
        store.leased_until = None
        store.error = in_every_language(message)
        transition(store, to=S.FAILED, actor=None, fields=("lease", "leased_until", "error"))
        return store


def query_store_built(*, pk: int, lease, name: str, size: int, sha256: str, tables: list) -> QueryStore | None:
    """Record the finished store and its tables if `lease` still holds it (None otherwise: the caller deletes
    `name`)."""
    with transaction.atomic():
        store = QueryStore.objects.select_for_update(of=("self",)).select_related("version__dataset").get(pk=pk)
        if store.lease != lease or store.state != S.BUILDING:
            return None
        old = store.file.name
        store.tables.all().delete()
        QueryTable.objects.bulk_create(
            [
                QueryTable(
                    store=store,
                    datafile_id=t.datafile_id,
                    name=t.name,
                    title=t.title[:300],
                    columns=t.columns,
                    row_count=t.row_count,
                    geometry=t.geometry,
                    order_key=t.order_key,
                    position=t.position,
                )
                for t in tables
            ]
        )
        store.file.name = name
        store.size = size
        store.sha256 = sha256
        store.built_at = timezone.now()
        store.lease = None
        store.leased_until = None
        store.error = None
        transition(
            store,
            to=S.READY,
            actor=None,
            fields=("file", "size", "sha256", "built_at", "lease", "leased_until", "error"),
            data={"tables": len(tables), "size": size},
        )
    if old and old != name:
        transaction.on_commit(lambda: default_storage.delete(old))
    return store


# ------------------------------------------------------------------------------------------------ the inputs
def _local_path(datafile: DataFile, workdir: Path) -> Path:
    """The stored file itself on local storage; a copy streamed into `workdir` otherwise."""
    path = local_path(datafile.file.storage, datafile.file.name)
    if path is not None:
        return path
    target = workdir / f"src-{datafile.pk}{Path(datafile.original_name).suffix.lower()}"
    if not target.exists():
        copy_to_file(datafile.file.storage, datafile.file.name, target)
    return target


def _inputs(version_id: int, variant: str, workdir: Path):
    """[(TableInput | None, workbook key)] of the version's tables, in page order; sheets of one workbook share
    its key (loaded in one pass over it)."""
    from catalog.querystore.build import TableInput  # heavy: build loads DuckDB; web processes import services

    files = list(
        DataFile.objects.filter(version_id=version_id, check_state__in=TABLE_CHECK_STATES)
        .exclude(format=DataFile.Format.ZIP)
        .select_related("parent")
        .order_by("created_at", "id")
    )
    out = []
    for f in files:
        fields = (f.table_schema or {}).get("fields") or []
        if not fields or f.has_sheet_tables:
            continue
        source = f.parent if f.is_sheet else f
        path = None
        if variant == QueryStore.Variant.FULL or f.format == DataFile.Format.GEOJSON:
            path = _local_path(source, workdir)
        base = f"{Path(source.original_name).stem}_{f.original_name}" if f.is_sheet else f.original_name
        item = TableInput(
            datafile_id=f.pk,
            title=f.display_name,
            base_name=base,
            format=DataFile.Format.XLSX if f.is_sheet else f.format,
            path=path,
            encoding=f.encoding or "utf-8",
            delimiter=f.delimiter or ("\t" if f.format == DataFile.Format.TSV else ","),
            fields=fields,
            profile=f.profile or [],
            masked={p.get("column") for p in (f.pii_findings or []) if p.get("column")},
            dictionary=f.dictionary or {},
            sheet_index=(f.sheet or {}).get("index", 0) if (f.is_sheet or f.format == DataFile.Format.XLSX) else None,
            preview_rows=list((f.preview or {}).get("rows") or []) if variant == QueryStore.Variant.SAMPLE else [],
        )
        out.append((item, source.pk))
    return out


# ------------------------------------------------------------------------------------------------ the build
def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _storage_name(store: QueryStore, lease) -> str:
    return f"querystore/{store.version_id}/{store.variant}-{uuid.UUID(str(lease)).hex}.duckdb"


def _load(store: QueryStore, lease, workdir: Path) -> list:
    from catalog.querystore import build  # heavy: DuckDB and the converters; only the worker builds

    renewed = [time.monotonic()]

    def progress():
        now = time.monotonic()
        if now - renewed[0] >= settings.QUERYSTORE_LEASE_SECONDS / 4:
            renewed[0] = now
            if not query_store_renew(pk=store.pk, lease=lease):
                raise LeaseLost(store.pk)

    out = workdir / "store.duckdb"
    builder = build.StoreBuilder(
        out,
        workdir,
        memory_limit=settings.QUERYSTORE_BUILD_MEMORY_LIMIT,
        threads=settings.QUERYSTORE_BUILD_THREADS,
        progress=progress,
    )
    try:
        items = _inputs(store.version_id, store.variant, workdir)
        done_workbooks = set()
        for n, (item, key) in enumerate(items):
            progress()
            if store.variant == QueryStore.Variant.SAMPLE:
                build.load_sample(builder, item, n)
            elif item.format == "xlsx":
                if key in done_workbooks:
                    continue
                done_workbooks.add(key)
                sheets = [i for i, k in items if k == key]
                build.load_workbook(builder, item.path, sheets, n)
            else:
                build.load_full(builder, item, n)
        tables = builder.tables
    finally:
        builder.close()
    return tables


def query_store_build(*, version_id: int, variant: str, last_attempt: bool = True) -> str:
    """Build one store of a published version if nobody else is. Idempotent: a ready store is left as it is.
    A transient error (storage, database) is raised for the task to retry (the store back to pending) unless
    `last_attempt`; a file that cannot be loaded, or the last attempt, marks the store failed visibly."""
    version = DatasetVersion.objects.filter(pk=version_id).only("state").first()
    if version is None or version.state not in SERVED_VERSION_STATES:
        return "not published"
    store, lease = query_store_claim(version_id=version_id, variant=variant)
    if lease is None:
        return store.state
    settings.QUERYSTORE_WORK_DIR.mkdir(parents=True, exist_ok=True)
    _sweep_scratch(version_id, variant)
    workdir = Path(tempfile.mkdtemp(prefix=f"qs-{version_id}-{variant}-", dir=settings.QUERYSTORE_WORK_DIR))
    name = ""
    try:
        tables = _load(store, lease, workdir)
        path = workdir / "store.duckdb"
        size, digest = path.stat().st_size, _sha256(path)
        if not query_store_renew(pk=store.pk, lease=lease):
            raise LeaseLost(store.pk)
        with open(path, "rb") as fh:
            name = default_storage.save(_storage_name(store, lease), File(fh, name=path.name))
        done = query_store_built(pk=store.pk, lease=lease, name=name, size=size, sha256=digest, tables=tables)
        if done is None:
            default_storage.delete(name)
            return "lease lost"
        _sweep_stored(store, keep=name)
        return S.READY
    except LeaseLost:
        if name:
            default_storage.delete(name)
        return "lease lost"
    except Exception as exc:
        if name:
            default_storage.delete(name)
        permanent = _permanent_reason(exc)
        if permanent is not None or last_attempt:
            logger.exception("query store build failed", extra={"version_id": version_id, "variant": variant})
            query_store_failed(pk=store.pk, lease=lease, message=permanent or _transient_reason(exc))
            return S.FAILED
        query_store_release(pk=store.pk, lease=lease)
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _sweep_scratch(version_id: int, variant: str) -> None:
    """Scratch folders an earlier attempt at this store left on this node (its worker was killed: nothing ran its
    `finally`). Only the lease holder calls this, so no live builder of this store still uses them."""
    for old in settings.QUERYSTORE_WORK_DIR.glob(f"qs-{version_id}-{variant}-*"):
        shutil.rmtree(old, ignore_errors=True)


def _sweep_stored(store: QueryStore, *, keep: str) -> None:
    """Files of this store in storage other than the one it now names: what a killed attempt left half-written
    (each attempt writes under its own lease's name, so none of them is a file a reader uses)."""
    folder = f"querystore/{store.version_id}"
    try:
        _dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    for filename in files:
        name = f"{folder}/{filename}"
        if filename.startswith(f"{store.variant}-") and name != keep:
            default_storage.delete(name)


def _permanent_reason(exc: Exception):
    from catalog.querystore.build import BuildError  # heavy: see _load

    if isinstance(exc, BuildError):
        return lazy_percent(
            _("The table %(table)s could not be loaded into the query store: %(detail)s"),
            {"table": exc.title, "detail": exc.detail[:300]},
        )
    if isinstance(exc, IngestError):
        return lazy_percent(
            _("A file could not be read again for the query store: %(detail)s"), {"detail": exc.message}
        )
    return None


def _transient_reason(exc: Exception):
    return lazy_percent(
        _("Loading into the query store failed (%(detail)s); the platform team has been told."),
        {"detail": f"{type(exc).__name__}: {str(exc)[:200]}"},
    )


def query_stores_build(*, version_id: int, last_attempt: bool = True) -> dict[str, str]:
    """Both stores of a published version (the task of its publication). Idempotent."""
    return {
        variant: query_store_build(version_id=version_id, variant=variant, last_attempt=last_attempt)
        for variant in VARIANTS
    }


def query_stores_enqueue_on_commit(version_id: int) -> None:
    """Queue the build of a version's stores once the current transaction commits."""
    from catalog import tasks  # catalog.tasks imports the services: imported when used, not at load

    transaction.on_commit(lambda: tasks.query_stores_build_task.delay(version_id), robust=True)


def query_stores_housekeeping(*, limit: int = 20) -> int:
    """The beat: builds whose worker died (lease run out), stores queued but never started, and published
    versions without stores (published before the query store existed) are queued again. Returns how many
    versions were queued."""
    now = timezone.now()
    stale = set(
        QueryStore.objects.filter(state=S.BUILDING, leased_until__lt=now).values_list("version_id", flat=True)[:limit]
    )
    waited = now - timedelta(seconds=settings.QUERYSTORE_LEASE_SECONDS * 2)
    stale |= set(
        QueryStore.objects.filter(state=S.PENDING, updated_at__lt=waited).values_list("version_id", flat=True)[:limit]
    )
    missing = (
        DatasetVersion.objects.filter(state__in=SERVED_VERSION_STATES, published_at__lt=waited)
        .exclude(query_stores__variant=QueryStore.Variant.SAMPLE)
        .values_list("pk", flat=True)[:limit]
    )
    stale |= set(missing)
    for version_id in sorted(stale)[:limit]:
        query_stores_enqueue_on_commit(version_id)
    return len(stale)
