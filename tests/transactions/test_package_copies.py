"""The copies a package carries next to the originals (catalog.derived) are made once per data file and
reused by every package; an Excel copy's header matches its own Table Schema; a CP949 JSON comes in
UTF-8 too; a package build that hangs while its worker lives ends on its time limit.

Issue 13: the Excel copy made every package build decode, scan and compress each CSV again (UTF-8
6.4 → 16.3 s per GB). Now a package writes the stored DEFLATE stream of the copy as it is.
"""

import hashlib
import json
import os
import struct
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files import storage
from django.urls import reverse

from accounts.models import Membership
from catalog import derived
from catalog import services as catalog_services
from catalog.models import DataFile, DerivedFile
from catalog.tasks import version_derived_files_task
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_packaging import publish_files
from transactions.delivery import packaging
from transactions.models import Package
from transactions.tasks import build_package

K = Package.State
BOM = b"\xef\xbb\xbf"
FORMULAS = "항목,값,숫자\n가,=1+1,-3.2\n나,+cmd,7\n다,@SUM(A1),+82\n".encode()


def _second_buyer():
    owner = make_user("owner2@company.test", name="박서준")
    org = make_org(owner, name_ko="(주)둘째데이터", name_en="Second Data", kind="consumer", brn="2208162517")
    user = make_user("buyer2@company.test", name="최유나")
    Membership.objects.create(user=user, organization=org, role=Membership.Role.BUYER)
    user.active_organization = org
    user.save(update_fields=["active_organization"])
    return user


def _raw_member(path: Path, name: str) -> tuple[zipfile.ZipInfo, bytes]:
    """A member's bytes as they sit in the ZIP (still compressed), after its local header."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    with open(path, "rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        return info, fh.read(info.compress_size)


def _build(order) -> Package:
    package = Package.objects.get(entitlement__order_item__order=order)
    build_package.apply(args=[package.pk])
    package.refresh_from_db()
    assert package.state == K.READY, package.error
    return package


@pytest.mark.django_db
def test_the_excel_copy_is_made_once_per_file_and_every_package_writes_it_as_stored(
    official, buyer, admin_user, reference_data, parked_package_builds, tmp_path
):
    version = publish_files(official, admin_user, [("수식.csv", FORMULAS)])
    datafile = DataFile.objects.get(version=version)
    assert not DerivedFile.objects.exists()  # the publication's task is parked: the first package makes it

    first = _build(place_order(buyer, offer_of(version.dataset, "free"), method="free"))
    copy = DerivedFile.objects.get(datafile=datafile, kind="excel")
    assert copy.ready and copy.formula_cells == 3 and not copy.same_as_original
    with copy.file.open("rb") as fh:
        stored = fh.read()
    assert len(stored) == copy.compressed_size and hashlib.sha256(stored).hexdigest() == copy.compressed_sha256
    made_at = copy.built_at

    second = _build(place_order(_second_buyer(), offer_of(version.dataset, "free"), method="free"))
    assert DerivedFile.objects.count() == 1 and DerivedFile.objects.get().built_at == made_at  # not made again
    for package in (first, second):
        local = Path(storage.default_storage.path(package.file.name))
        packaging.verify_package(local)
        # The member is the stored stream byte for byte (not compressed again), and it is the Excel copy.
        info, raw = _raw_member(local, "data/excel/수식.csv")
        assert raw == stored and copy.crc32 == info.CRC and info.file_size == copy.size
        with zipfile.ZipFile(local) as zf:
            text = zf.read("data/excel/수식.csv")
            assert zf.read("data/수식.csv") == FORMULAS  # the original, byte for byte
        assert text == BOM + "항목,값,숫자\n가,'=1+1,-3.2\n나,'+cmd,7\n다,'@SUM(A1),+82\n".encode()
        assert hashlib.sha256(text).hexdigest() == copy.sha256 == package.manifest["data/excel/수식.csv"]
        # `unzip -t` (Info-ZIP) reads the member as a standard DEFLATE entry too.
        check = os.popen(f"unzip -tq '{local}'").read()
        assert "No errors detected" in check, check


@pytest.mark.django_db
def test_the_publication_makes_the_copies_and_a_copy_whose_stream_is_damaged_is_made_again(
    official, buyer, admin_user, reference_data, parked_package_builds
):
    version = publish_files(official, admin_user, [("수식.csv", FORMULAS)])
    assert version_derived_files_task.apply(args=[version.pk]).get() == 1
    assert version_derived_files_task.apply(args=[version.pk]).get() == 1  # idempotent
    copy = DerivedFile.objects.get()
    assert copy.ready
    # Storage damaged the stored stream: the package's attempt fails as transient and forgets the copy, the
    # retry (run at once by apply()) makes it again, and the package is whole.
    damaged_name = copy.file.name
    path = Path(copy.file.path)
    path.write_bytes(b"x" + path.read_bytes()[1:])
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    build_package.apply(args=[package.pk])
    package.refresh_from_db()
    assert package.state == K.READY and package.attempts == 2, package.error
    packaging.verify_package(storage.default_storage.path(package.file.name))
    remade = DerivedFile.objects.get()
    assert remade.ready and remade.file.name != damaged_name
    assert DerivedFile.objects.get().ready


@pytest.mark.django_db
def test_a_utf8_file_with_a_bom_and_no_formula_cell_is_its_own_excel_copy(
    official, buyer, admin_user, reference_data, parked_package_builds, client, tmp_path
):
    plain = BOM + "측정소,미세먼지,기온\n정왕동,31,-3.2\n대야동,28,1.5\n".encode()
    version = publish_files(official, admin_user, [("깨끗한.csv", plain), ("수식.csv", FORMULAS)])
    version_derived_files_task.apply(args=[version.pk])
    assert DerivedFile.objects.get(datafile__original_name="깨끗한.csv").same_as_original
    assert not DerivedFile.objects.get(datafile__original_name="깨끗한.csv").file
    package = _build(place_order(buyer, offer_of(version.dataset, "free"), method="free"))
    local = storage.default_storage.path(package.file.name)
    descriptor = packaging.verify_package(local)["datapackage"]
    with zipfile.ZipFile(local) as zf:
        names = zf.namelist()
        readme = zf.read("README.md").decode()
        assert zf.read("data/깨끗한.csv") == plain
    assert "data/excel/깨끗한.csv" not in names and "data/excel/수식.csv" in names  # not shipped twice
    assert "`data/깨끗한.csv`: UTF-8(BOM 포함)이고 수식처럼 보이는 셀이 없어" in readme
    assert "open this file in Excel as it is" in readme
    line = next(x for x in readme.splitlines() if x.startswith("| `data/깨끗한.csv`"))
    assert "| utf-8-sig | 0 |" in line  # counted: no formula-looking cell
    resource = next(r for r in descriptor["resources"] if r["path"] == "data/깨끗한.csv")
    assert "open this file in Excel as it is" in resource["description"]
    for language, text in (
        ("ko", "깨끗한.csv 파일은 이미 UTF-8(BOM 포함)이고 수식처럼 보이는 셀이 없습니다"),
        ("en", "깨끗한.csv is already UTF-8 with a byte order mark and has no cell that looks like a formula"),
    ):
        client.cookies["django_language"] = language
        page = client.get(reverse("catalog:dataset", args=[version.dataset.slug]))
        assert text in page.content.decode(), language
        # The copies' sentence is about the other files, never "each" file.
        html = page.content.decode()
        other, each = {
            "ko": ("다른 CSV와 TSV 파일은", "CSV와 TSV 파일은 Excel용"),
            "en": ("The other CSV", "Each CSV"),
        }[language]
        assert other in html and html.count(each) == (1 if language == "ko" else 0), language


@pytest.mark.django_db
def test_a_copy_being_made_elsewhere_is_waited_for_and_a_dead_builders_lease_is_taken_over(
    official, admin_user, reference_data, parked_package_builds, settings
):
    settings.DERIVED_FILE_LEASE_SECONDS = 1
    version = publish_files(official, admin_user, [("수식.csv", FORMULAS)])
    datafile = DataFile.objects.get(version=version)
    # Another worker claimed the copy and died (it never renews): this caller waits for its lease to run
    # out, then makes the copy itself; the dead builder can no longer record anything.
    row, dead = catalog_services.derived_file_claim(datafile_id=datafile.pk, kind="excel")
    assert dead is not None
    assert catalog_services.derived_file_claim(datafile_id=datafile.pk, kind="excel")[1] is None  # held
    waited = []
    started = time.monotonic()
    copy = catalog_services.derived_file_ensure(datafile=datafile, kind="excel", check=waited.append)
    assert time.monotonic() - started >= 0.9 and 0 in waited  # it waited (its caller's checks ran meanwhile)
    assert copy.ready and copy.formula_cells == 3 and copy.lease is None
    result = derived.CopyResult(0, "", 0, 0, "", 0, False)
    assert catalog_services.derived_file_built(pk=row.pk, lease=dead, result=result, name="x") is None
    assert DerivedFile.objects.get().sha256 == copy.sha256


def test_excel_schema_renames_only_what_the_copy_renames():
    schema = {
        "fields": [{"name": "=a", "type": "string"}, {"name": "-1", "type": "integer"}, {"name": "b"}],
        "missingValues": ["", "-"],
        "primaryKey": ["=a"],
    }
    assert derived.excel_schema(schema) == {
        "fields": [{"name": "'=a", "type": "string"}, {"name": "-1", "type": "integer"}, {"name": "b"}],
        "missingValues": ["", "'-"],
        "primaryKey": ["'=a"],
    }


def test_time_limits_scale_with_the_data(settings):
    settings.PACKAGE_TIME_LIMIT_BASE_SECONDS = 600
    settings.PACKAGE_TIME_LIMIT_SECONDS_PER_GB = 300
    settings.PACKAGE_TIME_LIMIT_GRACE_SECONDS = 120
    assert derived.time_limits(0) == {"soft_time_limit": 600, "time_limit": 720}
    assert derived.time_limits(4_000_000_000) == {"soft_time_limit": 1800, "time_limit": 1920}


def test_a_reader_stuck_in_a_read_does_not_hold_its_consumer():
    """read_ahead gives up on a reader thread that never returns once its consumer stops."""
    import threading

    release = threading.Event()

    def stuck():
        yield b"first"
        release.wait(30)  # a read that does not return
        yield b"never"

    started = time.monotonic()
    chunks = derived.read_ahead(stuck())
    assert next(chunks) == b"first"
    chunks.close()  # the consumer stops (a soft time limit raised in it)
    assert time.monotonic() - started < derived.JOIN_SECONDS + 2
    release.set()


@pytest.mark.django_db
def test_the_file_page_of_a_cp949_geojson_says_the_package_holds_a_utf8_copy(
    official, admin_user, reference_data, parked_package_builds, login
):
    geojson = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"이름": "정왕동"},
                    "geometry": {"type": "Point", "coordinates": [126.73, 37.34]},
                }
            ],
        },
        ensure_ascii=False,
    ).encode("cp949")
    version = publish_files(official, admin_user, [("측정소.geojson", geojson)])
    datafile = DataFile.objects.get(version=version)
    assert datafile.encoding == "cp949" and derived.kinds_for(datafile) == ["utf8"]
    client = login(official)
    client.cookies["django_language"] = "ko"
    page = client.get(reverse("catalog:datafile", args=[datafile.pk])).content.decode()
    assert "UTF-8로 옮긴 사본도 data/utf8/에 들어 있습니다" in page
    client.cookies["django_language"] = "en"
    page = client.get(reverse("catalog:datafile", args=[datafile.pk])).content.decode()
    assert "a UTF-8 copy in data/utf8/" in page


@pytest.mark.django_db
def test_a_file_carried_into_a_new_version_reuses_its_copy_and_discarding_one_keeps_the_other(
    official, admin_user, reference_data, parked_package_builds, django_capture_on_commit_callbacks
):
    # Version 2 starts with version 1's file (the same stored bytes): its Excel copy is version 1's stream, not a
    # second build; forgetting one of the two rows never deletes the stream the other still names.
    first = publish_files(official, admin_user, [("수식.csv", FORMULAS)])
    assert version_derived_files_task.apply(args=[first.pk]).get() == 1
    old = DerivedFile.objects.get()
    second = catalog_services.version_start_new(actor=official, dataset=first.dataset, change_note="2025년")
    assert version_derived_files_task.apply(args=[second.pk]).get() == 1
    carried = DerivedFile.objects.exclude(pk=old.pk).get()
    assert carried.datafile.version_id == second.pk and carried.ready
    assert (carried.file.name, carried.compressed_sha256, carried.formula_cells) == (
        old.file.name,
        old.compressed_sha256,
        old.formula_cells,
    )
    assert len(list(Path(old.file.path).parent.iterdir())) == 1  # built once
    from catalog.services.derived import derived_file_discard  # only here

    with django_capture_on_commit_callbacks(execute=True):
        derived_file_discard(pk=carried.pk)
    assert storage.default_storage.exists(old.file.name)
    with django_capture_on_commit_callbacks(execute=True):
        derived_file_discard(pk=old.pk)  # the last row naming it: the stream goes
    assert not storage.default_storage.exists(old.file.name)
