"""Every write of live tables: enable, pause, resume, append rows, compact, snapshot.

Appends lock the LiveTable row (select_for_update) and number the rows from its last_seq, so seq order is
commit order and a reader's `since=` cursor never skips a row; the batch is stored whole or not at all. After
commit the readers are woken (Redis `live:<table_id>`) and the webhooks queued (signal rows_appended)."""

import csv
import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can
from catalog.live import notify
from catalog.live.models import LiveBatch, LiveRow, LiveState, LiveTable
from catalog.live.schema import KST, columns_from_datafile, table_name, validate_rows
from catalog.live.signals import rows_appended
from catalog.models import DataFile, Dataset, DatasetVersion, Upload
from catalog.services import upload_append, upload_create, version_approve, version_start_new, version_submit
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.generation import bump_generation_on_commit
from core.storage import copy_atomically, local_path
from core.text import choice_label, lazy_percent
from core.transitions import transition

logger = logging.getLogger(__name__)
S = DatasetVersion.State
SNAPSHOT_CADENCES = ("daily", "weekly", "monthly")
TABULAR = (
    DataFile.Format.CSV,
    DataFile.Format.TSV,
    DataFile.Format.XLSX,
    DataFile.Format.JSON,
    DataFile.Format.GEOJSON,
)


class Conflict(DomainError):
    status = 409


def _require_publisher(actor, dataset: Dataset) -> None:
    if not can(actor, "accounts.publish_for_org", dataset.publisher):
        raise NotAllowed(_("Only publishers of the dataset's organization can do this."))


# --- enable, pause, resume ------------------------------------------------------------------------------------


@transaction.atomic
def live_table_enable(
    *, actor, dataset: Dataset, datafile: DataFile, cadence: str = "daily", title: str = ""
) -> LiveTable:
    """A provider makes one table of its published dataset live: its schema is fixed from that file's Table
    Schema (and data dictionary). Enabling the same file again returns the live table it already is."""
    _require_publisher(actor, dataset)
    dataset = Dataset.objects.select_for_update().get(pk=dataset.pk)
    published = dataset.versions.filter(state=S.PUBLISHED).first()
    if published is None:
        raise DomainError(_("Only a published dataset can be made live."), code="not_published")
    if datafile.version_id != published.pk or datafile.format not in TABULAR or not datafile.column_names:
        raise DomainError(_("Choose a table of the published version."), code="table_invalid")
    if cadence not in DatasetVersion.Cadence.values:
        raise DomainError(_("Choose how often a snapshot is published."), code="cadence_invalid")
    display = datafile.display_name if datafile.is_sheet else datafile.original_name
    name = table_name(display)  # one live table per file name: enabling it again returns that table
    existing = dataset.live_tables.filter(name=name).first()
    if existing is not None:
        return existing
    table = LiveTable.objects.create(
        dataset=dataset,
        name=name,
        title=(title or display)[:200],
        columns=columns_from_datafile(datafile),
        source=datafile,
        cadence=cadence,
        enabled_by=actor,
    )
    audit(
        actor=actor,
        action="live.enabled",
        obj=table,
        organization_id=dataset.publisher_id,
        data={"dataset": dataset.slug, "table": name, "file": datafile.original_name, "cadence": cadence},
    )
    bump_generation_on_commit()  # the dataset page gains its live section (the anonymous page cache among them)
    return table


def _set_state(*, actor, table: LiveTable, to: str) -> LiveTable:
    _require_publisher(actor, table.dataset)
    with transaction.atomic():
        table = LiveTable.objects.select_for_update(of=("self",)).select_related("dataset").get(pk=table.pk)
        if table.state != to:
            transition(table, to=to, actor=actor, data={"table": table.name})
            bump_generation_on_commit()  # the dataset page's "Paused"/"Live" badge
    return table


def live_table_pause(*, actor, table: LiveTable) -> LiveTable:
    """Stop accepting rows (pushes are refused with 409 until resumed); what was stored stays readable."""
    return _set_state(actor=actor, table=table, to=LiveState.PAUSED)


def live_table_resume(*, actor, table: LiveTable) -> LiveTable:
    return _set_state(actor=actor, table=table, to=LiveState.ACTIVE)


def live_table_set_cadence(*, actor, table: LiveTable, cadence: str) -> LiveTable:
    _require_publisher(actor, table.dataset)
    if cadence not in DatasetVersion.Cadence.values:
        raise DomainError(_("Choose how often a snapshot is published."), code="cadence_invalid")
    with transaction.atomic():
        table = LiveTable.objects.select_for_update().get(pk=table.pk)
        old, table.cadence = table.cadence, cadence
        table.save(update_fields=["cadence", "updated_at"])
        audit(
            actor=actor,
            action="live.cadence",
            obj=table,
            organization_id=table.dataset.publisher_id,
            data={"from": old, "to": cadence},
        )
        bump_generation_on_commit()  # the dataset page names the snapshots' cadence
    return table


# --- append ---------------------------------------------------------------------------------------------------


def body_sha256(rows) -> str:
    """The fingerprint of a batch: its rows as canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def live_rows_append(*, actor, table: LiveTable, rows, idempotency_key: str) -> tuple[LiveBatch, bool]:
    """Append a batch of rows. Returns (batch, created): a retry with the same key and the same rows returns the
    batch stored the first time (created False); the same key with other rows is a Conflict (409). A row that
    does not fit the schema refuses the whole batch (RowInvalid names the 1-based row, the column and why)."""
    key = (idempotency_key or "").strip()
    if not key or len(key) > 200:
        raise DomainError(
            _("Send an Idempotency-Key header (1–200 characters) so a retried batch is stored once."),
            code="idempotency_key_missing",
        )
    _require_publisher(actor, table.dataset)
    if isinstance(rows, list) and len(rows) > settings.LIVE_BATCH_MAX_ROWS:
        raise DomainError(
            lazy_percent(
                _("A batch holds at most %(limit)s rows (this one has %(count)s): send it in parts."),
                {"limit": settings.LIVE_BATCH_MAX_ROWS, "count": len(rows)},
            ),
            code="batch_too_large",
        )
    clean = validate_rows(table.columns, rows)  # before any lock: a bad batch costs no one a wait
    sha = body_sha256(rows)  # after the check: a text UTF-8 cannot encode was refused with its row
    with transaction.atomic():
        locked = LiveTable.objects.select_for_update().get(pk=table.pk)
        existing = LiveBatch.objects.filter(table=locked, idempotency_key=key).first()
        if existing is not None:
            if existing.sha256 != sha:
                raise Conflict(
                    _("This Idempotency-Key was used for other rows: use a new key for a new batch."),
                    code="idempotency_key_reused",
                )
            return existing, False
        if locked.state != LiveState.ACTIVE:
            raise Conflict(
                lazy_percent(
                    _("The live table is “%(state)s”: resume it to push rows."),
                    {"state": choice_label(locked, "state")},
                ),
                code="live_paused",
            )
        first = locked.last_seq + 1
        last = locked.last_seq + len(clean)
        now = timezone.now()
        batch = LiveBatch.objects.create(
            table=locked,
            idempotency_key=key,
            first_seq=first,
            last_seq=last,
            rows=len(clean),
            sha256=sha,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        LiveRow.objects.bulk_create(
            [
                LiveRow(table=locked, seq=first + i, batch=batch, data=row, received_at=now)
                for i, row in enumerate(clean)
            ],
            batch_size=1000,
        )
        LiveTable.objects.filter(pk=locked.pk).update(
            last_seq=last, row_count=F("row_count") + len(clean), last_row_at=now
        )
        table_id = locked.pk
        transaction.on_commit(lambda: notify.publish(table_id, last))
        transaction.on_commit(
            lambda: rows_appended.send(sender=LiveTable, table_id=table_id, first_seq=first, last_seq=last),
            robust=True,
        )
    return batch, True


# --- compaction -----------------------------------------------------------------------------------------------


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return value


def write_rows_csv(path: Path, columns: list[dict], rows) -> int:
    """rows: iterable of (seq, data). A UTF-8 CSV with the columns and `_row` (= seq); nulls (and empty texts) as
    empty cells, as the query engine reads a tail CSV. Personal-data columns (`masked`) are written masked, as the
    query store keeps them: no query of a live table shows them whole."""
    names = [c["name"] for c in columns]
    masked = [c["name"] for c in columns if c.get("masked")]
    if masked:
        # heavy (phonenumbers): only for tables with a personal-data column
        from catalog.ingest.pii import mask_value

        rows = ((seq, {**data, **{m: mask_value(data.get(m), m) for m in masked}}) for seq, data in rows)
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*names, "_row"])
        for seq, data in rows:
            writer.writerow([*(_csv_value(data.get(n)) for n in names), seq])
            count += 1
    return count


def duckdb_read_csv_sql(path: str, columns: list[dict]) -> str:
    """read_csv over a CSV written by write_rows_csv, every column typed as the table declares."""
    types = ", ".join(f"'{c['name'].replace(chr(39), chr(39) * 2)}': '{c['type']}'" for c in columns)
    lit = path.replace("'", "''")
    return (
        f"read_csv('{lit}', header=true, auto_detect=false, columns={{{types}, '_row': 'BIGINT'}}, "
        f"nullstr='', quote='\"', escape='\"', delim=',')"
    )


def _claim_compaction(table_id: int) -> tuple[LiveTable, uuid.UUID] | None:
    lease = uuid.uuid4()
    now = timezone.now()
    claimed = LiveTable.objects.filter(
        Q(compaction_lease__isnull=True) | Q(compaction_leased_until__lt=now), pk=table_id
    ).update(
        compaction_lease=lease, compaction_leased_until=now + dt.timedelta(seconds=settings.LIVE_COMPACT_LEASE_SECONDS)
    )
    if not claimed:
        return None
    return LiveTable.objects.get(pk=table_id), lease


def live_table_compact(*, table_id: int, min_rows: int | None = None) -> int:
    """Fold the rows not yet in the table's DuckDB file into a new file (the old one and the new rows), under a
    lease; the file is swapped in one short transaction. Returns how many rows were folded (0: nothing to do,
    or another worker holds the lease). No transaction is open while the file is built or stored."""
    # heavy: DuckDB is loaded by workers that compact, not by every web process importing the services
    import duckdb

    min_rows = settings.LIVE_COMPACT_MIN_ROWS if min_rows is None else min_rows
    table = LiveTable.objects.get(pk=table_id)
    if table.last_seq - table.compacted_seq < max(min_rows, 1):
        return 0
    claim = _claim_compaction(table_id)
    if claim is None:
        return 0
    table, lease = claim
    upto = table.last_seq
    work = Path(tempfile.mkdtemp(prefix=f"live-{table_id}-", dir=_work_dir()))
    try:
        tail = work / "tail.csv"
        rows = (
            LiveRow.objects.filter(table_id=table_id, seq__gt=table.compacted_seq, seq__lte=upto)
            .order_by("seq")
            .values_list("seq", "data")
            .iterator(chunk_size=5000)
        )
        folded = write_rows_csv(tail, table.columns, rows)
        db_path = work / "store.duckdb"
        con = duckdb.connect(str(db_path))
        try:
            if table.store:
                old = local_store_path(table.store.name)
                con.execute(f"ATTACH '{old}' AS old (READ_ONLY)")
                con.execute("CREATE TABLE rows AS SELECT * FROM old.rows")
                con.execute("DETACH old")
                con.execute(f"INSERT INTO rows SELECT * FROM {duckdb_read_csv_sql(str(tail), table.columns)}")
            else:
                con.execute(f"CREATE TABLE rows AS SELECT * FROM {duckdb_read_csv_sql(str(tail), table.columns)}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(db_path, "rb") as fh:
            name = default_storage.save(f"live/{table.dataset_id}/{table.name}-{upto}.duckdb", File(fh))
    finally:
        for path in work.glob("*"):
            path.unlink(missing_ok=True)
        work.rmdir()
    with transaction.atomic():
        locked = LiveTable.objects.select_for_update().get(pk=table_id)
        if locked.compaction_lease != lease:
            transaction.on_commit(lambda: default_storage.delete(name))
            return 0
        LiveTable.objects.filter(pk=table_id).update(
            store=name,
            compacted_seq=upto,
            compacted_at=timezone.now(),
            compaction_lease=None,
            compaction_leased_until=None,
        )
    # The file just replaced stays a while: a reader that took the table's source a moment ago opens it next.
    _delete_replaced_stores(table, keep=name)
    return folded


# A replaced DuckDB file of a live table is deleted by a later compaction once it is this old.
REPLACED_STORE_KEEP_SECONDS = 600


def _delete_replaced_stores(table: LiveTable, *, keep: str) -> None:
    folder = f"live/{table.dataset_id}"
    try:
        _dirs, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    cutoff = timezone.now() - dt.timedelta(seconds=REPLACED_STORE_KEEP_SECONDS)
    for file_name in files:
        path = f"{folder}/{file_name}"
        if path == keep or not (file_name.startswith(f"{table.name}-") and file_name.endswith(".duckdb")):
            continue
        try:
            if default_storage.get_modified_time(path) < cutoff:
                default_storage.delete(path)
        except (FileNotFoundError, OSError):
            continue  # deleted by another worker meanwhile


def _work_dir() -> Path:
    path = Path(settings.LIVE_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def local_store_path(name: str) -> str:
    """A local path of a stored DuckDB file: the storage's own path, or a node-local copy (made once)."""
    path = local_path(default_storage, name)
    if path is not None:
        return str(path)
    target = _work_dir() / "stores" / name.replace("/", "_")
    if not target.exists():
        copy_atomically(default_storage, name, target)
    return str(target)


# --- snapshots ------------------------------------------------------------------------------------------------


def snapshot_period(cadence: str, now: dt.datetime) -> tuple[dt.date, dt.date] | None:
    """The last complete period before `now` in Korean time: [start, end) dates, or None for other cadences."""
    today = now.astimezone(KST).date()
    if cadence == "daily":
        return today - dt.timedelta(days=1), today
    if cadence == "weekly":
        monday = today - dt.timedelta(days=today.weekday())
        return monday - dt.timedelta(days=7), monday
    if cadence == "monthly":
        first = today.replace(day=1)
        return (first - dt.timedelta(days=1)).replace(day=1), first
    return None


def snapshot_file_name(table: LiveTable, start: dt.date) -> str:
    return f"live-{table.name}-{start.isoformat()}.csv"


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    return (
        dt.datetime.combine(start, dt.time(), tzinfo=KST),
        dt.datetime.combine(end, dt.time(), tzinfo=KST),
    )


def live_snapshot_step(*, table_id: int, now: dt.datetime | None = None) -> str:
    """One step of the table's snapshot for the last complete period, or the first one after the last snapshotted
    that the beat missed (beat, every few minutes; idempotent):
    start a new version carrying the published files with the period's rows as a new CSV (uploaded through the
    normal upload, so the normal checks run), and once its checks passed submit and publish it automatically
    (the publication's audit row says so). Returns what it did."""
    now = now or timezone.now()
    table = LiveTable.objects.select_related("dataset__publisher", "enabled_by").get(pk=table_id)
    period = snapshot_period(table.cadence, now)
    if period is None:
        return "no cadence"
    start, end = period
    if table.snapshot_version_id is None:
        if table.snapshot_period is not None and table.snapshot_period >= start:
            return "done"
        if table.snapshot_period is not None:
            # Periods are snapshotted in turn: one the beat missed (a worker down, the provider's own draft open
            # that day) comes before the latest, or its rows would be in no dated version.
            following = _period_end(table, table.snapshot_period)
            if following < start:
                start, end = following, _period_end(table, following)
        return _snapshot_start(table, start, end)
    version = DatasetVersion.objects.get(pk=table.snapshot_version_id)
    if version.state == S.PUBLISHED or version.state in (S.SUPERSEDED, S.WITHDRAWN, S.REJECTED):
        return _snapshot_finish(table, version)
    if (
        version.state in (S.DRAFT, S.CHECKING, S.READY)
        and not version.files.filter(original_name=snapshot_file_name(table, table.snapshot_period)).exists()
    ):
        _snapshot_upload(table, version, table.snapshot_period, _period_end(table, table.snapshot_period))
        version.refresh_from_db()
    if version.state == S.READY:
        if not _snapshot_untouched(table, version):
            # The provider took the snapshot's draft as "their new version" (one open version per dataset) and
            # changed it: their changes go through the normal review, not the automatic publication.
            return "waiting (the provider changed the version: it is published after review)"
        if version.files.needing_justification().exists() and not version.pii_justification.strip():
            # Personal data was found in the rows and nobody explained why it may be published: no automatic
            # publication; the provider finds the snapshot version as a draft and decides.
            return "waiting (personal data: the provider decides)"
        return _snapshot_publish(table, version)
    return f"waiting ({version.state})"


def _snapshot_untouched(table: LiveTable, version: DatasetVersion) -> bool:
    """The snapshot version holds exactly what the snapshot made: the published version's description and files
    (carried unchanged), its previous snapshot file of this table replaced by the period's one, nothing else."""
    published = table.dataset.versions.filter(state=S.PUBLISHED).first()
    if published is None:
        return False
    if any(getattr(version, f) != getattr(published, f) for f in DatasetVersion.METADATA_FIELDS):
        return False
    mine = snapshot_file_name(table, table.snapshot_period)
    carried = {  # each file by the published file it continues (None: a new one), with its content
        f.predecessor_id: f.sha256 for f in version.files.all() if not (f.parent_id is None and f.original_name == mine)
    }
    expected = {
        f.pk: f.sha256
        for f in published.files.all()
        if not (f.parent_id is None and f.original_name.startswith(f"live-{table.name}-"))
    }
    return carried == expected and len(carried) == version.files.count() - 1


def _period_end(table: LiveTable, start: dt.date) -> dt.date:
    if table.cadence == "weekly":
        return start + dt.timedelta(days=7)
    if table.cadence == "monthly":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def _snapshot_start(table: LiveTable, start: dt.date, end: dt.date) -> str:
    low, high = _bounds(start, end)
    if not LiveRow.objects.filter(table=table, received_at__gte=low, received_at__lt=high).exists():
        LiveTable.objects.filter(pk=table.pk).update(snapshot_period=start)
        return "no rows"
    with transaction.atomic():
        locked = LiveTable.objects.select_for_update().get(pk=table.pk)
        if locked.snapshot_version_id is not None:
            return "already started"
        version = version_start_new(
            actor=table.enabled_by,
            dataset=table.dataset,
            change_note=f"실시간 테이블 {table.title}의 {start.isoformat()} 스냅숏 (자동)",
        )
        if not version.started_now:
            # The provider is working on a version: the snapshot waits (one open version per dataset).
            transaction.set_rollback(True)
            return "provider version open"
        LiveTable.objects.filter(pk=table.pk).update(snapshot_version=version, snapshot_period=start)
    _snapshot_upload(table, version, start, end)
    return "started"


def _snapshot_upload(table: LiveTable, version: DatasetVersion, start: dt.date, end: dt.date) -> None:
    low, high = _bounds(start, end)
    rows = (
        LiveRow.objects.filter(table=table, received_at__gte=low, received_at__lt=high)
        .order_by("seq")
        .values_list("seq", "data")
        .iterator(chunk_size=5000)
    )
    names = table.column_names
    fd, tmp = tempfile.mkstemp(prefix="snapshot-", suffix=".csv", dir=_work_dir())
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(names)
            for _seq, data in rows:
                writer.writerow(["" if data.get(n) is None else _csv_value(data.get(n)) for n in names])
        # The previous snapshot of this table, carried into the new version, is replaced by this one.
        previous = (
            version.files.filter(original_name__startswith=f"live-{table.name}-", parent__isnull=True)
            .order_by("-id")
            .first()
        )
        open_upload = Upload.objects.filter(
            version=version, filename=snapshot_file_name(table, start), state=Upload.State.UPLOADING
        ).first()
        upload = open_upload or upload_create(
            actor=table.enabled_by,
            version=version,
            filename=snapshot_file_name(table, start),
            length=os.path.getsize(tmp),
            replaces=previous,
        )
        with open(tmp, "rb") as fh:
            fh.seek(upload.offset)
            upload_append(actor=table.enabled_by, upload=upload, offset=upload.offset, stream=fh)
    finally:
        os.unlink(tmp)


def _snapshot_publish(table: LiveTable, version: DatasetVersion) -> str:
    version = version_submit(actor=table.enabled_by, version=version, pii_justification=version.pii_justification)
    version_approve(
        actor=table.enabled_by,
        version=version,
        reason=f"실시간 테이블 {table.title}의 정기 스냅숏: 자동 게시 (automatic snapshot of a live table)",
        automatic={"live_table": table.name, "period": table.snapshot_period.isoformat()},
    )
    version.refresh_from_db()
    return _snapshot_finish(table, version)


def _snapshot_finish(table: LiveTable, version: DatasetVersion) -> str:
    LiveTable.objects.filter(pk=table.pk, snapshot_version=version).update(
        snapshot_version=None, last_snapshot_at=version.published_at or timezone.now()
    )
    return "published" if version.published_at else f"ended ({version.state})"
