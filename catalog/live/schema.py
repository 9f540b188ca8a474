"""The schema of a live table and the validation of pushed rows. Pure functions (no database).

Columns come from a published file's Table Schema with its data dictionary merged in, in the shape of
QueryTable.columns. A pushed row is a JSON object by column name; each value is checked against its column's
Table Schema type and normalised to a JSON value the query store reads back the same way:

- integer / year → int (a JSON number, or a string of digits with optional thousands separators "1,234")
- number → float (a JSON number or a numeric string; NaN and infinities refused)
- boolean → true/false (also "true"/"false", "Y"/"N", "예"/"아니오")
- date → "YYYY-MM-DD" (ISO, or the column's own format such as 2024.06.01 or 20240601)
- datetime → "YYYY-MM-DDTHH:MM:SS" in Korean time (KST): an ISO datetime with an offset (…+09:00, …Z) is converted
  to KST; one without is taken as KST already; the column's own format is accepted too
- time → "HH:MM:SS"; string → str (numbers are turned into text)
Empty values (null, "", "-") are null; a column marked required refuses them. Unknown columns are refused, so a
typo never loses data silently.
"""

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.romanize import romanize
from core.text import lazy_percent

KST = ZoneInfo("Asia/Seoul")

DUCKDB_TYPES = {
    "integer": "BIGINT",
    "year": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "time": "TIME",
}
NULLS = {"", "-", "null", "NULL", "None", "N/A", "NA"}
_TRUE = {"true", "t", "y", "yes", "1", "예", "참"}
_FALSE = {"false", "f", "n", "no", "0", "아니오", "아니요", "거짓"}
_INT_RE = re.compile(r"[+-]?\d+")
_GROUPED_INT_RE = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
_NUM_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_GROUPED_NUM_RE = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
# integer columns are BIGINT in the query store (DuckDB) and in the live table's files
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def table_name(text: str, taken=()) -> str:
    """An ASCII identifier [a-z][a-z0-9_]* (≤ 63) for a file name, Hangul romanised (시흥_대기질.csv → siheung_daegijil)."""
    stem = re.sub(r"\.(csv|tsv|xlsx|json|geojson)$", "", text or "", flags=re.I)
    name = re.sub(r"[^a-z0-9]+", "_", romanize(stem).lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"t_{name}" if name else "live"
    name = name[:55]
    base, n = name, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def columns_from_datafile(datafile) -> list[dict]:
    """The columns of a published file (its Table Schema and data dictionary), as a live table keeps them."""
    masked = {f.get("column") for f in datafile.pii_findings or [] if isinstance(f, dict)}
    dictionary = datafile.dictionary or {}
    columns = []
    for field in (datafile.table_schema or {}).get("fields") or []:
        kind = field.get("type") or "string"
        entry = dictionary.get(field["name"]) or {}
        columns.append(
            {
                "name": field["name"],
                "type": DUCKDB_TYPES.get(kind, "VARCHAR"),
                "schema_type": kind,
                "format": field.get("format") or "",
                "masked": field["name"] in masked,
                "required": bool((field.get("constraints") or {}).get("required")),
                "description_ko": entry.get("description_ko", ""),
                "description_en": entry.get("description_en", ""),
                "unit": entry.get("unit", ""),
            }
        )
    return columns


class RowInvalid(DomainError):
    """A pushed row does not fit the table: the whole batch is refused. `row` is 1-based, `column` may be ""."""

    def __init__(self, message, *, row: int, column: str = "", code: str = "row_invalid"):
        super().__init__(message, code=code)
        self.row = row
        self.column = column


class _Problem(Exception):
    def __init__(self, reason):
        super().__init__(str(reason))
        self.reason = reason  # lazy text


def _strptime(text: str, fmt: str):
    return dt.datetime.strptime(text, fmt)


_DATE_FORMATS = ("%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d", "%Y%m%d", "%Y. %m. %d", "%Y년 %m월 %d일")
_DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y%m%d%H%M%S",
    "%Y%m%d%H%M",
)


def _datetime(text: str, fmt: str) -> str:
    value = None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        for candidate in ((fmt,) if fmt and fmt not in ("any", "default") else ()) + _DATETIME_FORMATS:
            try:
                value = _strptime(text, candidate)
                break
            except ValueError:
                continue
    if value is None:
        raise _Problem(_("not a date and time (e.g. 2026-12-05T14:30:00+09:00)"))
    if value.tzinfo is not None:
        value = value.astimezone(KST).replace(tzinfo=None)
    return value.isoformat(timespec="seconds" if not value.microsecond else "microseconds")


def _date(text: str, fmt: str) -> str:
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    for candidate in ((fmt,) if fmt and fmt not in ("any", "default") else ()) + _DATE_FORMATS:
        try:
            return _strptime(text, candidate).date().isoformat()
        except ValueError:
            continue
    raise _Problem(_("not a date (e.g. 2026-12-05)"))


def _time(text: str) -> str:
    try:
        return dt.time.fromisoformat(text).isoformat(timespec="seconds")
    except ValueError:
        raise _Problem(_("not a time (e.g. 14:30:00)")) from None


def _number(value) -> float:
    if isinstance(value, bool):
        raise _Problem(_("not a number"))
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        text = str(value).strip()
        if _NUM_RE.fullmatch(text):
            number = float(text)
        elif _GROUPED_NUM_RE.fullmatch(text):
            number = float(text.replace(",", ""))
        else:
            raise _Problem(_("not a number"))
    if math.isnan(number) or math.isinf(number):
        raise _Problem(_("not a finite number"))
    return number


def _integer(value) -> int:
    number = _whole(value)
    if not INT_MIN <= number <= INT_MAX:
        # A larger one would be stored, then break every query and compaction of the table (BIGINT).
        raise _Problem(_("a whole number too large for the table (at most 19 digits)"))
    return number


def _whole(value) -> int:
    if isinstance(value, bool):
        raise _Problem(_("not a whole number"))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise _Problem(_("not a whole number"))
    text = str(value).strip()
    if _INT_RE.fullmatch(text):
        return int(text)
    if _GROUPED_INT_RE.fullmatch(text):
        return int(text.replace(",", ""))
    raise _Problem(_("not a whole number"))


def _boolean(value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Problem(_("not true or false"))


def _check_storable(value) -> None:
    """PostgreSQL's jsonb holds no NUL character and UTF-8 no lone surrogate (e.g. a JSON "\\ud800"): such a text
    is refused with its row rather than failing the whole request."""
    if isinstance(value, str):
        if "\x00" in value:
            raise _Problem(_("a text with a NUL character, which cannot be stored"))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Problem(_("a text with an invalid character (a lone surrogate), which cannot be stored")) from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key)
            _check_storable(item)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item)


def normalise_value(column: dict, value):
    """The stored JSON value of `value` in `column`, or _Problem. None for an empty value."""
    _check_storable(value)
    if value is None or (isinstance(value, str) and value.strip() in NULLS):
        return None
    kind = column.get("schema_type") or "string"
    fmt = column.get("format") or ""
    if kind in ("integer", "year"):
        return _integer(value)
    if kind == "number":
        return _number(value)
    if kind == "boolean":
        return _boolean(value)
    if isinstance(value, (dict, list)):
        if kind in ("object", "array", "geojson", "geopoint", "any"):
            return value
        raise _Problem(_("a list or an object where a single value is expected"))
    text = str(value).strip()
    if kind == "date":
        return _date(text, fmt)
    if kind == "datetime":
        return _datetime(text, fmt)
    if kind == "time":
        return _time(text)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if not isinstance(value, str) else value


def _shown(value) -> str:
    """A value quoted in an error message: short, and printable in a UTF-8 answer (no NUL, no lone surrogate)."""
    text = str(value)[:80].replace("\x00", "\\u0000")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def validate_rows(columns: list[dict], rows) -> list[dict]:
    """Every row normalised (a dict with exactly the table's columns), or RowInvalid for the first bad one."""
    if not isinstance(rows, list) or not rows:
        raise RowInvalid(_("Send the rows as a non-empty JSON list under “rows”."), row=0, code="rows_missing")
    by_name = {c["name"]: c for c in columns}
    out = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            raise RowInvalid(
                lazy_percent(_("Row %(row)s is not a JSON object of column names and values."), {"row": number}),
                row=number,
            )
        unknown = [name for name in row if name not in by_name]
        if unknown:
            raise RowInvalid(
                lazy_percent(
                    _("Row %(row)s: the table has no column “%(column)s” (its columns: %(columns)s)."),
                    {"row": number, "column": _shown(unknown[0]), "columns": ", ".join(by_name)},
                ),
                row=number,
                column=_shown(unknown[0]),
            )
        clean = {}
        for column in columns:
            name = column["name"]
            try:
                value = normalise_value(column, row.get(name))
            except _Problem as problem:
                raise RowInvalid(
                    lazy_percent(
                        _("Row %(row)s, column “%(column)s”: %(reason)s (value: “%(value)s”)."),
                        {"row": number, "column": name, "reason": problem.reason, "value": _shown(row.get(name))},
                    ),
                    row=number,
                    column=name,
                ) from None
            if value is None and column.get("required"):
                raise RowInvalid(
                    lazy_percent(
                        _("Row %(row)s, column “%(column)s”: a value is required."), {"row": number, "column": name}
                    ),
                    row=number,
                    column=name,
                )
            clean[name] = value
        out.append(clean)
    return out
