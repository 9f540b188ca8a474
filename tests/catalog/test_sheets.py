"""XLSX workbooks with several sheets: each non-empty sheet is a table of its own (schema, profile,
preview, personal data), named after its sheet, under the workbook it came from; empty sheets are
reported as skipped; a workbook of one table stays one file as before."""

import time
from pathlib import Path

import pytest

from catalog import selectors, services
from catalog.ingest import formats
from catalog.ingest.pipeline import analyse_path
from catalog.models import DataFile, DatasetVersion
from tests.catalog.test_checks_worker import _upload, _wait_checked
from tests.catalog.workbooks import (
    AIR_SHEET,
    CONTACT_SHEET,
    EMPTY_SHEET,
    many_sheet_workbook,
    one_sheet_workbook,
    three_sheet_workbook,
)

S = DatasetVersion.State
AIR_COLUMNS = [
    ("측정소", "string"),
    ("측정일", "date"),
    ("미세먼지 PM10", "integer"),
    ("미세먼지 PM2.5", "integer"),
    ("비고", "string"),
]


def _text(messages, code, lang):
    return next(m["message"][lang] for m in messages if m["code"] == code)


def test_a_workbook_of_three_sheets_becomes_two_tables_in_the_worker(celery_worker, official, draft):
    _upload(official, draft, "시흥시 대기질.xlsx", three_sheet_workbook())
    files = _wait_checked(draft, count=3)
    (workbook,) = [f for f in files if f.parent_id is None]
    tables = sorted((f for f in files if f.parent_id), key=lambda f: f.sheet["index"])

    # The workbook: no table of its own, its two tables as members, the empty sheet named as skipped.
    assert workbook.has_sheet_tables and not workbook.is_sheet
    assert workbook.table_schema is None and workbook.preview is None
    assert workbook.sheet == {"tables": 2, "empty": [EMPTY_SHEET]}
    assert workbook.check_state == DataFile.Check.WARNING  # as bad as its worst sheet
    assert _text(workbook.check_messages, "xlsx_empty_sheets", "ko") == "비어 있는 시트를 건너뛰었습니다: “빈 시트”."
    assert _text(workbook.check_messages, "xlsx_empty_sheets", "en") == "The empty sheet was skipped: “빈 시트”."
    assert "담당자 연락처 <2024>" in _text(workbook.check_messages, "xlsx_sheet_pii", "ko")
    assert not [m for m in workbook.check_messages if m["code"] == "xlsx_sheets" and m["level"] != "info"]

    air, contacts = tables
    assert [t.original_name for t in tables] == [AIR_SHEET, CONTACT_SHEET]
    assert all(t.is_sheet and t.parent_id == workbook.pk and not t.file for t in tables)
    assert [t.sheet["index"] for t in tables] == [0, 2]

    # Sheet 1: the merged title rows are a title, the two-row header gives "미세먼지 PM10" / "미세먼지 PM2.5".
    assert [(f["name"], f["type"]) for f in air.table_schema["fields"]] == AIR_COLUMNS
    assert air.sheet["title"] == "2024년 시흥시 대기질 측정 현황"
    assert air.sheet["header_rows"] == [4, 5]
    assert (air.row_count, air.column_count) == (12, 5)
    assert [c["name"] for c in air.profile] == [name for name, _ in AIR_COLUMNS]
    assert air.preview["columns"] == [name for name, _ in AIR_COLUMNS] and len(air.preview["rows"]) == 12
    assert "정왕동" in str(air.preview["rows"][0]) and "2024-01-01" in str(air.preview["rows"][0])
    assert air.pii_findings == [] and air.check_state == DataFile.Check.PASSED

    # Sheet 3: the phone numbers are found there (and only there), masked in its preview.
    assert [(f["kind"], f["column"], f["count"]) for f in contacts.pii_findings] == [
        ("mobile_phone", "휴대전화", 2),
        ("landline_phone", "휴대전화", 1),
    ]
    assert contacts.check_state == DataFile.Check.WARNING
    assert "010-2345-6789" not in str(contacts.preview) and "010-****-6789" in str(contacts.preview)
    assert contacts.row_count == 3 and contacts.sheet["header_rows"] == [1]
    assert len({t.sha256 for t in tables}) == 2  # each table has a fingerprint of its own (the review diff)

    # Submission asks for a justification because of sheet 3; the version is ready once all are checked.
    assert list(draft.files.needing_justification()) == [contacts]
    draft.refresh_from_db()
    assert draft.state == S.READY


def test_a_workbook_of_one_table_stays_one_file(celery_worker, official, draft):
    """The layout before: one sheet with data is the workbook's own table, no member row; an empty
    sheet next to it is named as skipped instead of the old "only the sheet … was read" warning."""
    _upload(official, draft, "주차장.xlsx", one_sheet_workbook())
    (datafile,) = _wait_checked(draft)
    assert datafile.check_state == DataFile.Check.PASSED, datafile.check_messages
    assert [(f["name"], f["type"]) for f in datafile.table_schema["fields"]] == [
        ("주차장명", "string"),
        ("주차면수", "integer"),
        ("요금", "integer"),
    ]
    assert datafile.row_count == 3 and datafile.preview["columns"] == ["주차장명", "주차면수", "요금"]
    assert datafile.sheet == {"name": "주차장", "index": 0, "header_rows": [1], "title": "", "empty": []}
    assert not datafile.is_sheet and not datafile.has_sheet_tables
    assert not DataFile.objects.filter(parent=datafile).exists()


def _one_table_and_an_empty_sheet() -> bytes:
    import io

    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "표지"  # a cover sheet left empty
    ws = wb.create_sheet("현황")
    ws.append(["동", "인구"])
    ws.append(["정왕동", 1200])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def test_one_table_after_an_empty_sheet(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(_one_table_and_an_empty_sheet())
    report = analyse_path(path, "xlsx", workdir=tmp_path)
    assert report["state"] == "passed" and "sheets" not in report
    assert report["sheet"] == {"name": "현황", "index": 1, "header_rows": [1], "title": "", "empty": ["표지"]}
    assert [f["name"] for f in report["table_schema"]["fields"]] == ["동", "인구"]
    assert [m["code"] for m in report["messages"]] == ["xlsx_empty_sheets"]  # no "only one sheet was read"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.xlsx"]  # each sheet's CSV deleted once checked


def test_fifty_sheets_are_fifty_tables(tmp_path):
    path = tmp_path / "민원.xlsx"
    path.write_bytes(many_sheet_workbook(50))
    started = time.monotonic()
    report = analyse_path(path, "xlsx", workdir=tmp_path)
    elapsed = time.monotonic() - started
    assert report["state"] == "passed", report["messages"]
    assert [t["sheet"]["name"] for t in report["sheets"]] == [f"{i}월" for i in range(1, 51)]
    assert all(t["row_count"] == 2 and t["column_count"] == 2 for t in report["sheets"])
    assert report["sheets"][49]["profile"][1]["max"] in (56, "56")
    assert elapsed < 60, elapsed


def test_too_many_sheets_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(many_sheet_workbook(101))
    report = analyse_path(path, "xlsx", workdir=tmp_path)
    assert report["state"] == "failed"
    (message,) = report["messages"]
    assert message["code"] == "xlsx_too_many_sheets"
    assert message["message"]["ko"] == (
        "엑셀 파일에 시트가 101개 있습니다. 한 통합 문서에는 시트를 100개까지만 받을 수 있습니다. "
        "여러 통합 문서로 나누거나 시트를 CSV 파일로 저장해서 올려 주세요."
    )
    assert message["message"]["en"].startswith("The Excel file has 101 sheets; at most 100 are accepted")


def test_each_sheet_is_streamed_once_to_its_own_csv(tmp_path):
    path = tmp_path / "a.xlsx"
    path.write_bytes(three_sheet_workbook())
    seen = []
    for name, report in formats.xlsx_sheets_to_csv(path, lambda i: tmp_path / f"{i}.csv"):
        seen.append((name, report and report.columns, sorted(p.name for p in tmp_path.glob("*.csv"))))
    assert seen == [
        (AIR_SHEET, [name for name, _ in AIR_COLUMNS], ["0.csv"]),
        (EMPTY_SHEET, None, ["0.csv"]),  # nothing written for an empty sheet
        (CONTACT_SHEET, ["이름", "부서", "휴대전화"], ["0.csv", "2.csv"]),
    ]
    assert Path(tmp_path / "0.csv").read_text(encoding="utf-8").splitlines()[:2] == [
        "측정소,측정일,미세먼지 PM10,미세먼지 PM2.5,비고",
        "정왕동,2024-01-01,31,16,",
    ]


@pytest.mark.parametrize(
    "rows, header",
    [
        # A one-row header over data rows: the first data row is never taken for a sub-header.
        ([["측정소", "PM10", "비고"], ["정왕동", 31, ""], ["대야동", 40, "점검"]], ["측정소", "PM10", "비고"]),
        # A text row under a header with no hole (nothing merged across) is data.
        ([["이름", "부서"], ["김민지", ""], ["이서준", "환경정책과"]], ["이름", "부서"]),
        # Numbers (not years) under a label are data, even with a blank first cell.
        ([["구분", "PM10", "PM2.5"], [None, 31, 16], ["정왕동", 30, 15]], ["구분", "PM10", "PM2.5"]),
    ],
)
def test_a_data_row_is_not_a_second_header_row(tmp_path, rows, header):
    import io

    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    path = tmp_path / "a.xlsx"
    path.write_bytes(buffer.getvalue())
    ((_name, report),) = list(formats.xlsx_sheets_to_csv(path, lambda i: tmp_path / f"{i}.csv"))
    assert report.columns == header and report.header_depth == 1
    assert report.rows_written == len(rows) - 1


def test_years_under_a_merged_label_are_a_second_header_row(tmp_path):
    import io

    from openpyxl import Workbook

    wb = Workbook()
    for row in [["구분", "인구", None, "면적"], [None, 2023, 2024, None], ["정왕동", 1200, 1250, 3.5]]:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    path = tmp_path / "a.xlsx"
    path.write_bytes(buffer.getvalue())
    ((_name, report),) = list(formats.xlsx_sheets_to_csv(path, lambda i: tmp_path / f"{i}.csv"))
    assert report.columns == ["구분", "인구 2023", "인구 2024", "면적"] and report.header_rows == [1, 2]
    assert (tmp_path / "0.csv").read_text(encoding="utf-8").splitlines()[1] == "정왕동,1200,1250,3.5"


def test_the_review_diff_compares_each_sheet(celery_worker, official, admin_user, draft):
    """A new version whose workbook gained a column in one sheet: the reviewer sees that sheet changed
    (with the column) and the other unchanged, each by the workbook's and the sheet's name."""
    import io

    from openpyxl import load_workbook

    from catalog.models import Licence
    from tests.transactions.test_packaging import _check_all

    _upload(official, draft, "통계.xlsx", three_sheet_workbook())
    _wait_checked(draft, count=3)
    services.version_update_metadata(actor=official, version=draft, licence=Licence.objects.get(code="kogl-1"))
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    services.version_submit(actor=official, version=draft, pii_justification="공개된 사무실 번호입니다.")
    services.version_approve(actor=admin_user, version=draft)
    new = services.version_start_new(actor=official, dataset=draft.dataset, change_note="이메일 추가")
    wb = load_workbook(io.BytesIO(three_sheet_workbook()))
    ws = wb[CONTACT_SHEET]
    ws["D1"] = "비고"
    buffer = io.BytesIO()
    wb.save(buffer)
    _upload(official, new, "통계.xlsx", buffer.getvalue())
    _check_all(new)
    diff = {f["name"]: f for f in selectors.version_diff(new)["files"]}
    assert set(diff) == {"통계.xlsx", f"통계.xlsx/{AIR_SHEET}", f"통계.xlsx/{CONTACT_SHEET}"}
    assert diff[f"통계.xlsx/{CONTACT_SHEET}"]["status"] == "changed"
    assert diff[f"통계.xlsx/{CONTACT_SHEET}"]["added"] == ["비고"]
    assert diff[f"통계.xlsx/{AIR_SHEET}"]["status"] == "unchanged"
    assert diff[f"통계.xlsx/{AIR_SHEET}"]["rows_new"] == 12


def test_a_workbook_inside_a_zip_gets_its_sheets_and_goes_with_the_archive(celery_worker, client, official, draft):
    """ZIP → workbook → its sheets' tables: the version page lists all three levels, and removing the
    archive removes the workbook and its tables."""
    import io
    import zipfile

    from django.urls import reverse

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("자료/대기질.xlsx", three_sheet_workbook())
    _upload(official, draft, "묶음.zip", buffer.getvalue())
    files = _wait_checked(draft, count=4)
    archive = next(f for f in files if f.parent_id is None)
    workbook = next(f for f in files if f.parent_id == archive.pk)
    tables = [f for f in files if f.parent_id == workbook.pk]
    assert workbook.original_name == "대기질.xlsx" and workbook.has_sheet_tables
    assert sorted(t.original_name for t in tables) == sorted([AIR_SHEET, CONTACT_SHEET])
    draft.refresh_from_db()
    assert draft.state == S.READY

    client.force_login(official)
    html = client.get(reverse("catalog:version", args=[draft.pk]), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert html.count("통합 문서 대기질.xlsx의 시트") == 2 and "압축 파일 묶음.zip에 포함" in html

    services.datafile_remove(actor=official, datafile=archive)
    assert not DataFile.objects.filter(version=draft).exists()
