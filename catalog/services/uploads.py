"""Resumable (tus) uploads into a version: open, append streamed bytes, complete, cancel."""

import fcntl
import hashlib
import os
import shutil
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.http import UnreadablePostError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog import tasks
from catalog.models import DataFile, DatasetVersion, Upload
from catalog.services.versions import (
    _lock_editable,
    _refresh_version_state,
    _require_publisher,
)
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.text import lazy_percent

SUFFIX_FORMATS = {
    ".csv": DataFile.Format.CSV,
    ".txt": DataFile.Format.CSV,
    ".tsv": DataFile.Format.TSV,
    ".xlsx": DataFile.Format.XLSX,
    ".json": DataFile.Format.JSON,
    ".geojson": DataFile.Format.GEOJSON,
    ".zip": DataFile.Format.ZIP,
}


def _staging_path(upload: Upload) -> Path:
    return Path(settings.UPLOAD_STAGING_DIR) / f"{upload.pk}.part"


def format_for(filename: str) -> str | None:
    return SUFFIX_FORMATS.get(Path(filename).suffix.lower())


def delete_unreferenced_on_commit(names) -> None:
    """After the commit, delete the stored objects no DataFile row names any more.

    A file carried over into a new version shares its stored object with the published version's row, so
    removing or replacing it in the draft must leave those bytes alone."""

    def delete():
        for name in names:
            if name and not DataFile.objects.filter(file=name).exists():
                default_storage.delete(name)

    transaction.on_commit(delete)


@transaction.atomic
def upload_create(
    *, actor, version: DatasetVersion, filename: str, length: int, replaces: DataFile | None = None
) -> Upload:
    """Open a resumable upload of one file into an editable version; with `replaces`, the new file takes
    that file's place when it has arrived (the old one stays until then)."""
    _require_publisher(actor, version.dataset.publisher)
    version = _lock_editable(version)
    if replaces is not None and (replaces.version_id != version.pk or replaces.parent_id is not None):
        raise DomainError(_("The file to replace is not a file of this version."), code="replaces_invalid")
    # Control characters (a NUL byte PostgreSQL refuses, line breaks) have no place in a file's name.
    filename = "".join(c for c in filename if c.isprintable())
    filename = Path(filename.replace("\\", "/")).name.strip()[:255]
    if not filename or format_for(filename) is None:
        raise DomainError(_("Upload CSV, TSV, XLSX, JSON, GeoJSON or a ZIP of these files."), code="format_unsupported")
    if length <= 0:
        raise DomainError(_("The file is empty."), code="empty_file")
    if length > settings.UPLOAD_MAX_BYTES:
        raise DomainError(
            lazy_percent(
                _("The file is larger than the limit of %(limit)s GB."), {"limit": settings.UPLOAD_MAX_BYTES // 1024**3}
            ),
            code="too_large",
        )
    upload = Upload.objects.create(
        version=version, created_by=actor, filename=filename, length=length, replaces=replaces
    )
    path = _staging_path(upload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return upload


class OffsetMismatch(DomainError):
    pass


def upload_append(*, actor, upload: Upload, offset: int, stream, chunk_size: int = 1 << 20) -> Upload:
    """Append the bytes of one tus PATCH request at `offset`, streamed to the staging file.

    No database transaction is held while bytes arrive (a PATCH can take minutes): an exclusive
    lock on the staging file serialises concurrent PATCHes of one upload, and the offset moves by
    compare-and-set. Bytes that arrived before a dropped connection are kept and counted, so the
    client resumes from there.
    """
    upload = Upload.objects.select_related("version__dataset__publisher").get(pk=upload.pk)
    if upload.created_by_id != actor.pk:
        raise NotAllowed(_("This upload belongs to someone else."))
    # Still a publisher of the organization (a removed or demoted member cannot finish an upload).
    _require_publisher(actor, upload.version.dataset.publisher)
    written = 0
    with open(_staging_path(upload), "r+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OffsetMismatch(_("Another request is still sending this file."), code="upload_busy") from None
        upload.refresh_from_db(fields=["offset", "state"])
        if upload.state != Upload.State.UPLOADING:
            raise DomainError(_("This upload is already finished."), code="upload_closed")
        if offset != upload.offset:
            raise OffsetMismatch(
                lazy_percent(_("The upload is at byte %(offset)s."), {"offset": upload.offset}), code="offset_mismatch"
            )
        remaining = upload.length - offset
        fh.truncate(offset)  # drop a torn tail a crashed request may have left
        fh.seek(offset)
        try:
            while remaining > 0:
                try:
                    chunk = stream.read(min(chunk_size, remaining))
                except (OSError, UnreadablePostError):
                    break  # the client went away mid-request: keep what arrived and let it resume
                if not chunk:
                    break
                fh.write(chunk)  # a full disk raises here, and the request fails loudly
                written += len(chunk)
                remaining -= len(chunk)
        finally:
            fh.flush()
            os.fsync(fh.fileno())
            if written:
                Upload.objects.filter(pk=upload.pk, offset=offset, state=Upload.State.UPLOADING).update(
                    offset=offset + written, updated_at=timezone.now()
                )
    upload.refresh_from_db()
    if upload.offset == upload.length and upload.state == Upload.State.UPLOADING:
        try:
            upload_complete(upload=upload, actor=actor)
        except DomainError:
            # E.g. the version was submitted meanwhile: the upload cannot become a file of it. Close it,
            # so the browser is told (HEAD answers 410) instead of seeing a finished upload.
            upload_abort(actor=actor, upload=upload)
            raise
        upload.refresh_from_db()
    return upload


def upload_complete(*, upload: Upload, actor=None) -> DataFile:
    """The last byte arrived: hash the file, put it into private storage, start its checks. `actor` is who sent the
    last bytes (their audit rows name the API key they used), else the upload's creator.

    The slow part (hashing and copying gigabytes) runs before any transaction or row lock; the
    short transaction after it records the DataFile only if the upload is still open and the
    version still editable, and otherwise the stored copy is deleted again.
    """
    upload = Upload.objects.select_related("version__dataset__publisher").get(pk=upload.pk)
    if upload.datafile_id:
        return upload.datafile
    if upload.state != Upload.State.UPLOADING or upload.offset != upload.length:
        raise DomainError(_("This upload was cancelled or is not finished."), code="upload_closed")
    if not upload.version.is_editable:
        _lock_editable(upload.version)  # raises the "frozen" message
    path = _staging_path(upload)
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    datafile = DataFile(
        version=upload.version,
        original_name=upload.filename,
        format=format_for(upload.filename),
        size=upload.length,
        sha256=digest,
    )
    with open(path, "rb") as fh:
        datafile.file.save(upload.filename, File(fh), save=False)
    stored = datafile.file.name
    try:
        with transaction.atomic():
            locked = Upload.objects.select_for_update().get(pk=upload.pk)
            if locked.datafile_id or locked.state != Upload.State.UPLOADING:
                default_storage.delete(stored)  # another request completed or cancelled it meanwhile
                if locked.datafile_id:
                    return locked.datafile
                raise DomainError(_("This upload was cancelled or is not finished."), code="upload_closed")
            version = _lock_editable(upload.version)
            datafile.version = version
            _replace_predecessor(version, locked, datafile, actor=actor or locked.created_by)
            datafile.save()
            locked.state = Upload.State.COMPLETE
            locked.datafile = datafile
            locked.save(update_fields=["state", "datafile", "updated_at"])
            transaction.on_commit(lambda: path.unlink(missing_ok=True))
            _refresh_version_state(version)
            _enqueue_check(datafile)
    except Exception:
        if not DataFile.objects.filter(file=stored).exists():
            default_storage.delete(stored)
        raise
    return datafile


def _replace_predecessor(version: DatasetVersion, upload: Upload, datafile: DataFile, *, actor) -> None:
    """The file this upload replaces leaves the version: the one named by the "Replace" button, else a file
    carried over from the previous version under the same name (uploading 대기질.csv again replaces the
    carried 대기질.csv instead of adding a second one). The new file continues its predecessor."""
    top = version.files.filter(parent__isnull=True)
    if upload.replaces_id:
        replaced = top.filter(pk=upload.replaces_id).first()
    else:
        replaced = top.filter(original_name=upload.filename, predecessor__file=models.F("file")).order_by("pk").first()
    if replaced is None:
        return
    datafile.predecessor_id = replaced.predecessor_id
    names = [replaced.file.name, *replaced.members.values_list("file", flat=True)]
    audit(
        actor=actor,
        action="datafile.replaced",
        obj=replaced,
        organization=version.dataset.publisher,
        data={"name": replaced.original_name, "sha256": replaced.sha256, "by": upload.filename},
    )
    replaced.delete()
    delete_unreferenced_on_commit(names)


def _enqueue_check(datafile: DataFile) -> None:
    transaction.on_commit(lambda: tasks.datafile_check_task.delay(datafile.pk))


@transaction.atomic
def upload_abort(*, actor, upload: Upload) -> None:
    """The publisher cancels an unfinished upload; its staged bytes are deleted."""
    upload = Upload.objects.select_for_update().select_related("version__dataset").get(pk=upload.pk)
    if upload.created_by_id != actor.pk:
        raise NotAllowed(_("This upload belongs to someone else."))
    _require_publisher(actor, upload.version.dataset.publisher)  # a member who left, or a key of another organization
    if upload.state == Upload.State.UPLOADING:
        upload.state = Upload.State.ABORTED
        upload.save(update_fields=["state", "updated_at"])
        path = _staging_path(upload)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


def local_copy_path(datafile: DataFile, workdir: Path) -> Path:
    """A local path to the stored file: the file itself on local storage, a streamed copy otherwise."""
    try:
        return Path(datafile.file.path)
    except NotImplementedError:
        target = workdir / f"source{Path(datafile.original_name).suffix.lower()}"
        with datafile.file.open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return target


def uploads_expire(*, older_than_days: int) -> int:
    """Cancel unfinished uploads idle for longer than `older_than_days` and delete their staged bytes
    (run by celery beat). Returns how many were cancelled."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    expired = 0
    for upload in Upload.objects.filter(state=Upload.State.UPLOADING, updated_at__lt=cutoff).only("pk"):
        with transaction.atomic():
            changed = Upload.objects.filter(pk=upload.pk, state=Upload.State.UPLOADING, updated_at__lt=cutoff).update(
                state=Upload.State.ABORTED, updated_at=timezone.now()
            )
            if changed:
                path = _staging_path(upload)
                transaction.on_commit(lambda path=path: path.unlink(missing_ok=True))
                expired += 1
    return expired
