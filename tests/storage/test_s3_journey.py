"""The whole product on S3 (moto's standalone server, tests/s3.py; no stub): a publisher uploads a CSV and an
XLSX through the tus endpoint, the real Celery worker checks them reading from the bucket, an admin publishes,
a buyer takes the free offer, the worker builds the package into the bucket, and the download link redirects to
a presigned URL whose bytes (fetched from the S3 server over HTTP) are the package's. No object is public."""

import base64
import hashlib
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import DataFile, DatasetVersion, DerivedFile, Licence, Theme
from marketplace.storage_config import PRESIGNED_URL_SECONDS
from tests.catalog.workbooks import one_sheet_workbook
from tests.s3 import s3_client, s3_server, s3_storage  # noqa: F401
from tests.transactions.conftest import offer_of, place_order
from transactions.delivery import downloads, services
from transactions.models import Package

TUS = {"Tus-Resumable": "1.0.0"}
CSV = ("측정소명,측정일시,미세먼지\n" + "".join(f"정왕동,2024-06-01 {h:02d}:00,{20 + h}\n" for h in range(24))).encode()


def tus_upload(client, version, name: str, data: bytes, piece: int = 40_000) -> int:
    """Create a tus upload and send it in pieces (as a browser after dropped connections); the DataFile's id."""
    meta = ",".join(
        f"{k} {base64.b64encode(str(v).encode()).decode()}"
        for k, v in {"filename": name, "version": version.pk}.items()
    )
    created = client.post(
        reverse("catalog:upload_create"), headers={**TUS, "Upload-Length": str(len(data)), "Upload-Metadata": meta}
    )
    assert created.status_code == 201, created.content
    location = created["Location"]
    for offset in range(0, len(data), piece):
        response = client.generic(
            "PATCH",
            location,
            data=data[offset : offset + piece],
            content_type="application/offset+octet-stream",
            headers={**TUS, "Upload-Offset": str(offset)},
        )
        assert response.status_code == 204, response.content
    return int(response["Data-File-Id"])


def wait_for(predicate, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


def keys(endpoint: str, bucket: str) -> set[str]:
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


def http_get(url: str):
    """(status, headers (case-insensitive), body) of a plain GET, as a browser following the redirect sends it."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


@pytest.mark.django_db(transaction=True)
def test_upload_check_publish_buy_package_download_on_s3(
    s3_storage,
    s3_server,
    celery_worker,
    official,
    admin_user,
    buyer,
    reference_data,  # noqa: F811
):
    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="시흥시 대기질 측정 자료",
        title_en="Siheung air quality",
        description_ko="정왕동 측정소의 시간별 미세먼지 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    publisher = Client()
    publisher.force_login(official)
    xlsx = one_sheet_workbook()
    ids = [tus_upload(publisher, version, "대기질.csv", CSV), tus_upload(publisher, version, "주차장.xlsx", xlsx)]

    # The uploaded bytes are objects of the bucket, and the worker's checks read them from there.
    wait_for(lambda: all(f.is_checked for f in DataFile.objects.filter(pk__in=ids)), "the checks")
    files = list(DataFile.objects.filter(pk__in=ids).order_by("pk"))
    assert [(f.check_state, f.row_count) for f in files] == [("passed", 24), ("passed", 3)], [
        f.check_messages for f in files
    ]
    stored = keys(s3_server, s3_storage)
    assert {f.file.name for f in files} <= stored
    for f, data in zip(files, (CSV, xlsx), strict=True):
        body = s3_client(s3_server).get_object(Bucket=s3_storage, Key=f.file.name)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == f.sha256 == hashlib.sha256(data).hexdigest()

    catalog_services.offer_create(actor=official, dataset=version.dataset, kind="free")
    version.refresh_from_db()
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin_user, version=version)
    assert DatasetVersion.objects.get(pk=version.pk).state == DatasetVersion.State.PUBLISHED

    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = wait_for(
        lambda: Package.objects.filter(entitlement__order_item__order=order, state="ready").first(), "the package"
    )
    assert package.file.name in keys(s3_server, s3_storage)
    # The copies every package carries were made into the bucket too (a CSV's Excel copy at least).
    copies = DerivedFile.objects.filter(datafile__version=version, built_at__isnull=False).exclude(file="")
    assert copies and {c.file.name for c in copies} <= keys(s3_server, s3_storage)

    shopper = Client()
    shopper.force_login(buyer)
    response = shopper.post(reverse("transactions:package_link", args=[package.pk]))
    assert response.status_code == 303
    response = shopper.get(response["Location"])
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{s3_server}/{s3_storage}/")
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == [str(PRESIGNED_URL_SECONDS)]
    status, headers, body = http_get(location)
    assert status == 200
    assert hashlib.sha256(body).hexdigest() == package.sha256 and len(body) == package.size
    filename, fallback = downloads.download_names(package)
    assert headers["Content-Disposition"] == downloads.content_disposition(filename, fallback)
    assert f"filename*=UTF-8''{quote('시흥시 대기질 측정 자료 v1.zip', safe='')}" in headers["Content-Disposition"]
    assert headers["Content-Type"] == "application/zip", dict(headers)

    # Nothing in the bucket answers without a signature.
    for key in keys(s3_server, s3_storage):
        assert http_get(f"{s3_server}/{s3_storage}/{quote(key)}")[0] == 403, key
    assert services.download_link(user=buyer, package=package)  # (the link itself still works for the buyer)
