"""A workbook of several sheets, published and packaged by the real worker: the .xlsx is shipped byte
for byte and datapackage.json describes each sheet's table as a resource of its own on that file, with
a dialect naming the sheet (and its header rows), which frictionless reads and validates; the dataset
page shows each sheet's table and offers its sample."""

import json
import subprocess
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from django.core.files import storage
from django.db.models import Q
from django.urls import reverse

from catalog.models import DataFile
from tests.catalog.workbooks import AIR_SHEET, CONTACT_SHEET, EMPTY_SHEET, one_sheet_workbook, three_sheet_workbook
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_packaging import publish_files, wait_for
from transactions.models import Package

AIR_FIELDS = ["측정소", "측정일", "미세먼지 PM10", "미세먼지 PM2.5", "비고"]
WORKBOOK = three_sheet_workbook()
SINGLE = one_sheet_workbook()


@pytest.mark.django_db(transaction=True)
def test_each_sheet_is_a_resource_of_the_shipped_workbook(
    celery_worker, official, buyer, admin_user, reference_data, tmp_path
):
    version = publish_files(official, admin_user, [("시흥시 대기질.xlsx", WORKBOOK), ("주차장.xlsx", SINGLE)])
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = wait_for(
        lambda: (
            Package.objects.filter(entitlement__order_item__order=order)
            .filter(Q(state__in=["ready", "failed"]) | ~Q(error=""))
            .first()
        ),
        timeout=120,
    )
    assert package.state == Package.State.READY, package.error
    with zipfile.ZipFile(Path(storage.default_storage.path(package.file.name))) as zf:
        zf.extractall(tmp_path)
        names = zf.namelist()

    # The workbook is shipped once, as uploaded; no file per sheet.
    assert (tmp_path / "data/시흥시 대기질.xlsx").read_bytes() == WORKBOOK
    assert sorted(n for n in names if n.startswith("data/")) == ["data/시흥시 대기질.xlsx", "data/주차장.xlsx"]
    check = subprocess.run(
        ["sha256sum", "-c", "--strict", "MANIFEST-SHA256"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr

    descriptor = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    on_workbook = [r for r in descriptor["resources"] if r["path"] == "data/시흥시 대기질.xlsx"]
    assert [r["dialect"]["excel"]["sheet"] for r in on_workbook] == [AIR_SHEET, CONTACT_SHEET]  # not the empty one
    air, contacts = on_workbook
    assert [f["name"] for f in air["schema"]["fields"]] == AIR_FIELDS
    assert air["dialect"] == {
        "headerRows": [4, 5],
        "headerJoin": " ",
        "excel": {"sheet": AIR_SHEET, "fillMergedCells": True},
    }
    assert air["rows"] == 12 and contacts["rows"] == 3
    assert [f["name"] for f in contacts["schema"]["fields"]] == ["이름", "부서", "휴대전화"]
    assert contacts["dialect"] == {"excel": {"sheet": CONTACT_SHEET}}
    assert air["title"] == f"시흥시 대기질.xlsx — {AIR_SHEET}" and air["name"] != contacts["name"]
    assert air["hash"] == contacts["hash"] and air["bytes"] == contacts["bytes"] == len(WORKBOOK)
    (single,) = [r for r in descriptor["resources"] if r["path"] == "data/주차장.xlsx"]
    assert single["dialect"] == {"excel": {"sheet": "주차장"}} and single["rows"] == 3

    # What a buyer runs: frictionless reads each sheet's table from the workbook with that dialect and
    # finds the same columns and rows the checks found.
    from frictionless import Package as DataPackage

    assert not [e.message for e in DataPackage.metadata_validate(descriptor)]
    report = DataPackage(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["taskNumber", "rowNumber", "fieldName", "type", "note"])
    assert len(report.tasks) == 3
    air_rows = DataPackage(str(tmp_path / "datapackage.json")).get_resource(air["name"]).read_rows()
    assert [row["미세먼지 PM10"] for row in air_rows][:3] == [31, 32, 33]

    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert f"| `data/시흥시 대기질.xlsx` | {AIR_SHEET} | 12 | 5 |" in readme
    assert f"| `data/시흥시 대기질.xlsx` | {CONTACT_SHEET} | 3 | 3 |" in readme


@pytest.mark.django_db(transaction=True)
def test_the_dataset_page_shows_each_sheet_and_its_sample(client, official, admin_user, reference_data):
    version = publish_files(official, admin_user, [("시흥시 대기질.xlsx", WORKBOOK)])
    workbook = DataFile.objects.get(version=version, parent=None)
    air, contacts = DataFile.objects.filter(parent=workbook).order_by("id")
    client.cookies["django_language"] = "ko"
    html = client.get(reverse("catalog:dataset", args=[version.dataset.slug])).content.decode()
    for table in (air, contacts):
        assert f'id="file-{table.pk}"' in html  # its columns, values and sample rows
        assert (
            f'<h3 class="ds-file-title">시흥시 대기질.xlsx › {table.original_name.replace("<", "&lt;").replace(">", "&gt;")}</h3>'
            in html
        )
    assert f'id="file-{workbook.pk}"' not in html  # the workbook has no table of its own
    assert "미세먼지 PM2.5" in html and "엑셀 시트" in html
    assert f"비어 있어 뺀 시트: “{EMPTY_SHEET}”" in html
    assert "010-2345-6789" not in html and "010-****-6789" in html

    sample = client.get(reverse("catalog:dataset_sample", args=[version.dataset.slug]) + f"?file={contacts.pk}")
    assert sample.status_code == 200
    disposition = sample["Content-Disposition"]
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "시흥시 대기질_담당자 연락처 _2024__sample.csv"
    assert "010-****-6789" in sample.content.decode("utf-8-sig")
