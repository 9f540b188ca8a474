"""Files the public pages hand out: the free sample of a data file as CSV."""

import csv
import io
from pathlib import PurePath
from urllib.parse import quote

BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection): such text
# cells get a leading apostrophe, which spreadsheets show as plain text. Numbers are never touched.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def sample_csv(preview: dict) -> bytes:
    """The preview rows (already masked where the checks found personal data) as CSV: UTF-8 with a
    byte-order mark, so that Excel opens Korean text correctly, and CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell(c) for c in preview.get("columns") or []])
    for row in preview.get("rows") or []:
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8")


def attachment_header(filename: str, fallback: str) -> str:
    """Content-Disposition for a download: an ASCII `filename` for old clients and the real (Korean)
    name as RFC 5987 `filename*`, which every current browser prefers."""
    safe_fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in fallback)
    return f"attachment; filename=\"{safe_fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def sample_filename(original_name: str) -> str:
    return f"{PurePath(original_name).stem}_sample.csv"
