"""Resumable uploads across nodes (issue 18): the lease on the upload row, the chunks in the shared storage,
and what happens when requests race for one upload."""

import hashlib
import io
import os
import threading
import time

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from catalog import services
from catalog.models import Upload
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
