"""Resumable uploads recover from a failed or racing completion (issue 19): the join of the pieces that fails, two
completions at once, a web process's spool file left behind, and the uploads a join left stranded."""

import base64
import hashlib
import io
import os
import threading
import time
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import connection
from django.test import Client
from django.urls import reverse

from catalog.models import DataFile, Upload
from tests.s3 import s3_server, s3_storage  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)

TUS = {"Tus-Resumable": "1.0.0"}


def _meta(**values):
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def _create(client, version, name, length):
    return client.post(
        reverse("catalog:upload_create"),
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": _meta(filename=name, version=version.pk)},
    )["Location"]


def _patch(client, location, offset, body):
    return client.generic(
        "PATCH",
        location,
        data=body,
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": str(offset)},
        CONTENT_TYPE="application/offset+octet-stream",  # (the test client drops content_type with an empty body)
    )


def _client(user) -> Client:
    client = Client(raise_request_exception=False)  # a view's exception answers 500, as in production
    client.force_login(user)
    return client


class _HookedStorage(FileSystemStorage):
    """The file system storage; `on_open(name)`, when set, runs once right after a staged chunk is opened for the
    join (the handle is open by then, as a reader's would be). `fail_open` makes the next open of a chunk fail, as a
    storage that is down does."""

    on_open = None
    fail_open = False

    def open(self, name, mode="rb"):
        if name.startswith("staging/") and _HookedStorage.fail_open:
            _HookedStorage.fail_open = False
            raise OSError("the storage is unreachable")
        handle = super().open(name, mode)
        if name.startswith("staging/") and _HookedStorage.on_open:
            hook, _HookedStorage.on_open = _HookedStorage.on_open, None
            hook()
        return handle


@pytest.fixture
def hooked_storage(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": f"{__name__}._HookedStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    _HookedStorage.on_open, _HookedStorage.fail_open = None, False
    yield tmp_path
    _HookedStorage.on_open, _HookedStorage.fail_open = None, False


def _stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_join_that_fails_reports_the_earlier_offset_and_the_resent_piece_finishes_it(official, draft, hooked_storage):
    """The storage fails while the last PATCH joins the pieces (500). HEAD then tells the earlier offset, not the
    length: tus-js-client, retrying by itself, sends the last piece again (it would take an upload at its full
    length for finished, and the file would never be joined). The resent piece finishes it: one file, whole."""
    client = _client(official)
    data = os.urandom(300_000)
    location = _create(client, draft, "대기질.csv", len(data))
    assert _patch(client, location, 0, data[:100_000]).status_code == 204

    _HookedStorage.fail_open = True
    assert _patch(client, location, 100_000, data[100_000:]).status_code == 500
    head = client.head(location, headers=TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == "100000", head.headers
    upload = Upload.objects.get()
    assert upload.state == Upload.State.UPLOADING and upload.lease is None and not DataFile.objects.exists()
    # Nothing of the failed join is left but the pieces themselves.
    assert all("staging" in p.parts for p in _stored_files(hooked_storage))

    resent = _patch(client, location, 100_000, data[100_000:])
    assert resent.status_code == 204 and resent["Upload-Offset"] == str(len(data))
    datafile = DataFile.objects.get()
    assert resent["Data-File-Id"] == str(datafile.pk)
    assert datafile.sha256 == hashlib.sha256(data).hexdigest()
    assert _stored_files(hooked_storage) == [Path(datafile.file.path)]  # the pieces went with the commit
    head = client.head(location, headers=TUS)
    assert head["Upload-Offset"] == str(len(data)) and head["Data-File-Id"] == str(datafile.pk)


def test_a_retry_racing_the_completion_is_told_409_or_204_never_500(official, draft, hooked_storage):
    """While the last PATCH joins the pieces, a retry of it arrives (an empty PATCH at the end, as a client that
    lost the answer sends): it is refused with 409, the original finishes (204 with the final offset), and the
    retries after it are answered as tus expects (204 at the end, 409 anywhere else). One file, whole."""
    client, other = _client(official), _client(official)
    data = os.urandom(300_000)
    location = _create(client, draft, "대기질.csv", len(data))
    assert _patch(client, location, 0, data[:100_000]).status_code == 204
    racing = {}

    def retry():
        try:
            racing["empty"] = _patch(other, location, len(data), b"").status_code
            racing["resent"] = _patch(other, location, 100_000, data[100_000:]).status_code
        finally:
            connection.close()

    def race():
        thread = threading.Thread(target=retry)
        thread.start()
        thread.join(60)

    _HookedStorage.on_open = race
    original = _patch(client, location, 100_000, data[100_000:])
    assert original.status_code == 204 and original["Upload-Offset"] == str(len(data)), original.content
    assert racing == {"empty": 409, "resent": 409}, racing

    after = _patch(other, location, len(data), b"")
    assert after.status_code == 204 and after["Upload-Offset"] == str(len(data))
    assert _patch(other, location, 100_000, data[100_000:]).status_code == 409
    datafile = DataFile.objects.get()
    assert datafile.sha256 == hashlib.sha256(data).hexdigest()
    assert _stored_files(hooked_storage) == [Path(datafile.file.path)]


def test_an_upload_whose_join_failed_and_whose_client_went_away_is_joined_by_the_sweep(official, draft, hooked_storage):
    """The last PATCH's join fails and the browser is closed before it sends the piece again: the beat's sweep
    joins the pieces (all the bytes are there), once; a second run finds nothing to do."""
    from catalog import services

    client = _client(official)
    data = os.urandom(200_000)
    location = _create(client, draft, "대기질.csv", len(data))
    assert _patch(client, location, 0, data[:50_000]).status_code == 204
    _HookedStorage.fail_open = True
    assert _patch(client, location, 50_000, data[50_000:]).status_code == 500
    assert not DataFile.objects.exists()

    assert services.uploads_complete_stranded() == 0  # not yet: the client's own retry goes first
    assert services.uploads_complete_stranded(idle_seconds=0) == 1
    upload = Upload.objects.get()
    assert upload.state == Upload.State.COMPLETE and upload.offset == len(data)
    assert upload.datafile.sha256 == hashlib.sha256(data).hexdigest()
    assert _stored_files(hooked_storage) == [Path(upload.datafile.file.path)]
    assert services.uploads_complete_stranded(idle_seconds=0) == 0
    head = client.head(location, headers=TUS)
    assert head["Upload-Offset"] == str(len(data)) and head["Data-File-Id"] == str(upload.datafile_id)


def test_a_web_process_killed_mid_patch_leaves_a_spool_file_the_next_patch_sweeps(
    official, draft, s3_storage, settings, tmp_path
):
    """On S3 a PATCH's bytes spool in the node's UPLOAD_STAGING_DIR. A web process killed mid-PATCH leaves its
    spool file there; the node's next PATCH sweeps the stale ones (only files named as spool files, only old
    ones): a fresh spool of a request in progress and a file of anyone else stay."""
    import uuid

    from catalog import services

    spool = tmp_path / "spool"
    spool.mkdir()
    settings.UPLOAD_STAGING_DIR = spool
    upload = services.upload_create(actor=official, version=draft, filename="대기질.csv", length=10)
    dead = spool / f".{upload.pk}-{uuid.uuid4().hex}-k1ll3d_x.spool"
    live = spool / f".{upload.pk}-{uuid.uuid4().hex}-5t1ll0n_.spool"
    foreign = spool / "notes.spool"
    for path in (dead, live, foreign):
        path.write_bytes(b"x" * 1000)
    old = time.time() - 24 * 3600  # a day: stale by any measure
    for path in (dead, foreign):
        os.utime(path, (old, old))

    services.upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(b"0123"))
    assert sorted(p.name for p in spool.iterdir()) == sorted([live.name, foreign.name])
    assert services.uploads.spool_sweep(spool, older_than=0) == 1  # the live one, once it is old: by name only
    assert sorted(p.name for p in spool.iterdir()) == [foreign.name]
