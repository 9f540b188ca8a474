"""Converters from XLSX, JSON and GeoJSON to a UTF-8 CSV that the tabular step analyses.

All three stream: memory stays flat whatever the file size (openpyxl's read-only mode keeps
only the shared-strings table; ijson builds one record at a time). The CSV is written with the
csv module: UTF-8 without BOM, comma-separated, "\\n" line ends, minimal quoting.

JSON and GeoJSON take two streaming passes over the records (first the union of the keys, in
first-seen order, then the rows), so the column list is complete without holding records in
memory. Text that is not UTF-8 is accepted when it is strictly valid CP949 (Korean Windows
tools) and transcoded on the fly; a UTF-8 BOM is skipped.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import ijson
from django.utils.translation import gettext_lazy as _
from openpyxl import load_workbook
from openpyxl.styles.numbers import is_datetime
from openpyxl.utils import get_column_letter
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import shape

from .errors import IngestError
from .errors import lazy_format as _fmt
from .maps import FeatureLayer

__all__ = [
    "GeoReport",
    "JsonReport",
    "SheetReport",
    "geojson_to_csv",
    "json_to_csv",
    "xlsx_sheets_to_csv",
    "xlsx_to_csv",
    "KOREA_BBOX",
    "MAX_SHEETS",
]

_CHUNK = 1024 * 1024
_IJSON_BUF = 64 * 1024
KOREA_BBOX = (124.0, 33.0, 132.0, 39.0)  # lon/lat box used for the "outside Korea" note


def _open_csv(dst):
    f = open(dst, "w", encoding="utf-8", newline="")  # noqa: SIM115  (returned to the caller, who closes it)
    return f, csv.writer(f, lineterminator="\n")


# ---------------------------------------------------------------------------------------------
# XLSX
# ---------------------------------------------------------------------------------------------

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class SheetReport:
    sheet_name: str
    sheet_names: list[str]
    rows_written: int  # data rows, header not counted
    columns: list[str]
    header_row: int = 1  # 1-based Excel row number of the header
    title: str | None = None  # a one-cell title row above the header, if one was skipped
    rows_with_extra_cells: int = 0  # rows with values right of the last header column (dropped)
    header_depth: int = 1  # 2 for a two-row header (merged group cells above their sub-columns)

    @property
    def header_rows(self) -> list[int]:
        """The 1-based Excel rows of the header (a Table Schema dialect's headerRows)."""
        return list(range(self.header_row, self.header_row + self.header_depth))


def _not_xlsx(detail: str) -> IngestError:
    return IngestError(
        "xls_unsupported",
        _(
            "This file is not in the Excel .xlsx format (it may be an old .xls, an .xlsb or a web page saved "
            "with an Excel name). Open it in Excel, choose “Save As”, pick “Excel Workbook (*.xlsx)” or "
            "“CSV UTF-8”, and upload the new file."
        ),
        detail=detail,
    )


def _xlsx_corrupt(detail: str) -> IngestError:
    return IngestError(
        "xlsx_corrupt",
        _(
            "The Excel file is damaged and cannot be read. Open it in Excel, save it again as .xlsx (or as "
            "“CSV UTF-8”) and upload the new file."
        ),
        detail=detail,
    )


def _file_contains(path, needle: bytes) -> bool:
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle) :]
    return False


def _sniff_xlsx(src, max_uncompressed: int) -> None:
    with open(src, "rb") as f:
        head = f.read(2048)
    if head.startswith(_OLE2):
        # An OLE2 container is either an old .xls or a password-protected .xlsx.
        if _file_contains(src, "EncryptedPackage".encode("utf-16-le")):
            raise IngestError(
                "xlsx_encrypted",
                _(
                    "The Excel file is protected by a password. Open it in Excel, remove the password "
                    "(File > Info > Protect Workbook) and upload it again."
                ),
            )
        raise _not_xlsx("OLE2 (BIFF .xls)")
    if not head.startswith(b"PK\x03\x04"):
        text = head.decode("latin-1").lower()
        if "<html" in text or "<table" in text or "office:spreadsheet" in text or "<?xml" in text:
            raise _not_xlsx("HTML or XML spreadsheet")
        raise _xlsx_corrupt("not a ZIP container")
    try:
        with zipfile.ZipFile(src) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, NotImplementedError) as exc:
        raise _xlsx_corrupt(f"{type(exc).__name__}: {exc}") from exc
    names = {i.filename for i in infos}
    if "xl/workbook.bin" in names:
        raise _not_xlsx("xlsb")
    if "xl/workbook.xml" not in names:
        raise _xlsx_corrupt("no xl/workbook.xml (not an Excel workbook)")
    if any(i.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for i in infos):
        raise _xlsx_corrupt("unexpected compression method")
    total = sum(i.file_size for i in infos)
    if total > max_uncompressed:
        raise IngestError(
            "xlsx_too_large",
            _(
                "The Excel file is too large to process. Save each sheet as “CSV UTF-8” in Excel and upload "
                "the CSV files instead."
            ),
            detail=f"{total} uncompressed bytes > {max_uncompressed}",
        )


_DATE_KIND_CACHE: dict[str, str | None] = {}


def _date_kind(number_format) -> str | None:
    kind = _DATE_KIND_CACHE.get(number_format, "?")
    if kind == "?":
        try:
            kind = is_datetime(number_format or "General")
        except Exception:  # noqa: BLE001 — an odd format string must not stop the conversion
            kind = "datetime"
        _DATE_KIND_CACHE[number_format] = kind
    return kind


def _float_text(v: float) -> str:
    if not math.isfinite(v):
        return ""
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v))
    # Excel keeps 15 significant digits; the XML often carries binary noise beyond them
    # (0.30000000000000004). Round to 15 and print the shortest repr of that.
    return repr(float(f"{v:.15g}"))


def _cell_text(cell) -> str:
    v = cell.value
    if v is None:
        return ""
    t = type(v)
    if t is str:
        return v
    if t is int:
        return str(v)
    if t is float:
        return _float_text(v)
    if t is bool:
        return "TRUE" if v else "FALSE"
    if t is dt.datetime:
        v = _round_second(v)
        kind = _date_kind(cell.number_format)
        if kind == "date" and v.hour == v.minute == v.second == 0:
            return v.date().isoformat()
        if kind == "time" and v.date() in (dt.date(1899, 12, 30), dt.date(1899, 12, 31), dt.date(1900, 1, 1)):
            return v.time().isoformat()
        return v.isoformat(sep=" ")
    if t is dt.date:
        return v.isoformat()
    if t is dt.time:
        return _round_second(dt.datetime.combine(dt.date(2000, 1, 1), v)).time().isoformat()
    if t is dt.timedelta:
        seconds = round(v.total_seconds())
        sign = "-" if seconds < 0 else ""
        h, rest = divmod(abs(seconds), 3600)
        return f"{sign}{h}:{rest // 60:02d}:{rest % 60:02d}"
    return str(v)


def _round_second(v: dt.datetime) -> dt.datetime:
    if v.microsecond:  # a time of day is a fraction of a day in Excel: 13:59:59.999994 is 14:00:00
        v = (v + dt.timedelta(microseconds=500_000)).replace(microsecond=0)
    return v


def _is_blank(text: str) -> bool:
    return not text or text.isspace()


def _trim(values: list[str]) -> list[str]:
    end = len(values)
    while end and _is_blank(values[end - 1]):
        end -= 1
    return values[:end]


def _header_name(text: str, index: int) -> str:
    name = " ".join(text.split())  # "미세먼지\n(㎍/㎥)" → "미세먼지 (㎍/㎥)"
    return name or f"column_{get_column_letter(index + 1)}"


# A one-cell row followed, within this many rows, by a wider row is a title above the header.
_TITLE_LOOKAHEAD = 10
# The most worksheets a workbook may have: each non-empty one becomes a table with its own checks,
# page section and package resource. Korean statistics workbooks hold one table per month or per
# 동 (a few dozen sheets); beyond this, a workbook is better split (the message says how).
MAX_SHEETS = 100
# A cell of a sub-header row is a label, not a number or a date ("1,234", "31", "2024-01-31"), except a
# year: statistics tables put years under a merged label (인구 over 2023 | 2024).
_NUMERIC_TEXT = re.compile(r"[-+]?[\d.,:/ ]+")
_YEAR = re.compile(r"(19|20)\d\d")


def _open_workbook(src):
    try:
        return load_workbook(src, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 — openpyxl raises KeyError, ValueError, XML errors, …
        raise _xlsx_corrupt(f"{type(exc).__name__}: {exc}") from exc


def _xlsx_empty(sheet_names) -> IngestError:
    return IngestError(
        "xlsx_empty",
        _("The Excel file contains no data: every sheet is empty. Check that you saved the right file."),
        detail=f"sheets={sheet_names}",
    )


def xlsx_sheets_to_csv(
    src,
    dst_for: Callable[[int], object],
    *,
    max_sheets: int = MAX_SHEETS,
    max_uncompressed: int = 8 * 1024**3,
) -> Iterator[tuple[str, SheetReport | None]]:
    """Every worksheet of the .xlsx at `src`, in workbook order, each written once to its own CSV
    at `dst_for(index)` (index: 0-based position among the worksheets; chart sheets are not
    worksheets): yields (sheet name, SheetReport), or (sheet name, None) for a sheet without any
    value (no CSV is written). The workbook is opened once in read-only mode and each sheet is
    streamed row by row, so memory stays flat however many sheets there are; the caller may read
    (and delete) each CSV before asking for the next sheet. Header, title and value rules are
    those of `xlsx_to_csv`.

    Codes: those of `xlsx_to_csv`, and xlsx_too_many_sheets (more than `max_sheets` worksheets).
    xlsx_empty is raised after the last sheet when every sheet was empty. Close the generator
    (contextlib.closing) when stopping early: that closes the workbook.
    """
    _sniff_xlsx(src, max_uncompressed)
    wb = _open_workbook(src)
    try:
        sheets = list(wb.worksheets)
        sheet_names = [ws.title for ws in sheets]
        if len(sheets) > max_sheets:
            raise IngestError(
                "xlsx_too_many_sheets",
                _fmt(
                    _(
                        "The Excel file has %(n)s sheets; at most %(limit)s are accepted in one workbook. Split it "
                        "into several workbooks (or save the sheets as CSV files) and upload those."
                    ),
                    {"n": f"{len(sheets):,}", "limit": max_sheets},
                ),
                detail=f"{len(sheets)} worksheets > {max_sheets}",
            )
        found = False
        for index, ws in enumerate(sheets):
            try:
                report = _convert_sheet(ws, dst_for(index), sheet_names)
            except IngestError:
                raise
            except Exception as exc:  # noqa: BLE001 — damaged sheet XML surfaces only while streaming
                raise _xlsx_corrupt(f"{ws.title}: {type(exc).__name__}: {exc}") from exc
            found = found or report is not None
            yield ws.title, report
        if not found:
            raise _xlsx_empty(sheet_names)
    finally:
        wb.close()  # read-only mode keeps the file (and its ZIP handle) open until closed


def xlsx_to_csv(src, dst, *, sheet: str | int | None = None, max_uncompressed: int = 8 * 1024**3) -> SheetReport:
    """Write one worksheet of the .xlsx at `src` to `dst` as CSV.

    `sheet`: a sheet name, a 0-based index, or None for the first sheet with any value.
    Header: the first non-empty row, except that a row with a single filled cell (a title such
    as "2024년 시흥시 가로등 현황") followed within 10 rows by a row with two or more filled cells
    is reported in `title` and the wider row is the header. Blank header cells are named
    `column_<letter>`; line breaks in header cells become spaces.

    Values: text as is; integers as integers; floats rounded to Excel's 15 significant digits
    (integral floats without ".0"); dates by their number format as `YYYY-MM-DD`,
    `YYYY-MM-DD HH:MM:SS` or `HH:MM:SS`; booleans TRUE/FALSE; formulas as their cached value
    (empty if the file was never calculated by Excel). Empty rows inside the data are kept as
    empty CSV rows; empty rows at the end are dropped. Sheet dimensions stored in the file are
    ignored (they are often wrong), so no row or column is cut off.

    Codes: xls_unsupported (.xls/.xlsb/HTML), xlsx_encrypted, xlsx_corrupt, xlsx_too_large,
    xlsx_sheet_not_found, xlsx_empty.
    """
    _sniff_xlsx(src, max_uncompressed)
    wb = _open_workbook(src)
    try:
        sheets = list(wb.worksheets)  # chart sheets excluded
        sheet_names = [ws.title for ws in sheets]
        if sheet is None:
            candidates = sheets
        else:
            if isinstance(sheet, int) and 0 <= sheet < len(sheets):
                candidates = [sheets[sheet]]
            elif isinstance(sheet, str) and sheet in sheet_names:
                candidates = [sheets[sheet_names.index(sheet)]]
            else:
                raise IngestError(
                    "xlsx_sheet_not_found",
                    _fmt(
                        _("The Excel file has no sheet called “%(sheet)s”. Its sheets are: %(sheets)s."),
                        {"sheet": sheet, "sheets": ", ".join(sheet_names)},
                    ),
                )
        try:
            for ws in candidates:
                report = _convert_sheet(ws, dst, sheet_names)
                if report is not None:
                    return report
        except IngestError:
            raise
        except Exception as exc:  # noqa: BLE001 — damaged sheet XML surfaces only while streaming
            raise _xlsx_corrupt(f"{type(exc).__name__}: {exc}") from exc
        raise _xlsx_empty(sheet_names)
    finally:
        wb.close()  # read-only mode keeps the file (and its ZIP handle) open until closed


def _convert_sheet(ws, dst, sheet_names) -> SheetReport | None:
    ws.reset_dimensions()  # the <dimension> element is often wrong; never truncate on it
    rows = enumerate(ws.iter_rows(), start=1)
    first = None
    for number, cells in rows:
        values = _trim([_cell_text(c) for c in cells])
        if values:
            first = (number, values)
            break
    if first is None:
        return None

    header_number, header = first
    title = None
    pending: list[tuple[int, list[str]]] = []
    if sum(not _is_blank(v) for v in header) == 1:
        for number, cells in rows:
            values = _trim([_cell_text(c) for c in cells])
            pending.append((number, values))
            if sum(not _is_blank(v) for v in values) >= 2:
                title = " ".join(" ".join(v.split()) for v in header if not _is_blank(v))
                header_number, header = number, values
                pending = []
                break
            if len(pending) >= _TITLE_LOOKAHEAD:
                break

    depth = 1
    if pending:
        below = pending.pop(0)
    else:
        below = next(((n, _trim([_cell_text(c) for c in cells])) for n, cells in rows), None)
    if below is not None and _is_sub_header(header, below[1]):
        columns = _two_row_header(header, below[1])
        depth = 2
    else:
        columns = [_header_name(text, i) for i, text in enumerate(header)]
        if below is not None:
            pending.insert(0, below)
    width = len(columns)
    written = extra = empty_run = 0
    f, writer = _open_csv(dst)
    with f:
        writer.writerow(columns)

        def emit(values):
            nonlocal written, extra, empty_run
            if not values:
                empty_run += 1
                return
            if len(values) > width:
                extra += 1
                values = values[:width]
            elif len(values) < width:
                values = values + [""] * (width - len(values))
            for _i in range(empty_run):  # empty rows inside the data are kept
                writer.writerow([""] * width)
            written += empty_run + 1
            empty_run = 0
            writer.writerow(values)

        for _number, values in pending:
            emit(values)
        for _number, cells in rows:
            emit(_trim([_cell_text(c) for c in cells]))
    return SheetReport(
        sheet_name=ws.title,
        sheet_names=sheet_names,
        rows_written=written,
        columns=columns,
        header_row=header_number,
        title=title,
        rows_with_extra_cells=extra,
        header_depth=depth,
    )


def _is_sub_header(top: list[str], below: list[str]) -> bool:
    """Whether `below` is the second row of a two-row header whose first row is `top`: the usual
    Korean layout, a group label merged across its sub-columns (미세먼지 over PM10 | PM2.5) and the
    other labels merged down both rows (측정소). A read-only workbook gives a merged range's value
    in its first cell only, so `top` has a hole right of a label where `below` has a label, and
    `below` is blank under a label of `top`; every label of `below` is text or a year, not another
    number or a date.
    A data row under a one-row header has no such holes (or holds numbers), so it stays data."""
    width = max(len(top), len(below))
    top, below = top + [""] * (width - len(top)), below + [""] * (width - len(below))
    labels = [v for v in below if not _is_blank(v)]
    if not labels or any(_NUMERIC_TEXT.fullmatch(v.strip()) and not _YEAR.fullmatch(v.strip()) for v in labels):
        return False
    seen_label = False
    hole_filled = False
    for upper, lower in zip(top, below):
        if not _is_blank(upper):
            seen_label = True
        elif seen_label and not _is_blank(lower):
            hole_filled = True
    merged_down = any(not _is_blank(upper) and _is_blank(lower) for upper, lower in zip(top, below))
    return hole_filled and merged_down


def _two_row_header(top: list[str], below: list[str]) -> list[str]:
    """Column names of a two-row header: the group label (carried right across its merged cells)
    and the sub-label, joined by a space ("미세먼지 PM10"); a label merged down both rows alone.
    The same names frictionless gives the sheet with headerRows [r, r+1] and fillMergedCells."""
    width = max(len(top), len(below))
    top, below = top + [""] * (width - len(top)), below + [""] * (width - len(below))
    names, group = [], ""
    for i, (upper, lower) in enumerate(zip(top, below)):
        if not _is_blank(upper):
            group = " ".join(upper.split())
        parts = [group, " ".join(lower.split())]
        if not _is_blank(upper) and _is_blank(lower):
            parts = [group]
        name = " ".join(p for p in parts if p)
        names.append(name or f"column_{get_column_letter(i + 1)}")
    return names


# ---------------------------------------------------------------------------------------------
# Text streams for ijson: encoding, and the position of a syntax error
# ---------------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def _strictly(path, encoding: str) -> bool:
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _text_encoding(path, code: str) -> str:
    """BOM, else strict UTF-8, else strict CP949 (one fast pass each), else IngestError(code)."""
    with open(path, "rb") as f:
        head = f.read(4)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    for encoding in ("utf-8", "cp949"):
        if _strictly(path, encoding):
            return encoding
    raise IngestError(
        code,
        _(
            "The file is not valid text: some characters cannot be read. Save it again as UTF-8 text and "
            "upload the new file."
        ),
        detail="neither UTF-8 nor CP949",
    )


class _Utf8Stream:
    """A binary file-like object yielding UTF-8 bytes from a file in `encoding`, counting them."""

    def __init__(self, path, encoding: str, slow_from: int | None = None):
        self._f = open(path, "rb")  # noqa: SIM115  (a reader object that closes it in close())
        self._decoder = None
        if encoding == "utf-8-sig":
            self._f.seek(3)
        elif encoding != "utf-8":
            self._decoder = codecs.getincrementaldecoder(encoding)("strict")
        self._slow_from = slow_from  # from this offset on, hand out one byte at a time
        self._pending = b""
        self.pos = 0

    def _raw(self, n: int) -> bytes:
        if self._decoder is None:
            return self._f.read(n)
        while len(self._pending) < n:
            data = self._f.read(max(n, _IJSON_BUF))
            self._pending += self._decoder.decode(data, final=not data).encode("utf-8")
            if not data:
                break
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def read(self, n: int = -1) -> bytes:
        if n == 0:  # ijson probes with read(0) to tell bytes from text
            return b""
        if n is None or n < 0:
            n = 1 << 30
        if self._slow_from is not None:
            n = 1 if self.pos >= self._slow_from else min(n, self._slow_from - self.pos)
        data = self._raw(n)
        self.pos += len(data)
        return data

    def close(self):
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _scan_all(stream) -> None:
    for _item in ijson.items(stream, "\x00never", buf_size=_IJSON_BUF):  # C-level syntax check only
        pass


def _error_position(path, encoding: str) -> tuple[int, int] | None:
    """(line, column), 1-based, of the first syntax error, found by two more C-speed passes: the
    first tells which 64 KB buffer failed, the second feeds that buffer one byte at a time."""
    try:
        with _Utf8Stream(path, encoding) as stream:
            try:
                _scan_all(stream)
                return None
            except ijson.JSONError:
                coarse = stream.pos
        with _Utf8Stream(path, encoding, slow_from=max(0, coarse - _IJSON_BUF - 1)) as stream:
            try:
                _scan_all(stream)
                return None
            except ijson.JSONError:
                offset = max(0, stream.pos - 1)
        line, last = 1, b""
        with _Utf8Stream(path, encoding) as stream:
            remaining = offset
            while remaining > 0:
                chunk = stream.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
                nl = chunk.count(b"\n")
                if nl:
                    line += nl
                    last = chunk[chunk.rindex(b"\n") + 1 :]
                else:
                    last += chunk
                    last = last[-4096:] if len(last) > 1 << 20 else last
        column = len(last.decode("utf-8", "replace")) + 1
        return line, column
    except (OSError, UnicodeDecodeError):
        return None


def _syntax_error(path, encoding, code, exc) -> IngestError:
    where = _error_position(path, encoding)
    if where:
        message = _fmt(
            _(
                "The file is not valid JSON: there is a mistake at line %(line)s, column %(column)s. Correct it "
                "(or export the file again from the system it came from) and upload it again."
            ),
            {"line": where[0], "column": where[1]},
        )
    else:
        message = _("The file is not valid JSON. Export it again from the system it came from and upload it again.")
    detail = " ".join(str(exc).split())[:300]
    return IngestError(code, message, detail=detail)


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


@dataclass
class JsonReport:
    rows_written: int
    columns: list[str]
    root_path: str  # dotted path of the records array ("" = the document itself is the array)
    skipped_items: int = 0  # array elements that were not objects
    encoding: str = "utf-8"


def _item_prefix(array_prefix: str) -> str:
    return f"{array_prefix}.item" if array_prefix else "item"


# The records search looks at this many parse events once it has seen an array of objects.
_SEARCH_EVENTS = 200_000


def _find_records(stream) -> str | None:
    """The dotted path of the records array, from one bounded streaming pass over parse events.

    Every array whose first element is an object is a candidate (arrays inside a candidate's
    elements are not). The pass stops once it has looked at 200,000 events *and* found at least
    one candidate — so it reads a bounded prefix of the file, except when the first array of
    objects starts late. Of the candidates, the one with the most objects seen in that window
    wins (ties: the first), so {"fields": [{…} × 5], "records": [{…} × 10,000]} (CKAN's
    datastore_search) yields "records", and data.go.kr's
    {"response": {"header": {…}, "body": {"items": {"item": [...]}}}} yields
    "response.body.items.item".
    """
    counts: dict[str, int] = {}
    by_item: dict[str, str] = {}
    opened: str | None = None
    events = 0
    for prefix, event, _value in ijson.parse(stream, buf_size=_IJSON_BUF):
        events += 1  # noqa: SIM113  (counted only to throttle progress reports)
        if opened is not None:
            if event == "start_map" and not any(opened == item or opened.startswith(item + ".") for item in by_item):
                counts[opened] = 0
                by_item[_item_prefix(opened)] = opened
            opened = None
        if event == "start_array":
            opened = prefix
        elif event == "start_map" and prefix in by_item:
            counts[by_item[prefix]] += 1
        if counts and events >= _SEARCH_EVENTS:
            break
    if not counts:
        return None
    return max(counts, key=lambda p: counts[p])  # max keeps the first of equal counts


def _flatten(obj: dict) -> dict:
    flat = {}
    for key, value in obj.items():
        if isinstance(value, dict) and value:
            for sub, sub_value in value.items():
                flat[f"{key}.{sub}"] = sub_value
        else:
            flat[key] = value
    return flat


def _json_default(value):
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def _value_text(value) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (dict, list)):
        if not value:
            return ""
        return json.dumps(value, ensure_ascii=False, default=_json_default)
    return str(value)


def _too_many_columns(limit: int) -> IngestError:
    return IngestError(
        "json_too_many_columns",
        _fmt(
            _(
                "The records in the file have more than %(limit)s different fields, which is too many for a "
                "table. Check that the file holds a list of records."
            ),
            {"limit": limit},
        ),
    )


def json_to_csv(src, dst, *, max_columns: int = 2000) -> JsonReport:
    """Write the records of the JSON file `src` to `dst` as CSV.

    Accepts a top-level array of objects, or an object containing one (found by `_find_records`:
    a bounded streaming pass). Nested objects are flattened one level ({"addr": {"road": …}} →
    column "addr.road"); deeper objects and arrays are written as JSON text. Numbers keep their
    written form (ijson's Decimal), booleans are true/false, null is empty.

    Codes: json_invalid (syntax, with line and column), json_encoding, json_no_records,
    json_too_many_columns.
    """
    encoding = _text_encoding(src, "json_encoding")
    try:
        with _Utf8Stream(src, encoding) as stream:
            root = _find_records(stream)
        if root is None:
            raise IngestError(
                "json_no_records",
                _(
                    "The JSON file contains no list of records (an array of objects such as "
                    '[{"name": …}, {"name": …}]), so it cannot be shown as a table. Export the data as a list '
                    "of records, or as CSV."
                ),
            )
        prefix = _item_prefix(root)
        keys: dict[str, None] = {}
        skipped = 0
        with _Utf8Stream(src, encoding) as stream:
            for item in ijson.items(stream, prefix, buf_size=_IJSON_BUF):
                if not isinstance(item, dict):
                    skipped += 1
                    continue
                for key in _flatten(item):
                    if key not in keys:
                        keys[key] = None
                        if len(keys) > max_columns:
                            raise _too_many_columns(max_columns)
        columns = list(keys)
        written = 0
        f, writer = _open_csv(dst)
        with f, _Utf8Stream(src, encoding) as stream:
            writer.writerow(columns)
            for item in ijson.items(stream, prefix, buf_size=_IJSON_BUF):
                if not isinstance(item, dict):
                    continue
                flat = _flatten(item)
                writer.writerow([_value_text(flat.get(k)) for k in columns])
                written += 1
    except ijson.JSONError as exc:
        raise _syntax_error(src, encoding, "json_invalid", exc) from exc
    return JsonReport(rows_written=written, columns=columns, root_path=root, skipped_items=skipped, encoding=encoding)


# ---------------------------------------------------------------------------------------------
# GeoJSON
# ---------------------------------------------------------------------------------------------


@dataclass
class GeoReport:
    features: int
    geometry_types: dict[str, int]
    bbox_wgs84: list[float] | None  # [min lon, min lat, max lon, max lat]
    crs: str  # "EPSG:4326" when the file names none (RFC 7946) or names CRS84
    columns: list[str]
    null_geometries: int = 0
    invalid_geometries: int = 0  # geometries shapely could not read (left out of the bbox)
    outside_korea: bool = False  # bbox not inside lon 124–132, lat 33–39 (a note, not an error)
    encoding: str = "utf-8"
    source_bbox: list[float] | None = field(default=None)  # in the file's own CRS
    # The simplified, bounded features for the map (catalog.ingest.maps.FeatureLayer) when the file has lines
    # or polygons; a file of points only is drawn from its longitude/latitude columns instead.
    map_layer: dict | None = None


def _geo_invalid(detail: str) -> IngestError:
    return IngestError(
        "geojson_invalid",
        _(
            'The file is not a GeoJSON FeatureCollection (an object with "type": "FeatureCollection" and a '
            '"features" list). Export the layer again as GeoJSON, e.g. in QGIS with “Export > Save Features '
            "As… > GeoJSON”."
        ),
        detail=detail,
    )


def _geo_header(path, encoding) -> tuple[str | None, str | None, bool]:
    """(top-level type, crs name, whether a "features" array exists), reading parse events only
    up to the start of "features"; a "type"/"crs" after the features costs one C-level scan."""
    top_type = crs_name = None
    has_features = seen_type = seen_crs = False
    with _Utf8Stream(path, encoding) as stream:
        for prefix, event, value in ijson.parse(stream, buf_size=_IJSON_BUF):
            if prefix == "" and event not in ("start_map", "map_key", "end_map"):
                raise _geo_invalid(f"top level is {event}")
            if prefix == "type":
                seen_type, top_type = True, value
            elif prefix == "crs":
                seen_crs = True
            elif prefix == "crs.properties.name":
                crs_name = value
            elif prefix == "features" and event == "start_array":
                has_features = True
                break
    if has_features and not seen_type:
        with _Utf8Stream(path, encoding) as stream:
            top_type = next(ijson.items(stream, "type", buf_size=_IJSON_BUF), None)
    if has_features and not seen_crs:
        with _Utf8Stream(path, encoding) as stream:
            crs_name = next(ijson.items(stream, "crs.properties.name", buf_size=_IJSON_BUF), None)
    return top_type, crs_name, has_features


def _resolve_crs(name):
    """(pyproj CRS or None for WGS84 lon/lat, label)."""
    if not name:
        return None, "EPSG:4326"
    if "CRS84" in str(name).upper():
        return None, "EPSG:4326"
    try:
        crs = CRS.from_user_input(str(name))
    except CRSError as exc:
        raise IngestError(
            "geojson_crs",
            _fmt(
                _(
                    "The file names a coordinate system we do not recognise (%(crs)s). Export it again in WGS84 "
                    "(EPSG:4326) or in a Korean system such as EPSG:5179 or EPSG:5186."
                ),
                {"crs": str(name)[:100]},
            ),
            detail=str(exc)[:300],
        ) from exc
    epsg = crs.to_epsg()
    if epsg == 4326:
        return None, "EPSG:4326"
    return crs, f"EPSG:{epsg}" if epsg else crs.to_string()


def _unique(name: str, taken) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}_{n}", n + 1
    return candidate


_NUMBER_TYPES = (int, float)


def _xy(coords) -> tuple[float, float] | None:
    """(x, y) of a Point's coordinates, or None if they are not 2 or 3 numbers."""
    if type(coords) is list and 2 <= len(coords) <= 3:
        x, y = coords[0], coords[1]
        if type(x) in _NUMBER_TYPES and type(y) in _NUMBER_TYPES:
            return float(x), float(y)
    return None


def _rings(geom, depth: int = 0):
    """The linear rings of a Polygon, MultiPolygon or GeometryCollection (nested), as they are
    written; malformed coordinates yield nothing (shapely counts them as invalid)."""
    if not isinstance(geom, dict) or depth > 8:
        return
    gtype, coords = geom.get("type"), geom.get("coordinates")
    if gtype == "Polygon" and type(coords) is list:
        yield from (ring for ring in coords if type(ring) is list)
    elif gtype == "MultiPolygon" and type(coords) is list:
        for polygon in coords:
            if type(polygon) is list:
                yield from (ring for ring in polygon if type(ring) is list)
    elif gtype == "GeometryCollection" and type(geom.get("geometries")) is list:
        for part in geom["geometries"]:
            yield from _rings(part, depth + 1)


def _ring_problem(geom) -> str | None:
    """ "short" (fewer than 4 positions) or "open" (last position not the first) for the first bad
    ring (RFC 7946 §3.1.6). shapely closes an open ring silently, so the file would pass while a
    buyer's GIS refuses it."""
    for ring in _rings(geom):
        if len(ring) < 4:
            return "short"
        if ring[0] != ring[-1]:
            return "open"
    return None


def _ring_error(number: int, problem: str) -> IngestError:
    if problem == "short":
        message = _(
            "Feature %(number)s (counting from 1) has a polygon ring with fewer than 4 positions. In GeoJSON every "
            "ring of a polygon needs at least 4 positions, the last one the same as the first. Fix the geometry "
            "(in QGIS: Vector > Geometry Tools > Fix Geometries) and export the file again."
        )
    else:
        message = _(
            "Feature %(number)s (counting from 1) has a polygon ring that is not closed: its last position is not "
            "the same as its first. In GeoJSON every ring of a polygon must end where it starts. Fix the geometry "
            "(in QGIS: Vector > Geometry Tools > Fix Geometries) and export the file again."
        )
    return IngestError(
        "geojson_ring",
        _fmt(message, {"number": f"{number:,}"}),
        detail=f"features[{number - 1}]: ring {problem}",
    )


def geojson_to_csv(src, dst) -> GeoReport:
    """Write the features of the GeoJSON FeatureCollection `src` to `dst` as CSV: one row per
    feature with its properties (union of keys, first-seen order; nested values as JSON text),
    an `id` column if any feature has an id, `geometry_type`, and for Point features
    `longitude`/`latitude` in WGS84 (transformed if the file is in another CRS). Our columns get
    a `_2` suffix if a property already has the name.

    The bbox is the union of shapely's `shape(geometry).bounds` over the features, computed in
    the file's CRS (the legacy `crs` member, e.g. urn:ogc:def:crs:EPSG::5179; none means WGS84
    per RFC 7946) and transformed with pyproj `transform_bounds` to EPSG:4326.

    Codes: geojson_invalid (not JSON, with line and column; or not a FeatureCollection),
    geojson_encoding, geojson_crs (unknown CRS name, or a bbox outside lon ±180 / lat ±90 —
    typically projected metres in a file without a `crs`, or latitude and longitude swapped).
    """
    encoding = _text_encoding(src, "geojson_encoding")
    try:
        return _geojson_to_csv(src, dst, encoding)
    except ijson.JSONError as exc:
        raise _syntax_error(src, encoding, "geojson_invalid", exc) from exc


def _geojson_to_csv(src, dst, encoding) -> GeoReport:
    top_type, crs_name, has_features = _geo_header(src, encoding)
    if top_type != "FeatureCollection" or not has_features:
        raise _geo_invalid(f"type={top_type!r}, features={'yes' if has_features else 'no'}")
    crs, crs_label = _resolve_crs(crs_name)

    keys: dict[str, None] = {}
    types: Counter = Counter()
    count = nulls = invalid = 0
    has_id = False
    minx = miny = math.inf
    maxx = maxy = -math.inf
    with _Utf8Stream(src, encoding) as stream:
        for feature in ijson.items(stream, "features.item", use_float=True, buf_size=_IJSON_BUF):
            if not isinstance(feature, dict):
                raise _geo_invalid(f"feature {count + 1} is not an object")
            count += 1
            props = feature.get("properties")
            if isinstance(props, dict):
                for key in props:
                    if key not in keys:
                        keys[key] = None
            if feature.get("id") is not None:
                has_id = True
            geom = feature.get("geometry")
            if not geom:
                nulls += 1
                continue
            gtype = geom.get("type") if isinstance(geom, dict) else None
            types[gtype if isinstance(gtype, str) else "unknown"] += 1
            if problem := _ring_problem(geom):
                raise _ring_error(count, problem)
            try:
                if gtype == "Point" and (xy := _xy(geom.get("coordinates"))):
                    bx0, by0 = bx1, by1 = xy  # what shapely's bounds give, 3x faster
                else:
                    bx0, by0, bx1, by1 = shape(geom).bounds
            except Exception:  # noqa: BLE001 — shapely raises several types on malformed geometries
                invalid += 1
                continue
            if math.isnan(bx0):  # empty geometry
                continue
            minx, miny = min(minx, bx0), min(miny, by0)
            maxx, maxy = max(maxx, bx1), max(maxy, by1)

    source_bbox = None if minx == math.inf else [minx, miny, maxx, maxy]
    bbox = source_bbox
    transformer = None
    if crs is not None:
        transformer = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        if source_bbox is not None:
            try:
                bbox = list(transformer.transform_bounds(*source_bbox, densify_pts=21))
            except Exception:  # noqa: BLE001 — pyproj raises ProjError for out-of-domain input
                bbox = [math.inf] * 4
    if bbox is not None:
        bx0, by0, bx1, by1 = bbox
        if not all(math.isfinite(v) for v in bbox) or not (-180 <= bx0 <= bx1 <= 180 and -90 <= by0 <= by1 <= 90):
            raise IngestError(
                "geojson_crs",
                _fmt(
                    _(
                        "The coordinates do not fit on the globe in the coordinate system %(crs)s, so the coordinate "
                        "system looks wrong (or latitude and longitude are swapped). If the file uses a Korean "
                        "system such as EPSG:5179 or EPSG:5186, export it again with that system declared, or in "
                        "WGS84 (EPSG:4326)."
                    ),
                    {"crs": crs_label},
                ),
                detail=f"bbox={source_bbox} crs={crs_label}",
            )
        bbox = [round(v, 7) for v in bbox]
    outside = bbox is not None and not (
        KOREA_BBOX[0] <= bbox[0] and bbox[2] <= KOREA_BBOX[2] and KOREA_BBOX[1] <= bbox[1] and bbox[3] <= KOREA_BBOX[3]
    )

    prop_columns = list(keys)
    taken = set(prop_columns)
    extra = []
    id_col = None
    if has_id:
        id_col = _unique("id", taken)
        taken.add(id_col)
        extra.append(id_col)
    type_col = _unique("geometry_type", taken)
    taken.add(type_col)
    extra.append(type_col)
    with_points = types.get("Point", 0) > 0
    if with_points:
        lon_col = _unique("longitude", taken)
        taken.add(lon_col)
        lat_col = _unique("latitude", taken)
        extra += [lon_col, lat_col]
    columns = prop_columns + extra

    layer = FeatureLayer(bbox, transformer) if bbox is not None and set(types) - {"Point"} else None
    f, writer = _open_csv(dst)
    with f, _Utf8Stream(src, encoding) as stream:
        writer.writerow(columns)
        batch: list[list[str]] = []
        xs: list[float] = []
        ys: list[float] = []
        slots: list[int] = []  # rows of the batch whose point needs lon/lat

        def flush():
            if transformer is not None and slots:
                lons, lats = transformer.transform(xs, ys)
                for i, lon, lat in zip(slots, lons, lats):
                    batch[i][-2], batch[i][-1] = _float_coord(lon), _float_coord(lat)
            writer.writerows(batch)
            batch.clear(), xs.clear(), ys.clear(), slots.clear()

        for feature in ijson.items(stream, "features.item", use_float=True, buf_size=_IJSON_BUF):
            props = feature.get("properties")
            props = props if isinstance(props, dict) else {}
            row = [_value_text(props.get(k)) for k in prop_columns]
            if id_col:
                row.append(_value_text(feature.get("id")))
            geom = feature.get("geometry")
            gtype = geom.get("type") if isinstance(geom, dict) else None
            row.append(gtype if isinstance(gtype, str) else "")
            if layer is not None:
                layer.add(geom)
            if with_points:
                lon = lat = ""
                if gtype == "Point":
                    xy = _xy(geom.get("coordinates"))
                    if xy:
                        x, y = xy
                        if transformer is None:
                            lon, lat = repr(x), repr(y)
                        else:
                            slots.append(len(batch))
                            xs.append(x)
                            ys.append(y)
                row += [lon, lat]
            batch.append(row)
            if len(batch) >= 5000:
                flush()
        flush()

    return GeoReport(
        features=count,
        geometry_types=dict(types),
        bbox_wgs84=bbox,
        crs=crs_label,
        columns=columns,
        null_geometries=nulls,
        invalid_geometries=invalid,
        outside_korea=outside,
        encoding=encoding,
        source_bbox=source_bbox,
        map_layer=layer.result(bbox) if layer is not None else None,
    )


def _float_coord(value: float) -> str:
    return repr(round(value, 7)) if math.isfinite(value) else ""
