"""Files the portal generates for spreadsheets: the free sample of a data file as CSV, and the rules
(shared with the package's Excel copy, transactions.delivery.packaging) that keep formulas out of them."""

import csv
import io
import re
from pathlib import PurePath
from urllib.parse import quote

from django.http import HttpResponse, StreamingHttpResponse

BOM = "\ufeff"
SAMPLE_CONTENT_TYPE = "text/csv; charset=utf-8"
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


def sample_csv_chunks(preview: dict, rows_per_chunk: int = 100):
    """The preview rows (already masked where the checks found personal data) as CSV, in UTF-8 chunks: a
    byte-order mark first, so that Excel opens Korean text correctly, and CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell(c) for c in preview.get("columns") or []])
    for i, row in enumerate(preview.get("rows") or [], 1):
        writer.writerow([_cell(v) for v in row])
        if i % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode("utf-8")


def sample_csv(preview: dict) -> bytes:
    """The whole sample CSV (sample_csv_chunks) as one byte string."""
    return b"".join(sample_csv_chunks(preview))


def sample_response(datafile, slug: str, *, stream: bool = False):
    """The free sample download of a file (the dataset page's link and the API's sample.csv): its CSV with the
    file's name (a sheet's table named after its workbook and sheet) and an ASCII fallback name."""
    if stream:
        response = StreamingHttpResponse(sample_csv_chunks(datafile.preview), content_type=SAMPLE_CONTENT_TYPE)
    else:
        response = HttpResponse(sample_csv(datafile.preview), content_type=SAMPLE_CONTENT_TYPE)
    name = (
        sample_filename(datafile.parent.original_name, sheet=datafile.original_name)
        if datafile.is_sheet
        else sample_filename(datafile.original_name)
    )
    response["Content-Disposition"] = attachment_header(name, fallback=f"{slug}-v{datafile.version.number}-sample.csv")
    return response


def attachment_header(filename: str, fallback: str) -> str:
    """Content-Disposition for a download: an ASCII `filename` for old clients and the real (Korean)
    name as RFC 5987 `filename*`, which every current browser prefers."""
    safe_fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in fallback)
    return f"attachment; filename=\"{safe_fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


# Characters Windows, macOS or a shell refuse or misread in a file name (a sheet name may hold any
# of them except \\ / ? * [ ] :, and non-Excel tools write those too).
_UNSAFE_IN_NAME = re.compile(r'[\\/:*?"<>|\[\]\x00-\x1f\x7f]+')


def safe_name_part(text: str) -> str:
    """`text` usable inside a file name: unsafe characters become "_", no leading dot or space."""
    return _UNSAFE_IN_NAME.sub("_", text).strip().lstrip(".").strip() or "sheet"


def sample_filename(original_name: str, *, sheet: str | None = None) -> str:
    """`통계_sample.csv`; the sample of one sheet's table of a workbook: `통계_1월 현황_sample.csv`."""
    stem = PurePath(original_name).stem
    return f"{stem}_{safe_name_part(sheet)}_sample.csv" if sheet is not None else f"{stem}_sample.csv"


class CsvFormulaGuard:
    """Neutralises the formula-looking cells of CSV/TSV data (UTF-8 bytes) fed to it block by block: the
    package's Excel copy, gigabytes long. In UTF-8 the delimiter, quotes, line breaks and formula
    characters are single ASCII bytes never found inside another character, so the candidates (a
    formula character right after a delimiter, a line break or an opening quote) are found with numpy
    over whole blocks (~3 s per GB; Python's re scans ~15 s per GB, a csv round trip ~20 s) and only
    they are looked at one by one. Quotes are tracked by parity across blocks (RFC 4180: a quote inside
    a quoted field is doubled); the apostrophe goes where the cell's text begins (inside the quotes of a
    quoted cell). `feed` holds back the bytes after the last line break until the next block, so that
    no cell is judged on half its text; `cells` counts the cells neutralised."""

    HOLD_LIMIT = 8 << 20  # a line longer than this is cut anyway (a cell at the cut may be misjudged)

    def __init__(self, delimiter: str = ","):
        # heavy: numpy costs a web process ~0.1 s at import; only the package worker streams files.
        import numpy as np

        self._np = np
        d = delimiter.encode()
        breaks = d + b"\n\r"
        unquoted = b"=+-@" + (b"" if delimiter == "\t" else b"\t")  # a tab is the delimiter of a TSV
        # Whole blocks are compared byte by byte (SIMD, ~0.15 ms per MiB each), not looked up in a
        # table (~1.4 ms per MiB); the table serves the few opening quotes.
        self._breaks, self._unquoted_starts = list(breaks), list(unquoted)
        self._is_quoted_start = np.zeros(256, dtype=bool)
        self._is_quoted_start[list(b"=+-@\t\r")] = True
        number = NUMBER.encode()
        self._unquoted_number = re.compile(rb"(?:" + number + rb")(?:[" + re.escape(d) + rb"\r\n]|\Z)")
        self._quoted_number = re.compile(rb"(?:" + number + rb')"(?!")')
        self._held = b""
        self._prev = b"\n"  # the data starts a record
        self._in_quote = False
        self.cells = 0

    def feed(self, data: bytes) -> bytes:
        data = self._held + data if self._held else data
        cut = data.rfind(b"\n") + 1
        if not cut and len(data) < self.HOLD_LIMIT:
            self._held = data
            return b""
        cut = cut or len(data)
        self._held = data[cut:]
        return self._block(data[:cut])

    def finish(self) -> bytes:
        data, self._held = self._held, b""
        return self._block(data) if data else b""

    @staticmethod
    def _any_of(arr, values):
        mask = arr == values[0]
        for v in values[1:]:
            mask |= arr == v
        return mask

    def _block(self, data: bytes) -> bytes:
        np = self._np
        arr = np.frombuffer(self._prev + data, dtype=np.uint8)  # arr[i + 1] is data[i]
        after_break = self._any_of(arr[:-1], self._breaks)
        quotes = np.flatnonzero(arr[1:] == 34) + 1  # arr[0] (the byte before) was counted with its block
        # Unquoted cells: a formula character right after a delimiter or a line break, outside quotes.
        starts = np.flatnonzero(after_break & self._any_of(arr[1:], self._unquoted_starts))  # index into data
        if len(quotes) or self._in_quote:
            # Quotes before a byte (arr index i + 1 is data[i]): odd (with the carried state) means inside.
            before = np.searchsorted(quotes, starts + 1) + self._in_quote
            starts = starts[before % 2 == 0]
            # Quoted cells: an opening quote right after a break, then a formula character.
            opening = quotes[(np.arange(len(quotes)) + self._in_quote) % 2 == 0]
            opening = opening[opening < len(arr) - 1]
            quoted = opening[after_break[opening - 1] & self._is_quoted_start[arr[opening + 1]]]
            # (the arr index of a quote is the data index of the cell's first character)
        else:
            quoted = starts[:0]
        inserts = [int(i) for i in starts if not self._unquoted_number.match(data, int(i))]
        inserts += [int(i) for i in quoted if not self._quoted_number.match(data, int(i))]
        self._in_quote = bool((len(quotes) + self._in_quote) % 2)
        self._prev = data[-1:]
        if not inserts:
            return data
        inserts.sort()
        self.cells += len(inserts)
        pieces, last = [], 0
        for i in inserts:
            pieces += (data[last:i], b"'")
            last = i
        pieces.append(data[last:])
        return b"".join(pieces)
