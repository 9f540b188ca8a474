"""Every format's checks, the ZIP's members, a package of a file larger than django-storages' memory buffer, the
removal and replacement of files, and the query store: all against a real S3 protocol server (moto's, tests/s3.py).
The checks and the package builds run in-process with the worker's own task code."""

import hashlib
import io
import random
import string
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import DataFile, Licence, Theme
from catalog.querystore.models import QueryStore
from tests.api.data_world import (  # noqa: F401 (fresh_quotas: a fixture)
    SAMPLE_ROWS,
    fresh_quotas,
    publish_sensors,
    sensor_csv,
    sensor_rows,
    zones_geojson,
)
from tests.catalog.test_dataset_page import run_checks, upload
from tests.catalog.workbooks import one_sheet_workbook
from tests.s3 import s3_client, s3_server, s3_storage  # noqa: F401
from tests.transactions.conftest import offer_of, place_order
from transactions.models import Package
from transactions.tasks import build_package

pytestmark = pytest.mark.django_db


def new_version(official, title_ko="시흥시 측정 자료"):
    return catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title_ko,
        title_en="Siheung readings",
        description_ko="측정소의 시간별 측정값입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )


def keys(endpoint: str, bucket: str) -> set[str]:
    """The stored files of the bucket. An upload's staged pieces (staging/uploads/) are deleted after the commit,
    which a test in one rolled-back transaction never reaches; tests/storage/test_multinode.py sees them go."""
    pages = s3_client(endpoint).get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].startswith("staging/")}


def object_bytes(endpoint: str, bucket: str, key: str) -> bytes:
    return s3_client(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()


def archive() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("측정값.csv", sensor_csv())
        zf.writestr("구역.geojson", zones_geojson())
    return buffer.getvalue()


def test_every_format_is_checked_from_the_bucket(s3_storage, s3_server, official, reference_data):  # noqa: F811
    version = new_version(official)
    files = {
        "sensors.csv": sensor_csv(),
        "주차장.xlsx": one_sheet_workbook(),
        "zones.geojson": zones_geojson(),
        "묶음.zip": archive(),
    }
    for name, data in files.items():
        upload(official, version, name, data)
    checked = {f.original_name: f for f in DataFile.objects.filter(version=version)}
    assert {name: f.check_state for name, f in checked.items()} == {
        "sensors.csv": "passed",
        "주차장.xlsx": "passed",
        "zones.geojson": "passed",
        "묶음.zip": "passed",
        "측정값.csv": "passed",
        "구역.geojson": "passed",
    }, {name: f.check_messages for name, f in checked.items() if f.check_state != "passed"}
    assert (checked["sensors.csv"].row_count, checked["주차장.xlsx"].row_count) == (60, 3)
    assert checked["zones.geojson"].geo["bbox_wgs84"] and checked["구역.geojson"].geo["bbox_wgs84"]
    # Uploaded files and the ZIP's members are objects of the bucket, byte for byte.
    assert {f.file.name for f in checked.values()} == keys(s3_server, s3_storage)
    members = {"측정값.csv": sensor_csv(), "구역.geojson": zones_geojson()}
    for name, data in {**files, **members}.items():
        assert object_bytes(s3_server, s3_storage, checked[name].file.name) == data, name
        assert checked[name].sha256 == hashlib.sha256(data).hexdigest()


def big_csv(size: int) -> bytes:
    """A CSV of about `size` bytes (hourly readings with an id of letters, so no number looks like an RRN)."""
    rng = random.Random(7)
    rows, n = ["측정소명,측정일시,미세먼지,관측ID"], 0
    total = len(rows[0])
    while total < size:
        row = f"정왕동,2024-06-{1 + n % 28:02d} {n % 24:02d}:00,{n % 997},{''.join(rng.choices(string.ascii_letters, k=16))}"
        rows.append(row)
        total += len(row.encode()) + 1
        n += 1
    return ("\n".join(rows) + "\n").encode()


def test_checks_and_packages_read_the_bucket_in_a_stream(
    s3_storage,
    s3_server,
    official,
    admin_user,
    buyer,
    reference_data,
    settings,
    tmp_path,  # noqa: F811
):
    """django-storages' own file object downloads a whole object into a temporary file (FILE_UPLOAD_TEMP_DIR beyond
    its 8 MiB memory buffer) before the first read: a 1 GB file would wait for 1 GB and need 1 GB of /tmp. The checks
    and the package read the GET body as it arrives; with no usable temporary folder at all they still work."""
    data = big_csv(10 * 1024**2)
    version = new_version(official)
    upload(official, version, "대기질.csv", data, checks=lambda version: None)  # (the upload's own path is not this)
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "no-such-folder")
    run_checks(version)
    datafile = DataFile.objects.get(version=version)
    assert (datafile.check_state, datafile.row_count) == ("passed", data.count(b"\n") - 1), datafile.check_messages
    catalog_services.offer_create(actor=official, dataset=version.dataset, kind="free")
    version.refresh_from_db()
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin_user, version=version)
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package.refresh_from_db()
    body = object_bytes(s3_server, s3_storage, package.file.name)
    assert hashlib.sha256(body).hexdigest() == package.sha256
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        originals = [n for n in zf.namelist() if n.endswith("대기질.csv")]
        assert originals and zf.read(originals[0]) == data


def test_removing_or_replacing_a_file_deletes_its_object(
    s3_storage,
    s3_server,
    official,
    reference_data,
    django_capture_on_commit_callbacks,  # noqa: F811
):
    version = new_version(official)
    upload(official, version, "sensors.csv", sensor_csv())
    upload(official, version, "묶음.zip", archive())
    first = DataFile.objects.get(version=version, original_name="sensors.csv")
    bundle = DataFile.objects.get(version=version, original_name="묶음.zip")
    member_names = set(bundle.members.values_list("file", flat=True))
    assert len(member_names) == 2 and {first.file.name, bundle.file.name, *member_names} == keys(s3_server, s3_storage)

    # Replace: the new file's object arrives, the old one's goes.
    replacement = sensor_csv().replace(b"ST01", b"ST09")
    up = catalog_services.upload_create(
        actor=official, version=version, filename="sensors.csv", length=len(replacement), replaces=first
    )
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.upload_append(actor=official, upload=up, offset=0, stream=io.BytesIO(replacement))
    second = DataFile.objects.get(version=version, original_name="sensors.csv")
    assert second.pk != first.pk
    assert first.file.name not in keys(s3_server, s3_storage)
    assert object_bytes(s3_server, s3_storage, second.file.name) == replacement

    # Remove the ZIP: its object and its members' objects go.
    with django_capture_on_commit_callbacks(execute=True):
        catalog_services.datafile_remove(actor=official, datafile=bundle)
    assert keys(s3_server, s3_storage) == {second.file.name}


@pytest.mark.usefixtures("fresh_quotas")
def test_the_data_api_queries_a_store_kept_in_the_bucket(
    s3_storage,
    s3_server,
    official,
    admin_user,
    reference_data,
    api,
    settings,
    tmp_path,  # noqa: F811
):
    settings.QUERYSTORE_CACHE_DIR = tmp_path / "querystore-cache"  # this node's copy, downloaded from the bucket
    version = publish_sensors(official, admin_user, geojson=False)
    stores = list(QueryStore.objects.filter(version=version, state="ready"))
    assert stores and {s.file.name for s in stores} <= keys(s3_server, s3_storage)
    response = api.post(
        reverse("api-data-sql", args=(version.dataset.slug,)),
        {"sql": "SELECT count(*) AS n, count(DISTINCT station) AS s FROM sensors", "sample": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    sample = sensor_rows()[:SAMPLE_ROWS]
    assert response.json()["rows"] == [[len(sample), len({r["station"] for r in sample})]]
    cached = list(Path(settings.QUERYSTORE_CACHE_DIR).glob("*.duckdb"))
    assert [p.name for p in cached] == [f"{s.sha256}.duckdb" for s in stores if s.variant == "sample"]
