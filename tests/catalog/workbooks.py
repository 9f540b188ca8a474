"""Workbooks for the multi-sheet tests, made with openpyxl as Korean public spreadsheets are laid out."""

import datetime as dt
import io

AIR_SHEET = "대기질 측정"
EMPTY_SHEET = "빈 시트"
CONTACT_SHEET = "담당자 연락처 <2024>"  # a space and characters a file name cannot hold
AIR_ROWS = [("정왕동", dt.date(2024, 1, day), 30 + day, 15 + day, "" if day % 3 else "점검") for day in range(1, 13)]
CONTACT_ROWS = [
    ("김민지", "환경정책과", "010-2345-6789"),
    ("이서준", "환경정책과", "010-9876-5432"),
    ("박지호", "기후대기팀", "031-310-2114"),
]


def _save(wb) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def three_sheet_workbook() -> bytes:
    """Sheet 1: a merged title over two rows and a two-row header (미세먼지 merged over PM10 | PM2.5,
    the other labels merged down); sheet 2: empty; sheet 3: phone numbers."""
    from openpyxl import Workbook

    wb = Workbook()
    air = wb.active
    air.title = AIR_SHEET
    air["A1"] = "2024년 시흥시 대기질 측정 현황"
    air.merge_cells("A1:E2")
    air["A4"], air["B4"], air["C4"], air["E4"] = "측정소", "측정일", "미세먼지", "비고"
    air["C5"], air["D5"] = "PM10", "PM2.5"
    for cells in ("A4:A5", "B4:B5", "C4:D4", "E4:E5"):
        air.merge_cells(cells)
    for row in AIR_ROWS:
        air.append(row)
    for cell in air["B"][5:]:
        cell.number_format = "yyyy-mm-dd"
    wb.create_sheet(EMPTY_SHEET)
    contacts = wb.create_sheet(CONTACT_SHEET)
    contacts.append(["이름", "부서", "휴대전화"])
    for row in CONTACT_ROWS:
        contacts.append(row)
    return _save(wb)


def one_sheet_workbook() -> bytes:
    """The layout every workbook had before: one sheet, a header in the first row."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "주차장"
    ws.append(["주차장명", "주차면수", "요금"])
    for name, spaces, fee in [("정왕 공영주차장", 120, 1000), ("배곧 노상주차장", 45, 500), ("월곶 주차장", 300, 0)]:
        ws.append([name, spaces, fee])
    return _save(wb)


def many_sheet_workbook(count: int) -> bytes:
    """`count` sheets (1월, 2월, …), each a small table."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for i in range(count):
        ws = wb.create_sheet(f"{i + 1}월")
        ws.append(["동", "민원 건수"])
        for dong, n in [("정왕동", i + 3), ("대야동", i + 7)]:
            ws.append([dong, n])
    return _save(wb)
