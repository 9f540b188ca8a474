"""Files the portal generates for spreadsheets: the free sample of a data file as CSV, and the rules
(shared with the package's Excel copy, transactions.delivery.packaging) that keep formulas out of them."""

import csv
import io
import re
from pathlib import PurePath
from urllib.parse import quote

BOM = "\ufeff"
# A cell starting with one of these is a formula to Excel and LibreOffice (CSV injection, OWASP): such
# text cells get a leading apostrophe, which spreadsheets show as plain text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# ...unless the whole cell is a plain decimal number ("-3.2", "+82", "1e-5", "-1,234.5"): a spreadsheet
# reads it as that number, never as a formula, so it stays a number. Anything else ("+82 10-1234-5678",
# "-2+3", "-5%", "-inf") is text and is neutralised.
NUMBER = r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(NUMBER)


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read the text cell `text` as a formula."""
    return text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text)


def neutralise(value):
    """A cell value safe for a spreadsheet: formula-looking text gets a leading apostrophe."""
    if isinstance(value, str) and looks_like_formula(value):
        return "'" + value
    return value


def _cell(value):
    return "" if value is None else neutralise(value)


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


class CsvFormulaGuard:
    """Neutralises the formula-looking cells of CSV/TSV text fed to it block by block (the package's
    Excel copy: gigabytes, so no csv module round trip, which costs ~20 s per GB). Quotes are tracked
    across blocks by parity (RFC 4180: a quote inside a quoted field is doubled), a cell starts after a
    delimiter or a line break, and the apostrophe goes where the cell's text begins (inside the quotes
    of a quoted cell). `feed` holds back the text after the last line break until the next block, so
    that no cell is judged on half its text; `cells` counts the cells neutralised."""

    HOLD_LIMIT = 8 << 20  # a line longer than this is cut anyway (see _block)

    def __init__(self, delimiter: str = ","):
        d = re.escape(delimiter)
        starts = "=+\\-@" + ("" if delimiter == "\t" else "\\t")  # a tab is the delimiter of a TSV
        self._unquoted = re.compile(rf"(?<=[{d}\n\r])(?!(?:{NUMBER})(?:[{d}\r\n]|\Z))[{starts}]")
        self._breaks = (delimiter, "\n", "\r")
        self._held = ""
        self._prev = "\n"  # the text starts a record
        self._in_quote = False
        self.cells = 0

    def feed(self, text: str) -> str:
        text = self._held + text
        cut = text.rfind("\n") + 1
        if not cut and len(text) < self.HOLD_LIMIT:
            self._held = text
            return ""
        cut = cut or len(text)
        self._held = text[cut:]
        return self._block(text[:cut])

    def finish(self) -> str:
        text, self._held = self._held, ""
        return self._block(text) if text else ""

    def _block(self, text: str) -> str:
        segments = text.split('"')
        inside = self._in_quote
        last = len(segments) - 1
        for i, seg in enumerate(segments):
            if not inside:
                if seg:
                    if i == 0:  # the character before the block tells whether a cell starts at once
                        new, n = self._unquoted.subn("'\\g<0>", self._prev + seg)
                        new = new[1:]
                    else:  # right after a closing quote: no cell starts at 0
                        new, n = self._unquoted.subn("'\\g<0>", seg)
                    if n:
                        segments[i], self.cells = new, self.cells + n
            elif i > 0 and seg.startswith(FORMULA_START):
                before = segments[i - 1][-1:] or (self._prev if i == 1 else '"')
                escaped = i + 2 <= last and segments[i + 1] == ""  # a doubled quote follows: more text
                if before in self._breaks and (escaped or not _NUMBER.fullmatch(seg)):
                    segments[i], self.cells = "'" + seg, self.cells + 1
            if i < last:
                inside = not inside
        self._in_quote = inside
        self._prev = text[-1]
        return '"'.join(segments)
