"""The copies every package of a version carries next to its originals (catalog.derived): made once per
data file, under a lease, by the publication's task or the first package that needs them, and reused.

The lease is a compare-and-set under the row lock (`lease`, `leased_until`), renewed while bytes move;
whoever finds a fresh lease waits for that build instead of making a second one; an expired lease (its
worker was killed) is taken over. Only the holder of the lease can record the result, so an attempt that
outlived its lease deletes its own file instead. Never a database transaction across the bytes.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from catalog import derived
from catalog.models import DataFile, DerivedFile

logger = logging.getLogger(__name__)

# How often a waiting caller looks again at a copy another worker is building.
WAIT_POLL_SECONDS = 0.5


def _lease_length() -> timedelta:
    return timedelta(seconds=settings.DERIVED_FILE_LEASE_SECONDS)


def derived_file_claim(*, datafile_id: int, kind: str) -> tuple[DerivedFile, uuid.UUID | None]:
    """The copy's row (created if need be) and a new lease when this caller is to build it; None as the
    lease when it is ready or another caller holds a fresh lease."""
    with transaction.atomic():
        if not DerivedFile.objects.filter(datafile_id=datafile_id, kind=kind).exists():
            DerivedFile.objects.get_or_create(
                datafile_id=datafile_id, kind=kind, defaults=_carried_copy(datafile_id, kind)
            )
        row = DerivedFile.objects.select_for_update().get(datafile_id=datafile_id, kind=kind)
        now = timezone.now()
        if row.built_at is not None or (row.lease and row.leased_until and row.leased_until > now):
            return row, None
        row.lease = uuid.uuid4()
        row.leased_until = now + _lease_length()
        row.save(update_fields=["lease", "leased_until"])
        return row, row.lease


# What a build records of its copy (derived.CopyResult), and what a carried file's copy takes over.
_RESULT_FIELDS = ("size", "sha256", "crc32", "compressed_size", "compressed_sha256", "formula_cells")
_COPY_FIELDS = (*_RESULT_FIELDS, "same_as_original", "built_at")


def _carried_copy(datafile_id: int, kind: str) -> dict:
    """A file carried unchanged into a new version (the same stored bytes as the file it continues) reuses that
    file's ready copy: the same stored stream, not a second one. {} when there is none to reuse."""
    row = DataFile.objects.filter(pk=datafile_id).values("file", "predecessor_id", "predecessor__file").first()
    if not row or not row["predecessor_id"] or not row["file"] or row["file"] != row["predecessor__file"]:
        return {}
    old = DerivedFile.objects.filter(datafile_id=row["predecessor_id"], kind=kind, built_at__isnull=False).first()
    if old is None:
        return {}
    return {"file": old.file.name, **{field: getattr(old, field) for field in _COPY_FIELDS}}


def _delete_unless_named_on_commit(name: str) -> None:
    """Delete a copy's stored stream after commit unless another copy still names it (a carried file's copy
    shares its predecessor's)."""

    def delete():
        if not DerivedFile.objects.filter(file=name).exists():
            default_storage.delete(name)

    transaction.on_commit(delete)


def derived_file_renew(*, pk: int, lease) -> bool:
    """The builder holding `lease` is alive; False when it lost the lease (it must stop)."""
    return (
        DerivedFile.objects.filter(pk=pk, lease=lease, built_at__isnull=True).update(
            leased_until=timezone.now() + _lease_length()
        )
        == 1
    )


def derived_file_release(*, pk: int, lease) -> None:
    """The build holding `lease` failed: the next caller builds it again at once."""
    DerivedFile.objects.filter(pk=pk, lease=lease).update(lease=None, leased_until=None)


def derived_file_built(*, pk: int, lease, result: derived.CopyResult, name: str) -> DerivedFile | None:
    """Record the finished copy if `lease` still holds it (None otherwise: the caller deletes `name`)."""
    with transaction.atomic():
        row = DerivedFile.objects.select_for_update().get(pk=pk)
        if row.lease != lease or row.built_at is not None:
            return None
        old = row.file.name
        row.file.name = name
        for field in _RESULT_FIELDS:
            setattr(row, field, getattr(result, field))
        row.same_as_original = result.same_as_original
        row.built_at = timezone.now()
        row.lease = None
        row.leased_until = None
        row.save()
    if old and old != name:
        _delete_unless_named_on_commit(old)
    return row


def derived_file_discard(*, pk: int) -> None:
    """A ready copy whose stored stream is missing or damaged: forgotten (and its file deleted), so the
    next caller builds it again."""
    with transaction.atomic():
        row = DerivedFile.objects.select_for_update().filter(pk=pk).first()
        if row is None:
            return
        name = row.file.name
        row.file.name = ""
        row.built_at = None
        row.lease = None
        row.leased_until = None
        row.save(update_fields=["file", "built_at", "lease", "leased_until"])
    if name:
        _delete_unless_named_on_commit(name)


def _storage_name(datafile: DataFile, kind: str, lease) -> str:
    return f"derived/{datafile.version_id}/{datafile.pk}/{kind}-{lease.hex}.deflate"


def _build(datafile: DataFile, row: DerivedFile, lease, check: Callable[[int], None] | None) -> DerivedFile | None:
    """Build the copy under `lease` into storage and record it; None when the lease was lost meanwhile."""
    storage = default_storage
    name = _storage_name(datafile, row.kind, lease)
    renewed = [time.monotonic()]
    lost = []

    def progress(n: int) -> None:
        if check:
            check(n)
        now = time.monotonic()
        if now - renewed[0] >= settings.DERIVED_FILE_LEASE_SECONDS / 4:
            renewed[0] = now
            if not derived_file_renew(pk=row.pk, lease=lease):
                lost.append(True)
                raise derived.CopyError("lease lost", detail=name)

    try:
        try:
            path = Path(storage.path(name))
        except NotImplementedError:
            path = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                result = derived.write_copy(datafile, row.kind, out, progress=progress)
                out.flush()
        else:
            settings.INGEST_WORK_DIR.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=settings.INGEST_WORK_DIR) as out:
                result = derived.write_copy(datafile, row.kind, out, progress=progress)
                out.seek(0)
                if not result.same_as_original:
                    name = storage.save(name, File(out, name=name))
        if result.same_as_original:
            storage.delete(name) if path is None else path.unlink(missing_ok=True)
            name = ""
        done = derived_file_built(pk=row.pk, lease=lease, result=result, name=name)
        if done is None and name:
            storage.delete(name)
        return done
    except BaseException:
        # Also a soft time limit: the next caller builds it again, and no half-written stream stays.
        derived_file_release(pk=row.pk, lease=lease)
        try:
            storage.delete(name) if name else None
        except OSError:
            logger.warning("could not delete a partial derived copy", extra={"name": name}, exc_info=True)
        if lost:
            return None
        raise


def derived_file_ensure(*, datafile: DataFile, kind: str, check: Callable[[int], None] | None = None) -> DerivedFile:
    """The ready `kind` copy of `datafile`: the stored one, or one built now (by this caller, or by the
    caller already holding its lease, which is waited for). `check(n)` is called with the source bytes read
    while building (0 while waiting): a package's progress and heartbeat, which raise to stop it. Raises derived.CopyError for an original that cannot
    become the copy; other errors (storage, database) for the caller to retry."""
    while True:
        row, lease = derived_file_claim(datafile_id=datafile.pk, kind=kind)
        if lease is None and row.ready:
            if row.same_as_original or (row.file.name and row.file.storage.exists(row.file.name)):
                return row
            logger.warning("derived copy missing from storage; building it again", extra={"derived": row.pk})
            derived_file_discard(pk=row.pk)
            continue
        if lease is None:  # another worker is building it: wait for it (or for its lease to run out)
            if check:
                check(0)
            time.sleep(WAIT_POLL_SECONDS)
            continue
        built = _build(datafile, row, lease, check)
        if built is not None:
            return built


def version_derived_files_prepare(*, version_id: int) -> int:
    """Every copy the packages of a (published) version carry, made now: the publication's task, so the
    first buyer's package is already only a copy. Idempotent. Returns how many copies are ready."""
    count = 0
    for datafile in DataFile.objects.filter(version_id=version_id).exclude(format="zip"):
        for kind in derived.kinds_for(datafile):
            derived_file_ensure(datafile=datafile, kind=kind)
            count += 1
    return count
