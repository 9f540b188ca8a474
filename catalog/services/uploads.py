"""Resumable (tus) uploads into a version: open, append streamed bytes, complete, cancel.

Node-independent: nothing of an unfinished upload lives on one web node. Each PATCH's bytes become one chunk in the
default storage (S3, or the filesystem volume every node mounts) under staging/uploads/<upload>/, listed in the
database (UploadChunk); the request sending bytes holds a lease on the upload row (PostgreSQL, compare-and-set),
so a PATCH can land on any node and a second one at the same time is refused (409). The bytes of the request being
received spool to a node-local file first (UPLOAD_STAGING_DIR; on filesystem storage a hidden file inside the
storage's staging folder, which then becomes the chunk by a rename), so a dropped connection keeps what arrived.
"""

import hashlib
import logging
import os
import re
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.db.models.functions import Now
from django.http import UnreadablePostError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog import tasks
from catalog.models import DataFile, DatasetVersion, Upload, UploadChunk
from catalog.services.versions import (
    _lock_editable,
    _refresh_version_state,
    _require_publisher,
)
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.storage import open_stream
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


logger = logging.getLogger(__name__)

STAGING_PREFIX = "staging/uploads"
CHUNK = 1 << 20


def staging_folder(upload_pk) -> str:
    """Where an upload's chunks are staged in the default storage."""
    return f"{STAGING_PREFIX}/{upload_pk}"


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
    return Upload.objects.create(version=version, created_by=actor, filename=filename, length=length, replaces=replaces)


class OffsetMismatch(DomainError):
    pass


def upload_append(*, actor, upload: Upload, offset: int, stream, chunk_size: int = CHUNK) -> Upload:
    """Append the bytes of one tus PATCH request at `offset`: streamed to a spool file, then stored as one chunk.

    No database transaction or row lock is held while bytes arrive (a PATCH can take minutes): the request claims
    the upload's lease (a committed compare-and-set), renews it while it reads, stores the chunk, and then moves the
    offset by compare-and-set in a short transaction of its own. Bytes that arrived before a dropped connection are
    kept and counted, so the client resumes from there, on this node or another.

    The last piece is different: its chunk is recorded but the offset stays where the piece began, the request
    keeps its lease and joins the chunks (upload_complete), and only the join's commit moves the offset to the
    length. So a join that fails (storage down, the web process killed) leaves HEAD answering the earlier offset:
    tus-js-client, retrying the failed PATCH by itself (HEAD, then PATCH), sends the last piece again and the join
    runs again, and the user does nothing special. Had the offset reached the length first, the client would take
    the upload for finished and never send anything again: a file never joined. (A client that went away meanwhile
    is covered by uploads_complete_stranded, run by celery beat.) A second request meanwhile (a retry racing the
    original) finds the lease held and is told 409, never a server error.
    """
    upload = Upload.objects.select_related("version__dataset__publisher").get(pk=upload.pk)
    if upload.created_by_id != actor.pk:
        raise NotAllowed(_("This upload belongs to someone else."))
    # Still a publisher of the organization (a removed or demoted member cannot finish an upload).
    _require_publisher(actor, upload.version.dataset.publisher)
    token = _claim(upload)
    stored = None
    complete = False
    try:
        upload.refresh_from_db(fields=["offset", "state"])
        if offset != upload.offset:
            raise OffsetMismatch(
                lazy_percent(_("The upload is at byte %(offset)s."), {"offset": upload.offset}), code="offset_mismatch"
            )
        stored, written = _receive_chunk(upload, token, offset, stream, chunk_size)
        if written:
            last = offset + written == upload.length
            with transaction.atomic():
                moved = Upload.objects.filter(
                    pk=upload.pk, offset=offset, state=Upload.State.UPLOADING, lease=token
                ).update(
                    updated_at=timezone.now(),
                    # The last piece: the offset moves with the join's commit, and the lease stays for the join.
                    **({} if last else {"offset": offset + written, "lease": None, "lease_expires_at": None}),
                )
                if moved:
                    # A last piece recorded before by a request whose join failed: this one takes its place.
                    earlier = UploadChunk.objects.filter(upload=upload, offset__gte=offset)
                    _delete_stored_on_commit(list(earlier.values_list("name", flat=True)))
                    earlier.delete()
                    UploadChunk.objects.create(upload=upload, offset=offset, size=written, name=stored)
                    stored = None  # the upload's now
                    complete = last
        elif offset == upload.length:
            complete = True  # an empty PATCH at the end (an upload left at its full offset by an older version)
        if complete:
            try:
                upload_complete(upload=upload, actor=actor, token=token)
            except OffsetMismatch:
                raise  # another request took the upload over: it finishes it
            except DomainError:
                # E.g. the version was submitted meanwhile: the upload cannot become a file of it. Close it,
                # so the browser is told (HEAD answers 410) instead of seeing a finished upload.
                upload_abort(actor=actor, upload=upload)
                raise
    finally:
        if stored:
            default_storage.delete(stored)  # cancelled, or taken over by a newer request, meanwhile
        _release(upload, token)
    upload.refresh_from_db()
    return upload


def _delete_stored_on_commit(names) -> None:
    if names:
        transaction.on_commit(lambda: [default_storage.delete(name) for name in names], robust=True)


def _claim(upload: Upload) -> uuid.UUID:
    """The lease of an open upload for this request (committed at once: autocommit, outside any transaction of
    ours), or OffsetMismatch when another request holds a live one."""
    token = uuid.uuid4()
    # By the database's clock (Now()), the one clock every node shares: a node whose own clock runs ahead would
    # otherwise take a lease that is still live.
    claimed = (
        Upload.objects.filter(pk=upload.pk, state=Upload.State.UPLOADING)
        .filter(models.Q(lease__isnull=True) | models.Q(lease_expires_at__lt=Now()))
        .update(lease=token, lease_expires_at=Now() + timedelta(seconds=settings.UPLOAD_LEASE_SECONDS))
    )
    if claimed:
        return token
    if Upload.objects.filter(pk=upload.pk, state=Upload.State.UPLOADING).exists():
        raise OffsetMismatch(_("Another request is still sending this file."), code="upload_busy")
    raise DomainError(_("This upload is already finished."), code="upload_closed")


def _renew(upload: Upload, token) -> bool:
    """The request holding `token` is still sending: its lease is extended. False once it lost it (cancelled,
    finished, or taken over after it expired: this request stalled longer than UPLOAD_LEASE_SECONDS)."""
    until = Now() + timedelta(seconds=settings.UPLOAD_LEASE_SECONDS)  # the database's clock, as in _claim
    return (
        Upload.objects.filter(pk=upload.pk, state=Upload.State.UPLOADING, lease=token).update(lease_expires_at=until)
        == 1
    )


def _release(upload: Upload, token) -> None:
    Upload.objects.filter(pk=upload.pk, lease=token).update(lease=None, lease_expires_at=None)


class _Spooled(File):
    """A spool file the filesystem storage takes by a rename (as Django's TemporaryUploadedFile) instead of a copy."""

    def temporary_file_path(self):
        return self.file.name


def _spool_dir(storage, upload: Upload) -> tuple[Path, bool]:
    """Where the bytes of a PATCH wait: inside the filesystem storage's staging folder of the upload (the chunk is
    then that very file, renamed: no second copy; a dead request's spool goes with the folder), else the node's
    UPLOAD_STAGING_DIR (then streamed to S3 and deleted)."""
    try:
        return Path(storage.path(staging_folder(upload.pk))), True
    except NotImplementedError:
        return Path(settings.UPLOAD_STAGING_DIR), False


# The spool files _receive_chunk makes: .<upload>-<request's token>-<random>.spool
SPOOL_NAME = re.compile(r"\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[0-9a-f]{32}-[^/]+\.spool")
SPOOL_SWEEP_EVERY = 600  # seconds, per process and folder
_spool_swept: dict[str, float] = {}


def spool_stale_seconds() -> float:
    """A spool file untouched this long belongs to a request that is gone (its web process killed mid-PATCH): four
    leases (a live request writes into its spool as the bytes arrive and renews its lease every quarter of one),
    and never less than 15 minutes. Deleting a spool a slow request still stores from would not even hurt it: it
    reads through its own open descriptor (POSIX), the name is only what goes."""
    return max(4 * settings.UPLOAD_LEASE_SECONDS, 15 * 60)


def spool_sweep(folder: Path | None = None, *, older_than: float | None = None) -> int:
    """Delete this node's stale spool files in `folder` (UPLOAD_STAGING_DIR): only files named as _receive_chunk
    names them, not modified for `older_than` seconds (spool_stale_seconds()). Returns how many went.

    Run by each web process itself (on the first PATCH it receives, then at most every SPOOL_SWEEP_EVERY seconds
    while it receives any), not by a celery beat task: the folder is local to the web node, which the workers need
    not share, and only a web node makes spool files. A node restarted after a crash sweeps on its first PATCH;
    one that receives no PATCH makes no spool files either."""
    folder = Path(settings.UPLOAD_STAGING_DIR if folder is None else folder)
    cutoff = time.time() - (spool_stale_seconds() if older_than is None else older_than)
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if not SPOOL_NAME.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
        except FileNotFoundError:
            pass  # its own request deleted it meanwhile
    if removed:
        logger.info("stale upload spool files deleted", extra={"folder": str(folder), "count": removed})
    return removed


def _sweep_spool_now_and_then(folder: Path) -> None:
    now = time.monotonic()
    last = _spool_swept.get(str(folder))
    if last is not None and now - last < SPOOL_SWEEP_EVERY:
        return
    _spool_swept[str(folder)] = now
    try:
        spool_sweep(folder)
    except OSError:
        logger.exception("sweeping the upload spool failed", extra={"folder": str(folder)})


def _receive_chunk(upload: Upload, token, offset: int, stream, chunk_size: int) -> tuple[str | None, int]:
    """Read the request's bytes (at most what the upload still lacks) into a spool file, renewing the lease, and
    store them as the chunk at `offset`. Returns the chunk's stored name (None when nothing arrived) and its size."""
    folder, in_storage = _spool_dir(default_storage, upload)
    folder.mkdir(parents=True, exist_ok=True)
    if not in_storage:
        _sweep_spool_now_and_then(folder)
    fd, spool = tempfile.mkstemp(prefix=f".{upload.pk}-{token.hex}-", suffix=".spool", dir=folder)
    written = 0
    remaining = upload.length - offset
    renew_every = max(settings.UPLOAD_LEASE_SECONDS / 4, 1)
    try:
        os.close(fd)
        with open(spool, "w+b") as fh:
            renewed = time.monotonic()
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
                if time.monotonic() - renewed >= renew_every:
                    if not _renew(upload, token):
                        break
                    renewed = time.monotonic()
            if not written:
                return None, 0
            if not _renew(upload, token):  # cancelled or taken over while the bytes arrived: they are not wanted
                raise OffsetMismatch(_("Another request is still sending this file."), code="upload_busy")
            fh.flush()
            if in_storage:
                os.fsync(fh.fileno())  # the shared volume keeps them even if this node dies next
            fh.seek(0)
            # The request's own name: two requests at one offset (one whose lease expired while it stored, and the
            # one that took over) never write, or delete, the same object (S3's name check and PUT are not atomic).
            name = f"{staging_folder(upload.pk)}/{offset:015d}-{token.hex}"
            stored = default_storage.save(name, _Spooled(fh, name=name) if in_storage else File(fh, name=name))
        return stored, written
    finally:
        Path(spool).unlink(missing_ok=True)  # (gone already when it was renamed into place)


def upload_complete(*, upload: Upload, actor=None, token=None) -> DataFile:
    """All the bytes arrived: join the chunks into one stored file (hashing it on the way), start its checks.
    `actor` is who sent the last bytes (their audit rows name the API key they used), else the upload's creator.

    The join runs under the upload's lease: `token`, the lease of the request that sent the last piece, else one
    claimed here (OffsetMismatch, "busy", while another request holds it). So two completions never join at once:
    the second is told 409 (tus-js-client then asks HEAD, and sees the final offset once the first committed). The
    lease is renewed while the bytes are copied. The slow part (reading and writing gigabytes) runs before any
    transaction or row lock; the short transaction after it records the DataFile, and moves the offset to the
    length, only if this request still holds the lease of an open upload of a version still editable. Otherwise,
    or when the join fails, the stored copy is deleted again (outside the transaction) and the upload stays open
    at the offset where its last piece began, its chunks kept. The chunks go after the commit.
    """
    upload = Upload.objects.select_related("version__dataset__publisher").get(pk=upload.pk)
    if upload.datafile_id:
        return upload.datafile
    own_lease = token is None
    if own_lease:
        token = _claim(upload)
    try:
        return _join(upload, actor, token)
    finally:
        if own_lease:
            _release(upload, token)


def _join(upload: Upload, actor, token) -> DataFile:
    if upload.state != Upload.State.UPLOADING:
        raise DomainError(_("This upload was cancelled or is not finished."), code="upload_closed")
    if not upload.version.is_editable:
        with transaction.atomic():  # a row lock needs a transaction (a request runs in autocommit)
            _lock_editable(upload.version)  # raises the "frozen" message
    chunks = list(upload.chunks.order_by("offset").values_list("offset", "size", "name"))
    if sum(size for _, size, _ in chunks) != upload.length or any(
        offset != sum(size for _, size, _ in chunks[:i]) for i, (offset, _, _) in enumerate(chunks)
    ):
        raise DomainError(_("This upload was cancelled or is not finished."), code="upload_closed")
    joined = JoinedChunks(default_storage, [name for _, _, name in chunks], renew=lambda: _renew(upload, token))
    datafile = DataFile(
        version=upload.version,
        original_name=upload.filename,
        format=format_for(upload.filename),
        size=upload.length,
    )
    # The name is chosen first (a new UUID), so a join that fails half-way (a half-written file on a file system)
    # is deleted by that name.
    stored = datafile.file.field.generate_filename(datafile, upload.filename)
    try:
        try:
            stored = default_storage.save(stored, _Joined(joined, name=upload.filename))
        finally:
            joined.close()
        datafile.file.name = stored
        if joined.size != upload.length:
            raise DomainError(_("This upload was cancelled or is not finished."), code="upload_closed")
        datafile.sha256 = joined.sha256.hexdigest()
        with transaction.atomic():
            locked = Upload.objects.select_for_update().get(pk=upload.pk)
            if locked.datafile_id:
                lost_to = locked.datafile  # our copy goes after the transaction (no storage I/O under the lock)
            elif locked.state != Upload.State.UPLOADING:
                raise DomainError(_("This upload was cancelled or is not finished."), code="upload_closed")
            elif locked.lease != token:
                # This request stalled past its lease and another one took the upload over: that one finishes it.
                raise OffsetMismatch(_("Another request is still sending this file."), code="upload_busy")
            else:
                lost_to = None
                version = _lock_editable(upload.version)
                datafile.version = version
                _replace_predecessor(version, locked, datafile, actor=actor or locked.created_by)
                datafile.save()
                locked.state = Upload.State.COMPLETE
                locked.offset = locked.length
                locked.datafile = datafile
                locked.lease = locked.lease_expires_at = None
                locked.save(update_fields=["state", "offset", "datafile", "lease", "lease_expires_at", "updated_at"])
                locked.chunks.all().delete()
                delete_staged_on_commit([locked.pk])
                _refresh_version_state(version)
                _enqueue_check(datafile)
    except BaseException:
        if not DataFile.objects.filter(file=stored).exists():
            default_storage.delete(stored)
        raise
    if lost_to is not None:
        default_storage.delete(stored)
        return lost_to
    return datafile


class JoinedChunks:
    """The chunks of an upload read one after the other as one stream (a file-like object for storage.save),
    hashed (SHA-256) and counted as they pass: memory stays at one read, whatever the size. S3 objects are read from
    their response body as it arrives (core.storage.open_stream)."""

    def __init__(self, storage, names, renew=None):
        self.storage, self.names = storage, iter(names)
        self.renew, self.renewed = renew, time.monotonic()
        self.current = None
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.closed = False

    def read(self, size=-1) -> bytes:
        """Up to `size` bytes, fewer only at the end (as a file: boto3 takes a short read for the end of the
        stream), across the chunks' boundaries."""
        if size is None or size < 0:
            size = CHUNK
        if self.renew and time.monotonic() - self.renewed >= max(settings.UPLOAD_LEASE_SECONDS / 4, 1):
            if not self.renew():  # cancelled, or taken over after this request stalled past its lease
                raise OffsetMismatch(_("Another request is still sending this file."), code="upload_busy")
            self.renewed = time.monotonic()
        out = bytearray()
        while len(out) < size:
            if self.current is None:
                name = next(self.names, None)
                if name is None:
                    break
                self.current = open_stream(self.storage, name)
            data = self.current.read(size - len(out))
            if not data:
                self.current.close()
                self.current = None
                continue
            out += data
        self.sha256.update(out)
        self.size += len(out)
        return bytes(out)

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
        self.closed = True


class _Joined(File):
    DEFAULT_CHUNK_SIZE = CHUNK  # FileSystemStorage copies in chunks() of this size


def delete_staged_on_commit(upload_ids) -> None:
    """After the commit, delete what the uploads staged in the storage (every chunk, recorded or left by a request
    that died before it could record it, and the spool files of the filesystem storage)."""
    upload_ids = list(upload_ids)

    def delete():
        for pk in upload_ids:
            _delete_staged(pk)

    transaction.on_commit(delete, robust=True)


def _delete_staged(upload_pk) -> None:
    folder = staging_folder(upload_pk)
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    try:
        os.rmdir(default_storage.path(folder))
    except NotImplementedError:
        pass  # object storage has no folders
    except OSError:
        pass  # gone already, or a request still spooling into it


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
    upload = Upload.objects.select_for_update(of=("self",)).select_related("version__dataset").get(pk=upload.pk)
    if upload.created_by_id != actor.pk:
        raise NotAllowed(_("This upload belongs to someone else."))
    _require_publisher(actor, upload.version.dataset.publisher)  # a member who left, or a key of another organization
    if upload.state == Upload.State.UPLOADING:
        upload.state = Upload.State.ABORTED
        upload.lease = upload.lease_expires_at = None  # a request still sending loses it, and deletes its chunk
        upload.save(update_fields=["state", "lease", "lease_expires_at", "updated_at"])
        upload.chunks.all().delete()
        delete_staged_on_commit([upload.pk])


def uploads_expire(*, older_than_days: int) -> int:
    """Cancel unfinished uploads idle for longer than `older_than_days` and delete their staged bytes
    (run by celery beat). Returns how many were cancelled."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    expired = 0
    for upload in Upload.objects.filter(state=Upload.State.UPLOADING, updated_at__lt=cutoff).only("pk"):
        with transaction.atomic():
            changed = Upload.objects.filter(pk=upload.pk, state=Upload.State.UPLOADING, updated_at__lt=cutoff).update(
                state=Upload.State.ABORTED, updated_at=timezone.now(), lease=None, lease_expires_at=None
            )
            if changed:
                UploadChunk.objects.filter(upload=upload.pk).delete()
                delete_staged_on_commit([upload.pk])
                expired += 1
    return expired


def uploads_complete_stranded(*, idle_seconds: float | None = None) -> int:
    """Join the uploads whose bytes all arrived but whose join never committed (run by celery beat): the last PATCH
    failed to join and its client went away before it sent the piece again (a closed tab), the web process died
    mid-join, or an older version of this code left the upload at its full offset (its client took it for
    finished). Each is completed under its own lease, like a PATCH: one a request is sending or joining now is left
    to it, one of a version submitted meanwhile is closed, a join that fails again is tried at the next run.
    Only uploads idle for `idle_seconds` (default: twice UPLOAD_LEASE_SECONDS) are taken, so a client retrying by
    itself goes first. Returns how many became files."""
    idle = timedelta(seconds=2 * settings.UPLOAD_LEASE_SECONDS if idle_seconds is None else idle_seconds)
    stranded = (
        Upload.objects.filter(state=Upload.State.UPLOADING, datafile__isnull=True, updated_at__lt=timezone.now() - idle)
        .filter(models.Q(lease__isnull=True) | models.Q(lease_expires_at__lt=Now()))
        .annotate(received=models.Sum("chunks__size"))
        .filter(received=models.F("length"))
        .values_list("pk", flat=True)
    )
    completed = 0
    for pk in list(stranded):
        try:
            upload_complete(upload=Upload(pk=pk))
            completed += 1
        except OffsetMismatch:
            continue  # a request holds it now: it finishes it
        except DomainError:
            _close(pk)  # the version was submitted meanwhile, or its pieces do not add up
        except Exception:
            logger.exception("joining a stranded upload failed", extra={"upload_id": str(pk)})
    return completed


def _close(upload_pk) -> bool:
    """Cancel an open upload and delete what it staged (after the commit)."""
    with transaction.atomic():
        changed = Upload.objects.filter(pk=upload_pk, state=Upload.State.UPLOADING).update(
            state=Upload.State.ABORTED, updated_at=timezone.now(), lease=None, lease_expires_at=None
        )
        if changed:
            UploadChunk.objects.filter(upload=upload_pk).delete()
            delete_staged_on_commit([upload_pk])
    return bool(changed)
