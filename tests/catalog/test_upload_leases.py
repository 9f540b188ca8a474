"""Resumable uploads across nodes (issue 18): the lease on the upload row, the chunks in the shared storage,
and what happens when requests race for one upload."""

import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import connection
from django.utils import timezone

from catalog import services
from catalog.models import Upload
from core.errors import DomainError
from tests.s3 import s3_client, s3_server, s3_storage  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target):
    """Run `target` in a thread with its own database connection; returns (thread, outcome dict)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = target()
        except Exception as exc:  # the outcome is asserted by the test
            outcome["error"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_a_request_that_lost_its_lease_while_storing_leaves_the_winners_chunk_alone(
    official, draft, s3_storage, settings
):
    """Request A stores a big chunk to S3 (a multipart upload) and its lease expires meanwhile; request B takes
    over at the same offset and stores its small chunk first. Each request's chunk has a name of its own: A's
    cannot overwrite B's object, and when A finds it lost the lease and deletes what it stored, B's chunk stays."""
    settings.UPLOAD_LEASE_SECONDS = 0.05
    big, small = os.urandom(40 * 1024**2), os.urandom(1024**2)
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=len(big) + 10)
    client = s3_client(default_storage.connection.meta.client.meta.endpoint_url)
    prefix = services.uploads.staging_folder(upload.pk) + "/"

    slow, a = _in_thread(
        lambda: services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(big))
    )
    deadline = time.monotonic() + 60
    while not client.list_multipart_uploads(Bucket=s3_storage, Prefix=prefix).get("Uploads"):
        assert slow.is_alive() and time.monotonic() < deadline, a
        time.sleep(0.005)
    while Upload.objects.filter(pk=upload.pk, lease_expires_at__gte=timezone.now()).exists():
        time.sleep(0.005)
    b = services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(small))
    slow.join(60)

    # A lost the lease: its bytes are not counted (409, or the offset B reached).
    assert isinstance(a.get("error"), services.OffsetMismatch) or a["value"].offset == len(small), a
    assert b.offset == len(small)
    (chunk,) = Upload.objects.get(pk=upload.pk).chunks.all()
    assert (chunk.offset, chunk.size) == (0, len(small))
    stored = client.get_object(Bucket=s3_storage, Key=chunk.name)["Body"].read()
    assert hashlib.sha256(stored).digest() == hashlib.sha256(small).digest()
    listed = client.list_objects_v2(Bucket=s3_storage, Prefix=prefix)
    assert [item["Key"] for item in listed.get("Contents", [])] == [chunk.name]  # nothing of A's left


def test_twenty_patches_at_one_offset_one_wins(official, draft):
    """20 PATCHes at the same offset at once: exactly one is counted, the others are refused (409), and nothing
    of the refused ones stays in the storage."""
    body = os.urandom(3 * 1024**2)
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=len(body) * 2)
    start = threading.Barrier(20)

    def patch():
        start.wait()
        return services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(body))

    runs = [_in_thread(patch) for _ in range(20)]
    for thread, _ in runs:
        thread.join(120)
    outcomes = [outcome for _, outcome in runs]
    won = [o for o in outcomes if "value" in o]
    refused = [o for o in outcomes if isinstance(o.get("error"), services.OffsetMismatch)]
    assert len(won) == 1 and len(refused) == 19, outcomes
    upload.refresh_from_db()
    assert upload.offset == len(body) and upload.lease is None
    (chunk,) = upload.chunks.all()
    _, files = default_storage.listdir(services.uploads.staging_folder(upload.pk))
    assert [f"{services.uploads.staging_folder(upload.pk)}/{name}" for name in files] == [chunk.name]
    with default_storage.open(chunk.name, "rb") as fh:
        assert fh.read() == body


def test_a_join_that_fails_on_s3_can_be_retried_and_loses_nothing(
    official, draft, s3_storage, django_capture_on_commit_callbacks
):
    """The last PATCH's join fails (a chunk cannot be read from S3): the upload stays open at the offset where its
    last piece began (HEAD tells the client to send that piece again; at its full offset the client would take it
    for finished), its chunks kept, no half-written file or multipart upload left; the piece sent again completes it."""
    data = os.urandom(9 * 1024**2 + 123)
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=len(data))
    services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data[:5_000_000]))
    (first,) = Upload.objects.get(pk=upload.pk).chunks.all()
    client = s3_client(default_storage.connection.meta.client.meta.endpoint_url)
    client.copy_object(Bucket=s3_storage, Key="aside", CopySource={"Bucket": s3_storage, "Key": first.name})
    client.delete_object(Bucket=s3_storage, Key=first.name)  # S3 answers 404 for it, for a while

    with pytest.raises(FileNotFoundError):  # core.storage.open_stream: S3's 404 as the file system's error
        services.upload_append(actor=official, upload=upload, offset=5_000_000, stream=io.BytesIO(data[5_000_000:]))
    upload.refresh_from_db()
    assert upload.state == Upload.State.UPLOADING and upload.offset == 5_000_000 and upload.lease is None
    assert upload.chunks.count() == 2
    assert not client.list_multipart_uploads(Bucket=s3_storage).get("Uploads")
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=s3_storage).get("Contents", [])]
    second = upload.chunks.get(offset=5_000_000)
    assert sorted(keys) == sorted(["aside", second.name]), keys  # no half-joined file

    client.copy_object(Bucket=s3_storage, Key=first.name, CopySource={"Bucket": s3_storage, "Key": "aside"})
    with django_capture_on_commit_callbacks(execute=True):
        done = services.upload_append(
            actor=official, upload=upload, offset=5_000_000, stream=io.BytesIO(data[5_000_000:])
        )
    assert done.state == Upload.State.COMPLETE and done.offset == len(data)
    assert done.datafile.sha256 == hashlib.sha256(data).hexdigest()
    with default_storage.open(done.datafile.file.name, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == done.datafile.sha256
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=s3_storage).get("Contents", [])]
    assert sorted(keys) == sorted(["aside", done.datafile.file.name]), keys  # the first try's piece went too


class _Stalling(io.BytesIO):
    """A request body that, after its first read, runs `meanwhile` (what other requests do while it stalls)."""

    def __init__(self, data, meanwhile):
        super().__init__(data)
        self.meanwhile, self.reads = meanwhile, 0

    def read(self, size=-1):
        self.reads += 1
        if self.reads == 2:
            self.meanwhile()
        return super().read(size)


def test_a_stalled_request_whose_lease_expired_does_not_count_its_bytes(official, draft):
    """A request stalls longer than its lease; another takes over at the same offset and finishes its PATCH. When
    the first wakes up its bytes are refused (409): the offset stays the second's, and only its chunk is staged."""
    first, second = os.urandom(3 * 1024**2), os.urandom(1024**2 + 5)
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=10 * 1024**2)
    taken_over = {}

    def take_over():
        Upload.objects.filter(pk=upload.pk).update(lease_expires_at=timezone.now() - timezone.timedelta(seconds=1))
        taken_over["offset"] = services.upload_append(
            actor=official, upload=upload, offset=0, stream=io.BytesIO(second)
        ).offset

    with pytest.raises(services.OffsetMismatch):
        services.upload_append(actor=official, upload=upload, offset=0, stream=_Stalling(first, take_over))
    upload.refresh_from_db()
    assert taken_over["offset"] == upload.offset == len(second) and upload.lease is None
    (chunk,) = upload.chunks.all()
    assert chunk.size == len(second)
    folder = services.uploads.staging_folder(upload.pk)
    assert [f"{folder}/{name}" for name in default_storage.listdir(folder)[1]] == [chunk.name]


def test_a_cancel_during_a_patch_leaves_nothing_staged(official, draft):
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=10 * 1024**2)
    services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(os.urandom(1024**2)))

    def cancel():
        services.upload_abort(actor=official, upload=upload)

    with pytest.raises(DomainError):
        services.upload_append(
            actor=official, upload=upload, offset=1024**2, stream=_Stalling(os.urandom(3 * 1024**2), cancel)
        )
    upload.refresh_from_db()
    assert upload.state == Upload.State.ABORTED and not upload.chunks.exists()
    folder = services.uploads.staging_folder(upload.pk)
    assert not default_storage.exists(folder) or default_storage.listdir(folder) == ([], [])


def test_a_node_whose_clock_runs_ahead_does_not_take_a_live_lease(official, draft):
    """The lease expires by the database's clock, not the node's: a node two minutes ahead (no NTP) must not take
    the upload from a request another node is still receiving."""
    import time_machine  # only this test moves a clock

    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=10 * 1024**2)
    refused = {}

    def from_a_node_ahead():
        with time_machine.travel(timezone.now() + timezone.timedelta(minutes=2), tick=True):
            try:
                services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(b"x" * 10))
            except services.OffsetMismatch as exc:
                refused["code"] = exc.code

    services.upload_append(
        actor=official, upload=upload, offset=0, stream=_Stalling(os.urandom(2 * 1024**2), from_a_node_ahead)
    )
    assert refused == {"code": "upload_busy"}
    upload.refresh_from_db()
    assert upload.offset == 2 * 1024**2 and upload.chunks.get().size == 2 * 1024**2


class _WatchedStorage(FileSystemStorage):
    """The file system storage, noting whether a database transaction was open at each delete; the first file it
    stores outside the staging folder lets `while_saving` run after it (another completion of the same upload)."""

    deletes_in_transaction: list = []
    while_saving = None

    def _save(self, name, content):
        saved = super()._save(name, content)
        if _WatchedStorage.while_saving and not name.startswith("staging/"):
            hook, _WatchedStorage.while_saving = _WatchedStorage.while_saving, None
            hook()
        return saved

    def delete(self, name):
        _WatchedStorage.deletes_in_transaction.append(connection.in_atomic_block)
        return super().delete(name)


def test_a_second_completion_during_the_join_is_refused_and_nothing_is_deleted_in_a_transaction(
    official, draft, settings, tmp_path
):
    """A second completion of an upload while the first joins its pieces is refused (the lease: 409, "busy"), so
    only one copy is ever written; the pieces are deleted after the transaction (rule: no storage I/O under a row
    lock)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}._WatchedStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    data = os.urandom(2 * 1024**2)
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=len(data))
    other = {}

    def complete_meanwhile():
        try:
            services.upload_complete(upload=upload)
        except services.OffsetMismatch as exc:
            other["refused"] = exc.code

    _WatchedStorage.while_saving = complete_meanwhile
    _WatchedStorage.deletes_in_transaction = []
    done = services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(data))
    assert other == {"refused": "upload_busy"} and done.datafile.sha256 == hashlib.sha256(data).hexdigest()
    assert services.upload_complete(upload=upload) == done.datafile  # after it: the file it became
    assert _WatchedStorage.deletes_in_transaction and not any(_WatchedStorage.deletes_in_transaction)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [Path(done.datafile.file.name).name]


def test_the_last_bytes_into_a_version_submitted_meanwhile_close_the_upload_outside_a_transaction(official, draft):
    """The last PATCH of an upload whose version was submitted meanwhile, as a request runs it (autocommit, no
    transaction around it): the publisher is told the version is frozen (Korean and English), and the upload is
    closed; not a server error from a row lock asked for outside a transaction."""
    from catalog.models import DatasetVersion

    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=10)
    DatasetVersion.objects.filter(pk=draft.pk).update(state=DatasetVersion.State.SUBMITTED)
    with pytest.raises(DomainError) as refused:
        services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(b"0123456789"))
    assert refused.value.code == "version_frozen"
    upload.refresh_from_db()
    assert upload.state == Upload.State.ABORTED and upload.datafile_id is None
