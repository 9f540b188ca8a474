"""Packages: a real worker builds a verifiable ZIP (manifest, Data Package, licence, README) for a
real published dataset; the state machine; retries and visible failures; one build per package."""

import hashlib
import io
import json
import shutil
import subprocess
import threading
import time
import zipfile
from pathlib import Path

import pytest
from django.core import mail
from django.core.files import storage
from django.db import connection
from django.urls import reverse

from catalog import services as catalog_services
from catalog.models import DataFile, DatasetVersion, Licence, Theme
from core.errors import IllegalTransition, NotAllowed
from core.transitions import transition
from tests.transactions.conftest import offer_of, place_order
from transactions.delivery import packaging, selectors, services
from transactions.models import Order, Package
from transactions.services import orders as order_services
from transactions.tasks import build_package

# (`storage.default_storage`, never `default_storage` imported here: pytest inspects a test module's
# globals while collecting, which would set up the lazy storage before conftest points it to a temp folder.)

K = Package.State

UTF8_CSV = "측정소명,측정일시,미세먼지\n" + "".join(f"정왕동,2024-06-01 {h:02d}:00,{20 + h}\n" for h in range(24))
# CP949 (Korean Excel's "CSV"), CRLF, with syllables that exist only in CP949 (not EUC-KR).
CP949_TEXT = "지점명,비고,값\r\n" + "".join(f"대야동,똠햏 점검 {i},{i}\r\n" for i in range(50))


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def _check_all(version, timeout=60):
    """Run the automatic checks in-process until every file (and every ZIP member) is checked; a
    running worker may take some of them, which is fine (checks are claimed by compare-and-set)."""
    from catalog.tasks import datafile_check_task

    deadline = time.monotonic() + timeout
    while True:
        pending = list(DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING))
        for datafile in pending:
            datafile_check_task.apply(args=[datafile.pk])
        if not DataFile.objects.filter(version=version, check_state__in=["pending", "running"]).exists():
            return
        assert time.monotonic() < deadline, "checks did not finish"
        time.sleep(0.2)


def upload(official, version, name: str, data: bytes):
    up = catalog_services.upload_create(actor=official, version=version, filename=name, length=len(data))
    catalog_services.upload_append(actor=official, upload=up, offset=0, stream=io.BytesIO(data))


def publish_files(official, admin, files, *, offers=({"kind": "free"},), title_ko="시흥시 대기질 측정 자료"):
    """A dataset published through the real services with several real files, checked for real."""
    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title_ko,
        title_en="Siheung air quality",
        description_ko="정왕동 측정소의 시간별 미세먼지 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="미세먼지, 대기질",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
        spatial_area="경기도 시흥시 정왕동",
    )
    for name, data in files:
        upload(official, version, name, data)
    _check_all(version)
    for offer in offers:
        catalog_services.offer_create(actor=official, dataset=version.dataset, **offer)
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin, version=version)
    return DatasetVersion.objects.get(pk=version.pk)


FILES = [
    ("대기질.csv", UTF8_CSV.encode("utf-8")),
    ("점검기록.csv", CP949_TEXT.encode("cp949")),
    (
        "측정소.zip",
        _zip({"측정소/목록.csv": "측정소,위도,경도\n정왕동,37.34,126.73\n".encode(), "__MACOSX/._목록.csv": b"junk"}),
    ),
]


def wait_for(predicate, timeout=60, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


def package_of(order) -> Package:
    return Package.objects.get(entitlement__order_item__order=order)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_builds_a_package_whose_manifest_and_data_package_verify(
    celery_worker, official, buyer, admin_user, reference_data, tmp_path
):
    version = publish_files(official, admin_user, FILES)
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID
    package = wait_for(
        lambda: Package.objects.filter(entitlement__order_item__order=order, state__in=["ready", "failed"]).first()
    )
    assert package.state == K.READY, package.error
    order.refresh_from_db()
    assert order.state == Order.State.FULFILLED  # its only package is ready

    assert package.progress == 100 and package.attempts == 1 and package.expires_at > package.finished_at
    with storage.default_storage.open(package.file.name, "rb") as fh:
        assert packaging.sha256_of(fh) == package.sha256
    assert storage.default_storage.size(package.file.name) == package.size
    local = Path(storage.default_storage.path(package.file.name))
    result = packaging.verify_package(local)
    assert set(result["names"]) == {
        "data/대기질.csv",
        "data/점검기록.csv",
        "data/측정소/목록.csv",
        "data/excel/대기질.csv",
        "data/excel/점검기록.csv",
        "data/excel/측정소/목록.csv",
        "datapackage.json",
        "README.md",
        "LICENSE.txt",
        "MANIFEST-SHA256",
    }  # the archive's member, not the archive; no __MACOSX junk
    assert result["manifest"] == {k: v for k, v in package.manifest.items() if k != "MANIFEST-SHA256"}

    # What a buyer does: unzip, `sha256sum -c`, `frictionless validate`.
    with zipfile.ZipFile(local) as zf:
        zf.extractall(tmp_path)
        infos = {i.filename: i for i in zf.infolist()}
    assert infos["data/대기질.csv"].compress_type == zipfile.ZIP_DEFLATED
    check = subprocess.run(["sha256sum", "-c", "MANIFEST-SHA256"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 9

    from frictionless import Package as DataPackage

    report = DataPackage(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    descriptor = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    resources = {r["path"]: r for r in descriptor["resources"]}
    assert resources["data/대기질.csv"]["schema"]["fields"][1] == {
        "name": "측정일시",
        "type": "datetime",
        "format": "%Y-%m-%d %H:%M",
    }
    assert resources["data/점검기록.csv"]["encoding"] == "cp949"
    assert resources["data/excel/점검기록.csv"]["encoding"] == "utf-8-sig"
    assert resources["data/excel/점검기록.csv"]["derivedFrom"] == "data/점검기록.csv"
    assert descriptor["licenses"][0]["name"] == "kogl-1" and descriptor["version"] == "1"
    assert descriptor["contributors"][0]["title"] == official.active_organization.name_ko

    # Both uploads are shipped byte for byte; their Excel copies are the same text in UTF-8 with a BOM.
    assert (tmp_path / "data/점검기록.csv").read_bytes() == CP949_TEXT.encode("cp949")
    assert (tmp_path / "data/대기질.csv").read_bytes() == UTF8_CSV.encode("utf-8")
    assert (tmp_path / "data/excel/점검기록.csv").read_bytes() == b"\xef\xbb\xbf" + CP949_TEXT.encode()  # CRLF kept
    assert (tmp_path / "data/excel/대기질.csv").read_bytes() == b"\xef\xbb\xbf" + UTF8_CSV.encode()
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "시흥시 대기질 측정 자료" in readme and order.number in readme
    assert "| `data/점검기록.csv` | CSV |" in readme and "| cp949 | 0 |" in readme
    assert buyer.active_organization.name_ko in readme and "경기도 시흥시 정왕동" in readme
    licence = (tmp_path / "LICENSE.txt").read_text(encoding="utf-8")
    kogl = Licence.objects.get(code="kogl-1")
    assert kogl.text_ko.strip()[:40] in licence and "[English]" in licence


@pytest.mark.django_db
def test_package_state_machine_refuses_illegal_moves(buyer, publish):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = package_of(order)
    assert package.state == K.QUEUED
    for illegal in (K.READY, K.FAILED):  # → expired is legal: its purchase ended before it was built
        with pytest.raises(IllegalTransition):
            transition(package, to=illegal, actor=None)
    claimed = services.package_claim(package_id=package.pk)
    assert claimed.state == K.BUILDING and claimed.attempts == 1
    assert services.package_claim(package_id=package.pk) is None  # already building
    services.package_build(package=claimed)
    claimed.refresh_from_db()
    assert claimed.state == K.READY
    for illegal in (K.BUILDING, K.QUEUED, K.FAILED):
        with pytest.raises(IllegalTransition):
            transition(claimed, to=illegal, actor=None)
    assert services.package_claim(package_id=package.pk) is None
    assert services.package_retry(actor=buyer, package=claimed).state == K.READY  # nothing to retry


@pytest.mark.django_db
def test_expired_packages_lose_their_file_and_can_be_rebuilt_by_a_buyer(
    buyer, outsider, publish, django_capture_on_commit_callbacks
):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = package_of(order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package.refresh_from_db()
    name = package.file.name
    assert storage.default_storage.exists(name)
    assert services.packages_expire() == 0  # not due yet
    Package.objects.filter(pk=package.pk).update(expires_at=package.finished_at)  # as if 30 days had passed
    with django_capture_on_commit_callbacks(execute=True):
        assert services.packages_expire() == 1
    assert not storage.default_storage.exists(name)
    package.refresh_from_db()
    assert package.state == K.EXPIRED and package.file.name == ""
    with pytest.raises(NotAllowed):
        services.package_retry(actor=outsider, package=package)
    services.package_retry(actor=buyer, package=package)
    package.refresh_from_db()
    assert package.state == K.QUEUED
    assert build_package.apply(args=[package.pk]).get() == "ready"


@pytest.mark.django_db(transaction=True)
def test_a_failing_build_is_retried_with_backoff_then_failed_visibly(
    celery_worker, official, buyer, admin_user, reference_data, settings, client, mailoutbox
):
    settings.PACKAGE_RETRY_DELAY_SECONDS = 1  # 1 s, 2 s, 4 s
    version = publish_files(official, admin_user, FILES[:1])
    organization = buyer.active_organization
    # Storage cannot take the package: where its folder must go, a file is in the way.
    blocker = Path(storage.default_storage.path(f"packages/{organization.pk}"))
    shutil.rmtree(blocker, ignore_errors=True)
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_bytes(b"not a folder")
    try:
        order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
        package = wait_for(
            lambda: Package.objects.filter(entitlement__order_item__order=order, state="failed").first(), timeout=90
        )
    finally:
        blocker.unlink()
    assert package.attempts == 4  # the first try and three retries
    korean, english, detail = package.error.splitlines()
    assert english == "The package could not be read from or written to storage."
    assert korean and detail.startswith("[detail] ") and "Error" in detail
    assert Order.objects.get(pk=order.pk).state == Order.State.PAID  # not fulfilled

    # The buyer sees the reason and a retry button on the order page's fragment.
    client.force_login(buyer)
    page = client.get(reverse("transactions:order_live", args=[order.number]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and f'id="retry-{package.pk}"' in html and "hx-trigger" not in html
    assert selectors.error_parts(package.error, "ko")[0] in html  # shown in the page's language (Korean first)
    # The admins see it on their page; both were e-mailed.
    client.force_login(admin_user)
    staff = client.get(reverse("delivery_staff:failed_packages"))
    assert staff.status_code == 200 and f'id="staff-retry-{package.pk}"' in staff.content.decode()
    recipients = {address for message in mailoutbox for address in message.to}
    assert buyer.email in recipients and admin_user.email in recipients

    # Once the cause is gone, the buyer builds it again and the order is delivered.
    client.force_login(buyer)
    response = client.post(reverse("transactions:package_retry", args=[package.pk]))
    assert response.status_code == 302 and response.url == reverse("transactions:order", args=[order.number])
    live = client.get(reverse("transactions:order_live", args=[order.number])).content.decode()
    assert 'hx-trigger="every 2s"' in live or Package.objects.get(pk=package.pk).state == "ready"
    wait_for(lambda: Package.objects.filter(pk=package.pk, state="ready").exists())
    assert Order.objects.get(pk=order.pk).state == Order.State.FULFILLED
    assert Package.objects.get(pk=package.pk).error == ""


@pytest.mark.django_db
def test_a_damaged_stored_file_fails_at_once_without_retries(buyer, publish):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = package_of(order)
    datafile = DataFile.objects.get(version=package.version)
    path = Path(storage.default_storage.path(datafile.file.name))
    path.write_bytes(path.read_bytes().replace("정왕동".encode(), "대야동".encode(), 1))
    assert build_package.apply(args=[package.pk]).get() == "failed"
    package.refresh_from_db()
    assert package.state == K.FAILED and package.attempts == 1
    assert "damaged" in selectors.error_parts(package.error, "en")[0]
    assert datafile.sha256 in package.error  # the detail names what was expected


@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_one_package_build_it_once(buyer, publish, parked_package_builds):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = package_of(order)
    barrier = threading.Barrier(4)
    results = []

    def work():
        try:
            barrier.wait()
            results.append(build_package.apply(args=[package.pk]).get())
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["not claimed", "not claimed", "not claimed", "ready"]
    package.refresh_from_db()
    assert package.state == K.READY and package.attempts == 1
    assert len(storage.default_storage.listdir(f"packages/{package.entitlement.organization_id}/{package.pk}")[1]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_subscription_receives_every_version_published_in_its_period(
    celery_worker, official, buyer, admin_user, reference_data
):
    version = publish_files(
        official,
        admin_user,
        FILES[:1],
        offers=(
            {
                "kind": "subscription",
                "price_krw": 90_000,
                "subscription_days": 30,
                "cost_basis": "월별 자료 가공·전송 비용",
            },
        ),
    )
    order = place_order(buyer, offer_of(version.dataset, "subscription"), method="bank_transfer")
    from django.db import transaction

    with transaction.atomic():
        order_services.order_mark_paid(order=Order.objects.select_for_update().get(pk=order.pk))
    first = wait_for(lambda: Package.objects.filter(entitlement__order_item__order=order, state="ready").first())
    assert first.version_id == version.pk
    wait_for(lambda: Order.objects.filter(pk=order.pk, state="fulfilled").exists())

    second = catalog_services.version_start_new(actor=official, dataset=version.dataset, change_note="7월 자료 추가")
    upload(official, second, "대기질.csv", (UTF8_CSV + "정왕동,2024-07-01 00:00,33\n").encode("utf-8"))
    _check_all(second)
    catalog_services.version_submit(actor=official, version=second, pii_justification="-")
    catalog_services.version_approve(actor=admin_user, version=second)
    newer = wait_for(
        lambda: Package.objects.filter(entitlement__order_item__order=order, version=second, state="ready").first()
    )
    assert newer.entitlement_id == first.entitlement_id
    names = packaging.verify_package(storage.default_storage.path(newer.file.name))["names"]
    assert "data/대기질.csv" in names
    # The subscriber was told that a new version is ready (the e-mail is a task of its own, queued after the package's
    # commit; the worker may still be loading the version's query stores).
    assert wait_for(lambda: any("7월 자료 추가" in m.body for m in mail.outbox))


@pytest.mark.django_db
def test_housekeeping_enqueues_a_package_whose_message_was_lost(buyer, publish, eager_celery, settings):
    """The broker was down when the order was paid: the package stays queued until the hourly
    housekeeping enqueues it again (and the claim keeps it to one build)."""
    from datetime import timedelta

    from django.utils import timezone

    from transactions.tasks import packages_housekeeping_task

    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")  # its on_commit never ran here
    package = package_of(order)
    quiet = {"recovered": 0, "expired": 0, "requeued": 0, "delivered": 0}
    assert packages_housekeeping_task.apply().get() == quiet  # too recent to be lost
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Package.objects.filter(pk=package.pk).update(created_at=an_hour_ago, enqueued_at=an_hour_ago)
    assert packages_housekeeping_task.apply().get() == {**quiet, "requeued": 1}
    package.refresh_from_db()
    assert package.state == K.READY and package.attempts == 1
    assert any(
        e["task"] == "transactions.tasks.packages_housekeeping_task" for e in settings.CELERY_BEAT_SCHEDULE.values()
    )


@pytest.mark.django_db
def test_a_stored_file_that_no_longer_decodes_fails_with_its_position(official, admin_user, buyer, reference_data):
    # The CP949 file, transcoded for its Excel copy. Its bytes change and so does the recorded SHA-256 (a
    # file whose encoding was recorded wrongly): the original is shipped, the Excel copy cannot be made.
    version = publish_files(official, admin_user, FILES[1:2])
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = package_of(order)
    datafile = DataFile.objects.get(version=version)
    path = Path(storage.default_storage.path(datafile.file.name))
    data = bytearray(path.read_bytes())
    data[40:42] = b"\xff\xfe"  # not CP949
    path.write_bytes(bytes(data))
    DataFile.objects.filter(pk=datafile.pk).update(sha256=hashlib.sha256(bytes(data)).hexdigest())
    assert build_package.apply(args=[package.pk]).get() == "failed"
    package.refresh_from_db()
    message = selectors.error_parts(package.error, "en")[0]
    assert "cannot be converted to UTF-8" in message and "position 4" in message and "cp949" in message
    assert not storage.default_storage.exists(services.storage_name(package))  # no half-written ZIP left
