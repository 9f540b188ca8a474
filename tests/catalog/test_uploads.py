"""The tus endpoint: create, append in pieces (as after a dropped connection), resume, finish."""

import base64
import hashlib
import os

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from catalog.models import DataFile, DatasetVersion, Upload
from tests.s3 import s3_server, s3_storage  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

TUS = {"Tus-Resumable": "1.0.0"}


def _meta(**values):
    return ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in values.items())


def _create(client, version, name, length):
    return client.post(
        reverse("catalog:upload_create"),
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": _meta(filename=name, version=version.pk)},
    )


def _patch(client, location, offset, body):
    return client.generic(
        "PATCH",
        location,
        data=body,
        content_type="application/offset+octet-stream",
        headers={**TUS, "Upload-Offset": str(offset)},
    )


def test_resumed_upload_gives_the_same_sha256(login, official, draft, django_capture_on_commit_callbacks):
    client = login(official)
    data = "측정소명,측정일시,미세먼지\n".encode("cp949") + os.urandom(300_000)
    created = _create(client, draft, "대기질.csv", len(data))
    assert created.status_code == 201 and created["Tus-Resumable"] == "1.0.0"
    location = created["Location"]

    # The connection drops after the first piece: the server kept it, HEAD says where to go on.
    assert _patch(client, location, 0, data[:100_000]).status_code == 204
    head = client.head(location, headers=TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == "100000" and head["Upload-Length"] == str(len(data))
    # A stale client repeating the first piece is told the real offset (409), nothing is duplicated.
    assert _patch(client, location, 0, data[:100_000]).status_code == 409

    with django_capture_on_commit_callbacks() as callbacks:
        response = _patch(client, location, 100_000, data[100_000:])
    assert response.status_code == 204 and response["Upload-Offset"] == str(len(data))
    datafile = DataFile.objects.get()
    assert datafile.sha256 == hashlib.sha256(data).hexdigest()
    assert datafile.size == len(data) and datafile.format == "csv" and datafile.original_name == "대기질.csv"
    with datafile.file.open("rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == hashlib.sha256(data).hexdigest()
    assert Upload.objects.get().state == Upload.State.COMPLETE
    draft.refresh_from_db()
    assert draft.state == DatasetVersion.State.CHECKING
    assert callbacks  # staging clean-up and the check task run after commit (the worker tests run that task)
    # The file lives in private storage, not under a public URL.
    assert not datafile.file.name.startswith("/") and "static" not in datafile.file.path


def test_upload_refusals(login, official, draft, settings):
    client = login(official)
    assert _create(client, draft, "virus.exe", 10).status_code == 400
    settings.UPLOAD_MAX_BYTES = 1000
    too_big = _create(client, draft, "big.csv", 1001)
    assert too_big.status_code == 413
    settings.UPLOAD_MAX_BYTES = 10**9
    location = _create(client, draft, "a.csv", 10)["Location"]
    wrong_type = client.generic(
        "PATCH", location, data=b"x", content_type="text/plain", headers={**TUS, "Upload-Offset": "0"}
    )
    assert wrong_type.status_code == 415
    assert client.post(reverse("catalog:upload_create"), headers={"Upload-Length": "10"}).status_code == 412


def test_other_organizations_cannot_upload_or_resume(login, official, draft, buyer):
    location = _create(login(official), draft, "a.csv", 10)["Location"]
    other = login(buyer)
    assert _create(other, draft, "b.csv", 10).status_code == 403
    assert other.head(location, headers=TUS).status_code == 404  # someone else's upload: not even its existence
    assert _patch(other, location, 0, b"0123456789").status_code == 404


def test_cancelled_upload_is_gone(login, official, draft):
    client = login(official)
    location = _create(client, draft, "a.csv", 10)["Location"]
    assert client.delete(location, headers=TUS).status_code == 204
    assert client.head(location, headers=TUS).status_code == 410
    assert _patch(client, location, 0, b"0123456789").status_code == 410


def test_a_long_korean_file_name_is_stored_under_a_name_of_our_own(login, official, draft):
    client = login(official)
    name = "시흥시" * 40 + ".csv"  # 360 bytes in UTF-8: longer than a file system allows
    data = b"a,b\n1,2\n"
    location = _create(client, draft, name, len(data))["Location"]
    assert _patch(client, location, 0, data).status_code == 204
    datafile = DataFile.objects.get()
    assert datafile.original_name == name[:255]
    assert datafile.file.name.endswith(".csv") and "시흥시" not in datafile.file.name


def test_a_removed_member_cannot_finish_an_upload(login, official, draft):
    from accounts.models import Membership
    from tests.conftest import make_user

    colleague = make_user("colleague@siheung.test")
    Membership.objects.create(user=colleague, organization=draft.dataset.publisher, role="publisher")
    client = login(colleague)
    location = _create(client, draft, "a.csv", 10)["Location"]
    Membership.objects.filter(user=colleague).delete()
    assert _patch(client, location, 0, b"0123456789").status_code == 403
    assert not DataFile.objects.exists()


def test_an_upload_into_a_version_submitted_meanwhile_is_closed(login, official, draft):
    client = login(official)
    location = _create(client, draft, "a.csv", 10)["Location"]
    DatasetVersion.objects.filter(pk=draft.pk).update(state=DatasetVersion.State.SUBMITTED)
    response = _patch(client, location, 0, b"0123456789")
    assert response.status_code == 400
    assert client.head(location, headers=TUS).status_code == 410  # the browser is told, not shown "done"
    assert not DataFile.objects.exists()


def test_abandoned_uploads_are_cancelled_and_their_bytes_freed(
    login, official, draft, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from catalog import services

    client = login(official)
    stale = _create(client, draft, "old.csv", 10)["Location"]
    fresh = _create(client, draft, "new.csv", 10)["Location"]
    _patch(client, stale, 0, b"01234")
    old = Upload.objects.get(filename="old.csv")
    # The bytes wait as a chunk in the shared storage, listed on the upload.
    (chunk,) = old.chunks.all()
    assert (chunk.offset, chunk.size) == (0, 5) and default_storage.exists(chunk.name)
    assert chunk.name.startswith(services.uploads.staging_folder(old.pk) + "/")
    Upload.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=8))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.uploads_expire(older_than_days=7) == 1
    assert Upload.objects.get(pk=old.pk).state == Upload.State.ABORTED and not default_storage.exists(chunk.name)
    assert not old.chunks.exists()
    assert Upload.objects.get(filename="new.csv").state == Upload.State.UPLOADING
    assert client.head(stale, headers=TUS).status_code == 410 and client.head(fresh, headers=TUS).status_code == 200


def test_the_tus_endpoint_requires_the_csrf_token(official, draft):
    """The browser sends X-CSRFToken with every tus request; a cross-site request without it is refused."""
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(official)
    client.get(reverse("catalog:version", args=[draft.pk]))  # sets the csrftoken cookie, as the page does
    token = client.cookies["csrftoken"].value
    headers = {**TUS, "Upload-Length": "10", "Upload-Metadata": _meta(filename="a.csv", version=draft.pk)}
    assert client.post(reverse("catalog:upload_create"), headers=headers).status_code == 403
    created = client.post(reverse("catalog:upload_create"), headers={**headers, "X-CSRFToken": token})
    assert created.status_code == 201
    location = created["Location"]
    body = {"data": b"0123456789", "content_type": "application/offset+octet-stream"}
    assert client.generic("PATCH", location, headers={**TUS, "Upload-Offset": "0"}, **body).status_code == 403
    ok = client.generic("PATCH", location, headers={**TUS, "Upload-Offset": "0", "X-CSRFToken": token}, **body)
    assert ok.status_code == 204


def test_on_s3_the_pieces_are_objects_joined_into_the_file(
    login,
    official,
    draft,
    s3_storage,
    django_capture_on_commit_callbacks,  # noqa: F811
):
    """On object storage each PATCH is one staged object; the last joins them into the stored file, hashed on the
    way, and the staged objects go."""
    from tests.s3 import s3_client

    client = login(official)
    data = "측정소명,측정일시,미세먼지\n".encode() + os.urandom(2_500_000)
    location = _create(client, draft, "대기질.csv", len(data))["Location"]
    assert _patch(client, location, 0, data[:1_200_000]).status_code == 204
    upload = Upload.objects.get()
    (chunk,) = upload.chunks.all()
    endpoint = default_storage.connection.meta.client.meta.endpoint_url
    bucket = s3_client(endpoint).get_object(Bucket=s3_storage, Key=chunk.name)
    assert bucket["ContentLength"] == 1_200_000
    with django_capture_on_commit_callbacks(execute=True):
        response = _patch(client, location, 1_200_000, data[1_200_000:])
    assert response.status_code == 204, response.content.decode()
    datafile = DataFile.objects.get()
    assert datafile.sha256 == hashlib.sha256(data).hexdigest() and datafile.size == len(data)
    with default_storage.open(datafile.file.name, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == datafile.sha256
    listed = s3_client(endpoint).list_objects_v2(Bucket=s3_storage, Prefix="staging/")
    assert listed.get("KeyCount") == 0 or not listed.get("Contents")
