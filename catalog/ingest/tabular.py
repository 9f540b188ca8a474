"""Structure, Table Schema, profile and preview of a UTF-8 CSV/TSV file, with DuckDB.

`analyse_csv` reads the file a few times in streams (DuckDB, bounded memory), never whole into
Python:

1. dialect: DuckDB's `sniff_csv` proposes delimiter and quote; the column names are read from
   line 1 by us. If the sniffer's delimiter does not split line 1 (it answers "one `|` column"
   for files with ragged rows), the delimiter among , TAB ; | that splits it into most columns
   is used instead.
2. types, on the first 20,480 rows read as text: each column gets the first type whose parser
   accepts every non-empty value: boolean (true/false), integer, number, number with thousands
   separators ("12,345"), date (2024-01-01, 2024.01.01, 2024/01/01, 2024. 1. 1., 2024년 1월 1일),
   datetime, time, otherwise string. Empty markers: "", "-", "NA", "N/A", "null", "NULL".
   DuckDB's own type sniffing is not used: it leaves the Korean forms as text and takes one
   date format for the whole file.
3. full pass (one aggregate query): exact row count, strict structure (`strict_mode` with the
   column count of line 1 fixed, so a line with a different number of values or an unclosed
   quote raises with its line number), per-column counts, min/max/mean/std, approximate
   distinct counts (HyperLogLog) and top-value candidates, and the check that every value really
   has the type chosen on the sample. A column that fails falls back (integer → number → number
   with separators → string) and only those columns are read again.
4. second pass: equal-width histograms of numeric columns, counts over time of date, date-time
   and time columns, exact counts of the top values, and exact distinct counts of the columns
   whose estimate fits `exact_distinct_limit` (a hash table of those values; the others keep the
   estimate, flagged `distinct_approximate`).
5. preview: the first rows as written in the file (raw text), with a mark for each cell that is
   read as empty (a marker such as "-") or does not read as its column's type.

Memory: DuckDB rewrites `histogram(x)` next to other aggregates into a plan that materialises
the whole input (it grew with the file, up to `memory_limit`), so counts per bucket use
`histogram(x, [bucket numbers])` and `histogram_exact`, which it aggregates in a stream.

Internally the columns are called c0, c1, … so that names with quotes, spaces or different
case never reach SQL.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import math
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field

import duckdb
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy, pgettext_lazy

from .errors import IngestError
from .errors import lazy_format as _fmt

NULL_MARKERS = ["", "-", "NA", "N/A", "null", "NULL"]
SAMPLE_ROWS = 20480  # rows used to choose types; the full pass then checks every row
CANDIDATE_DELIMITERS = [",", "\t", ";", "|"]
MAX_FALLBACK_PASSES = 3
MAX_TEXT = 200  # characters of one value shown in the report (min/max, top values, preview)
CSV_BUFFER_SIZE = 4 << 20  # DuckDB reads 32 MiB buffers by default; 4 MiB costs no speed and ~50 MB of RSS less
# Distinct values counted exactly in one file, summed over its columns (by their estimates): a hash
# table of ~90 bytes a value (measured: 5 M values of ~30 characters, 440 MB); beyond DuckDB's
# memory_limit it spills to the work directory, so the limit bounds time and disk, not RSS.
EXACT_DISTINCT_LIMIT = 1_000_000
MOSTLY_SHARE = 0.8  # a text column with this share of sample values of one kind: the preview marks the rest
TIMELINE_MAX_BINS = 60  # bars of a date chart (at most; hours 49, days 62, months 72 see _timeline_plan)


def _lit(value: str) -> str:
    """A SQL string literal (DuckDB strings take backslashes literally)."""
    return "'" + str(value).replace("'", "''") + "'"


def _sql(template: str, column: str) -> str:
    return template.replace("{c}", column)


_INT_RE = r"\s*[+-]?[0-9]+\s*"
_NUM_RE = r"\s*[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?\s*"
# "12,345" (groups of three) or a plain "12345"; a column needs one value with a comma to qualify.
# "1,2" or "1,2345" never match: in a file delimited by ";" such a comma is a decimal comma.
_GROUPED_INT_RE = r"\s*[+-]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)\s*"
_GROUPED_RE = r"\s*[+-]?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)([.][0-9]+)?\s*"

# (frictionless type, format, SQL template over {c}); the first that accepts all values wins.
# `format` is the strptime pattern for Frictionless (None = its default ISO format).
_DATE_FORMATS = ["%Y-%m-%d", "%Y.%m.%d", "%Y/%m/%d", "%Y.%m.%d.", "%Y. %m. %d.", "%Y. %m. %d", "%Y년 %m월 %d일"]
_DATETIME_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y. %m. %d. %H:%M:%S",
    "%Y. %m. %d. %H:%M",
]
_TIME_FORMATS = ["%H:%M:%S", "%H:%M"]
_ISO_FORMATS = {"%Y-%m-%d", "%H:%M:%S"}  # Table Schema defaults for date and time (datetime wants a Z)


_SHAPES = {
    "%Y": "[0-9]{4}",
    "%m": "[0-9]{1,2}",
    "%d": "[0-9]{1,2}",
    "%H": "[0-9]{1,2}",
    "%M": "[0-9]{2}",
    "%S": "[0-9]{2}",
}


def _shape(fmt: str) -> str:
    """A regular expression for the shape of `fmt` (4-digit years): TRY_STRPTIME is slow on values
    it rejects, so it only sees values of the right shape."""
    parts = re.split(r"(%[YmdHMS])", fmt)
    return "".join(
        _SHAPES.get(p) or "".join("\\" + ch if ch in ".^$*+?()[]{}|\\" else ch for ch in p) for p in parts if p
    )


def _strptime(fmt: str, cast: str = "") -> str:
    return f"(CASE WHEN regexp_full_match({{c}}, {_lit(_shape(fmt))}) THEN TRY_STRPTIME({{c}}, {_lit(fmt)}){cast} END)"


# TRY_CAST alone is too lenient ('1.5' → 2, '1_000', '0x10', 'nan'): a regex lets only plain
# numbers reach it (RE2 costs ~20 ns a value).
_INTEGER = (
    "integer",
    None,
    f"(CASE WHEN regexp_full_match({{c}}, {_lit(_INT_RE)}) THEN TRY_CAST({{c}} AS BIGINT) END)",
)
_NUMBER = ("number", None, f"(CASE WHEN regexp_full_match({{c}}, {_lit(_NUM_RE)}) THEN TRY_CAST({{c}} AS DOUBLE) END)")
# Whole amounts with separators are integers (Table Schema v2 gives integer a groupChar): "grouped"
# is only our marker, turned into groupChar on the field; "12,345.5" makes the column a number.
_GROUPED_INT = (
    "integer",
    "grouped",
    f"(CASE WHEN regexp_full_match({{c}}, {_lit(_GROUPED_INT_RE)}) THEN TRY_CAST(replace({{c}}, ',', '') AS BIGINT) END)",
)
_GROUPED = (
    "number",
    "grouped",
    f"(CASE WHEN regexp_full_match({{c}}, {_lit(_GROUPED_RE)}) THEN TRY_CAST(replace({{c}}, ',', '') AS DOUBLE) END)",
)
_CANDIDATES = (
    [
        ("boolean", None, "(CASE lower(trim({c})) WHEN 'true' THEN true WHEN 'false' THEN false END)"),
        _INTEGER,
        _NUMBER,
        _GROUPED_INT,
        _GROUPED,
    ]
    + [("date", f, _strptime(f, "::DATE")) for f in _DATE_FORMATS]
    + [("datetime", f, _strptime(f)) for f in _DATETIME_FORMATS]
    + [
        (
            "datetime",
            "any",
            f"(CASE WHEN regexp_matches({{c}}, {_lit('^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]')}) THEN TRY_CAST({{c}} AS TIMESTAMP) END)",
        )
    ]
    + [("time", f, _strptime(f, "::TIME")) for f in _TIME_FORMATS]
)
_NUMERIC = {"integer", "number", "year"}

_YEAR_NAME = re.compile(r"연도|년도|^년$|(^|[^a-z])(year|yr)([^a-z]|$)")
_LAT_NAME = re.compile(r"위도|latitude|(^|[^a-z])lat([^a-z]|$)|y\s*좌표|좌표\s*\(?\s*y|^y$|(^|[^a-z])y_?coord")
_LON_NAME = re.compile(
    r"경도|longitude|(^|[^a-z])(lon|lng|long)([^a-z]|$)|x\s*좌표|좌표\s*\(?\s*x|^x$|(^|[^a-z])x_?coord"
)
# WGS84 degrees around Korea (Marado 33.1°N … 38.6°N, 124.6°E … Dokdo 131.9°E), with a margin.
_KOREA_LAT = (32.5, 39.5)
_KOREA_LON = (123.5, 132.5)


@dataclass
class ColumnProfile:
    name: str
    type: str  # Frictionless Table Schema type
    format: str | None = None
    count: int = 0  # non-empty values
    nulls: int = 0
    null_ratio: float = 0.0
    distinct: int | None = None
    distinct_approximate: bool = True  # False: counted exactly; True: HyperLogLog estimate (over the limit)
    min: object = None
    max: object = None
    mean: float | None = None
    std: float | None = None
    top_values: list[dict] | None = None  # [{"value", "count"}], exact counts, candidates approximate
    histogram: list[dict] | None = None  # [{"from", "to", "count"}]; see _second_pass
    # dates, date-times and times: {"unit": "hour"|"day"|"month"|"year"|"hour_of_day", "step": n,
    # "bins": [{"from": "2024-01", "count": n}]} (labels in ISO form; every bin from the first to the last)
    timeline: dict | None = None
    geo: str | None = None  # "latitude" | "longitude"
    group_char: str | None = None  # "," for numbers written 12,345


@dataclass
class TableReport:
    row_count: int
    column_count: int
    delimiter: str
    quote: str
    header: bool
    schema: dict
    profile: list[ColumnProfile]  # one per column, in file order
    preview: list[list]  # the first rows as written in the file: text, "" for an empty cell
    notes: list[dict] = field(default_factory=list)  # {"code", "level", "column"?, "message", …}
    # per preview cell: None, "empty" (a marker such as "-" read as empty) or "invalid" (does not read as
    # the column's type, or, in a column kept as text, as the type it was expected to have: preview_expected)
    preview_marks: list[list] = field(default_factory=list)
    preview_expected: list = field(default_factory=list)  # per column: the type a kept-as-text column failed
    type_sample_rows: int = SAMPLE_ROWS

    def to_dict(self) -> dict:
        """JSON-ready: lazy messages rendered in the active language."""
        return _plain(asdict(self))


def analyse_csv(
    utf8_path,
    *,
    preview_rows: int = 20,
    top_values: int = 5,
    histogram_bins: int = 10,
    memory_limit: str = "512MB",
    threads: int = 2,
    exact_distinct_limit: int = EXACT_DISTINCT_LIMIT,
) -> TableReport:
    """Dialect, Table Schema, per-column profile and preview of the UTF-8 CSV at `utf8_path`.

    Raises IngestError: empty_file, ragged_rows, unbalanced_quote, delimiter_unknown, csv_unreadable.
    """
    path = str(utf8_path)
    tmpdir = tempfile.mkdtemp(prefix="ingest-duckdb-")
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "threads": int(threads),
            "temp_directory": tmpdir,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    con.execute("SET enable_progress_bar = false")  # a worker has no terminal to draw it on
    try:
        return _analyse(con, path, preview_rows, top_values, histogram_bins, int(exact_distinct_limit))
    finally:
        con.close()
        shutil.rmtree(tmpdir, ignore_errors=True)


# --- the steps ---------------------------------------------------------------------------------


@dataclass
class _Dialect:
    delimiter: str
    quote: str
    escape: str
    names: list[str]
    notes: list[dict]


@dataclass
class _Plan:
    index: int
    name: str
    type: str
    format: str | None
    expr: str
    grouped: bool = False
    failed: dict | None = None  # set by a full pass whose values do not all fit
    expected: tuple | None = None  # (type, expr) a column kept as text was expected to have


def _analyse(con, path, preview_rows, top_values, histogram_bins, exact_distinct_limit) -> TableReport:
    dialect = _dialect(con, path)
    notes = list(dialect.notes)
    src = source_sql(path, dialect.delimiter, len(dialect.names), quote=dialect.quote, escape=dialect.escape)
    plans = _infer_types(con, src, dialect)
    for plan in plans:
        if plan.format == "grouped":
            plan.grouped, plan.format = True, None
        if plan.failed:
            _fall_back(plan, notes, force_string=True)

    # Full pass, then again for the columns whose values did not all fit their sampled type.
    rows, stats = _full_pass(con, src, plans, top_values, dialect)
    for _attempt in range(MAX_FALLBACK_PASSES + 1):
        failing = [p for p in plans if _check(p, stats[p.index])]
        if not failing:
            break
        for plan in failing:
            if plan.failed["reason"] == "mixed":
                plan.failed["example"] = _bad_example(con, src, plan, dialect)
        for plan in failing:
            _fall_back(plan, notes, force_string=_attempt == MAX_FALLBACK_PASSES)
        _, again = _full_pass(con, src, failing, top_values, dialect)
        stats.update(again)

    profiles = [_profile(p, stats[p.index], rows, notes) for p in plans]
    _locate_by_values(profiles, notes)
    _second_pass(con, src, plans, profiles, histogram_bins, exact_distinct_limit, dialect)
    preview, marks = _preview(con, path, plans, preview_rows, dialect)

    fields = []
    for plan, prof in zip(plans, profiles):
        f = {"name": plan.name, "type": prof.type}
        if prof.format:
            f["format"] = prof.format
        if prof.group_char:
            f["groupChar"] = prof.group_char
        if prof.geo:
            f["geo"] = prof.geo
        fields.append(f)
    return TableReport(
        row_count=rows,
        column_count=len(plans),
        delimiter=dialect.delimiter,
        quote=dialect.quote,
        header=True,
        schema={"fields": fields, "missingValues": list(NULL_MARKERS)},
        profile=profiles,
        preview=preview,
        notes=notes,
        preview_marks=marks,
        preview_expected=[p.expected[0] if p.expected else None for p in plans],
    )


def source_sql(
    path: str, delimiter: str, ncols: int, *, quote: str = '"', escape: str | None = None, header=True, raw=False
) -> str:
    """A DuckDB `read_csv(...)` over the file with every column as VARCHAR named c0…c{n-1}.

    Nothing is auto-detected; `strict_mode` makes a line with another number of values, or an
    unclosed quote, an error that names the line. Shared with `pii.scan_csv`. `raw`: the text as
    written, the empty markers included (only an unquoted empty cell is NULL).
    """
    columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(ncols)) + "}"
    nulls = "['']" if raw else "[" + ", ".join(_lit(v) for v in NULL_MARKERS) + "]"
    return (
        f"read_csv({_lit(path)}, auto_detect=false, columns={columns}, delim={_lit(delimiter)}, "
        f"quote={_lit(quote)}, escape={_lit(escape or quote)}, header={'true' if header else 'false'}, skip=0, "
        f"strict_mode=true, null_padding=false, ignore_errors=false, nullstr={nulls}, "
        f"{'allow_quoted_nulls=false, ' if raw else ''}buffer_size={CSV_BUFFER_SIZE})"
    )


def run_query(con, sql: str, params=None, *, delimiter: str = ","):
    """Execute and fetch all rows, turning DuckDB's CSV errors into IngestErrors for the uploader."""
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.InvalidInputException as exc:
        raise csv_error(str(exc), delimiter) from exc


def _dialect(con, path: str) -> _Dialect:
    with open(path, "rb") as fh:
        head = fh.read(64 * 1024)
    if not head.strip():
        raise IngestError(
            "empty_file", _("The file is empty. Check that you chose the right file, and upload it again.")
        )
    text = head.decode("utf-8-sig", errors="replace")  # a BOM is not part of the first name

    sniff = None
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, SkipRows, HasHeader FROM sniff_csv(?, sample_size=?)",
            [path, SAMPLE_ROWS],
        ).fetchall()
        sniff = row[0] if row else None
    except duckdb.Error:
        sniff = None  # a file the sniffer cannot read: the strict read below says why
    quote = sniff[1] if sniff and len(sniff[1] or "") == 1 else '"'
    escape = sniff[2] if sniff and (sniff[2] or "") in ('"', "\\", "'") and sniff[2] else quote

    def header_fields(delim):
        reader = csv.reader(
            io.StringIO(text),
            delimiter=delim,
            quotechar=quote,
            doublequote=True,
            escapechar="\\" if escape == "\\" else None,
        )
        try:
            return next(reader)
        except (StopIteration, csv.Error):
            return []

    delim = sniff[0] if sniff and len(sniff[0] or "") == 1 else None
    if delim is None or len(header_fields(delim)) < 2:
        best = max(CANDIDATE_DELIMITERS, key=lambda d: len(header_fields(d)))
        if len(header_fields(best)) > 1:
            delim = best
        elif delim is None:
            delim = ","
    names = header_fields(delim)
    if not names:
        raise IngestError(
            "empty_file", _("The file is empty. Check that you chose the right file, and upload it again.")
        )

    notes = []
    seen = set()
    for i, raw in enumerate(names):
        name = raw
        if not name.strip():
            name = f"column{i + 1}"
            notes.append(
                _note(
                    "blank_header",
                    "warning",
                    _(
                        "Column %(position)s has no name; it was called “%(name)s”. Give every column a name on the first line."
                    ),
                    position=i + 1,
                    name=name,
                )
            )
        if name in seen:
            k = 2
            while f"{name}_{k}" in seen:
                k += 1
            new = f"{name}_{k}"
            notes.append(
                _note(
                    "duplicate_header",
                    "warning",
                    _(
                        "The column name “%(column)s” appears more than once; the repeat was called “%(name)s”. "
                        "Give every column a different name."
                    ),
                    column=name,
                    name=new,
                )
            )
            name = new
        seen.add(name)
        names[i] = name
    if sniff and sniff[4] is False and sniff[3] == 0 and sniff[0] == delim:
        notes.append(
            _note(
                "header_suspect",
                "warning",
                _(
                    "The first line looks like data rather than column names. If the file has no column names, "
                    "add them as the first line and upload the file again."
                ),
            )
        )
    return _Dialect(delim, quote, escape, names, notes)


# Cheap shape tests on the sample decide which parsers are worth trying on a column.
_SHAPE_TESTS = {
    "boolean": "lower(trim({c})) IN ('true', 'false')",
    "numeric": "regexp_full_match({c}, '\\s*[-+0-9.,eE]+\\s*')",
    "datelike": "regexp_matches({c}, '^[0-9]{4}[-./년]')",
    "timelike": "regexp_full_match({c}, '[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?')",
}
_LEADING_ZERO = "count(*) FILTER (WHERE ltrim({c}, ' +-') LIKE '0_%')"
_FAMILY = {
    "boolean": "boolean",
    "integer": "numeric",
    "number": "numeric",
    "date": "datelike",
    "datetime": "datelike",
    "time": "timelike",
}


def _infer_types(con, src: str, dialect: _Dialect) -> list[_Plan]:
    """The type of each column, from the first SAMPLE_ROWS rows (kept in a small temporary table)."""
    ncols = len(dialect.names)
    run_query(
        con,
        f"CREATE OR REPLACE TEMP TABLE type_sample AS SELECT * FROM {src} LIMIT {SAMPLE_ROWS}",
        delimiter=dialect.delimiter,
    )
    try:
        select = []
        for i in range(ncols):
            c = f"c{i}"
            select += [f"count({c})", f"count(*) FILTER (WHERE contains({c}, ','))", _LEADING_ZERO.format(c=c)]
            select += [f"count(*) FILTER (WHERE {_sql(test, c)})" for test in _SHAPE_TESTS.values()]
        row = run_query(con, f"SELECT {', '.join(select)} FROM type_sample")[0]
        width = 3 + len(_SHAPE_TESTS)
        shapes, tries = [], []
        for i in range(ncols):
            nonnull, with_comma, leading_zeros, *counts = row[i * width : (i + 1) * width]
            families = {f for f, n in zip(_SHAPE_TESTS, counts) if nonnull and n == nonnull}
            # A text column whose values are mostly of one kind ("12", "7", "없음"): the preview marks the others.
            mostly, share = max(zip(_SHAPE_TESTS, counts), key=lambda fn: fn[1])
            if families or not nonnull or share < MOSTLY_SHARE * nonnull:
                mostly, share = None, 0
            cands = [
                cand
                for cand in _CANDIDATES
                if _FAMILY[cand[0]] in (families or {mostly}) and (cand not in (_GROUPED_INT, _GROUPED) or with_comma)
            ]
            shapes.append((share or nonnull, cands, leading_zeros, bool(mostly)))
            tries += [f"count({_sql(cand[2], f'c{i}')})" for cand in cands]
        fits = iter(run_query(con, f"SELECT {', '.join(tries)} FROM type_sample")[0] if tries else [])
    finally:
        con.execute("DROP TABLE IF EXISTS type_sample")
    plans = []
    for i, name in enumerate(dialect.names):
        nonnull, cands, leading_zeros, mostly = shapes[i]
        chosen = ("string", None, "{c}")
        for cand in cands:  # every count is consumed, in order
            if next(fits) == nonnull and chosen[0] == "string":
                chosen = cand
        if mostly:  # stays text; `nonnull` counted the values of the usual kind, which `chosen` reads
            expected, chosen = chosen, ("string", None, "{c}")
        typ, fmt, tmpl = chosen
        plan = _Plan(i, name, typ, fmt, _sql(tmpl, f"c{i}"))
        if mostly and expected[0] != "string":
            plan.expected = (expected[0], _sql(expected[2], f"c{i}"))
        if chosen is _INTEGER and leading_zeros:
            plan.failed = {"reason": "leading_zeros"}  # codes such as 00123: _analyse keeps them as text
        plans.append(plan)
    return plans


def _full_pass(con, src, plans, top_values, dialect):
    """One aggregate query over the whole file for `plans`; returns (row count, {index: stats}).

    The typed value of column i is computed once per row, as x{i} in an inner projection.
    """
    inner = ["1 AS one"]
    select = ["count(*)"]
    layout = []
    for p in plans:
        c, x = f"c{p.index}", f"x{p.index}"
        inner += [c, f"{p.expr} AS {x}"]
        items = [("nonnull", f"count({c})")]
        if p.type != "string":
            items.append(("valid", f"count({x})"))
        if p.type == "integer":
            items.append(("leading_zeros", _LEADING_ZERO.format(c=c)))
        if p.type != "boolean":
            items += [("min", f"min({x})"), ("max", f"max({x})")]
        items.append(("distinct", f"approx_count_distinct({x})"))
        if p.type in _NUMERIC:
            items += [("mean", f"avg({x})"), ("std", f"stddev_samp({x})")]
        else:
            # candidates on the text as written; exact counts come in the second pass
            items.append(("top", f"approx_top_k({c}, {int(top_values)})"))
        if p.type == "string":
            items.append(("multiline", f"count(*) FILTER (WHERE strpos({c}, chr(10)) > 0)"))
        layout.append((p.index, [k for k, _ in items]))
        select.extend(sql for _, sql in items)
    sql = f"SELECT {', '.join(select)} FROM (SELECT {', '.join(inner)} FROM {src})"
    row = run_query(con, sql, delimiter=dialect.delimiter)[0]
    stats, pos = {}, 1
    for index, keys in layout:
        stats[index] = dict(zip(keys, row[pos : pos + len(keys)]))
        pos += len(keys)
    return row[0], stats


def _check(plan: _Plan, st: dict) -> bool:
    """Record on `plan` why its values do not all fit its type; True if they don't."""
    plan.failed = None
    if plan.type == "string":
        return False
    if st.get("leading_zeros"):
        plan.failed = {"reason": "leading_zeros"}
    elif st["valid"] < st["nonnull"]:
        plan.failed = {"reason": "mixed", "bad": st["nonnull"] - st["valid"]}
    return plan.failed is not None


def _bad_example(con, src, plan: _Plan, dialect) -> str:
    c = f"c{plan.index}"
    rows = run_query(
        con,
        f"SELECT {c} FROM {src} WHERE {c} IS NOT NULL AND ({plan.expr}) IS NULL LIMIT 1",
        delimiter=dialect.delimiter,
    )
    return rows[0][0] if rows else ""


def _fall_back(plan: _Plan, notes: list, *, force_string: bool) -> None:
    reason = plan.failed
    example = (reason or {}).get("example") or ""
    nxt = None
    if reason and reason["reason"] == "mixed" and not force_string:
        comma = "," in example
        if plan.type == "integer" and not plan.grouped and re.fullmatch(_NUM_RE, example):
            nxt = _NUMBER
        elif plan.type == "integer" and not plan.grouped and comma and re.fullmatch(_GROUPED_INT_RE, example):
            nxt = _GROUPED_INT
        elif (
            plan.type == "integer" and (plan.grouped or comma) or plan.type == "number" and not plan.grouped and comma
        ) and re.fullmatch(_GROUPED_RE, example):
            nxt = _GROUPED
    if reason and reason["reason"] == "mixed" and plan.expected is None:
        plan.expected = (plan.type, plan.expr)  # the preview marks the cells that are not
    if nxt is not None:
        plan.type, plan.format, plan.expr = nxt[0], None, _sql(nxt[2], f"c{plan.index}")
        plan.grouped = nxt in (_GROUPED_INT, _GROUPED)
        return
    if reason and reason["reason"] == "leading_zeros":
        notes.append(
            _note(
                "leading_zeros",
                "info",
                _(
                    "Column “%(column)s” has numbers that start with 0 (such as codes); it was kept as text so the "
                    "zeros are not lost."
                ),
                column=plan.name,
            )
        )
    elif reason:
        notes.append(
            _note(
                "mixed_values",
                "warning",
                ngettext_lazy(
                    "Column “%(column)s” looks like %(kind)s, but %(bad)s value is not (“%(example)s”). "
                    "It was kept as text. If that value is a mistake, correct it and upload the file again.",
                    "Column “%(column)s” looks like %(kind)s, but %(bad)s values are not (for example “%(example)s”). "
                    "It was kept as text. If those values are mistakes, correct them and upload the file again.",
                    "bad",
                ),
                column=plan.name,
                kind=_TYPE_WORDS.get(plan.type, plan.type),
                bad=reason["bad"],
                example=example[:60],
            )
        )
    plan.type, plan.format, plan.expr, plan.grouped = "string", None, f"c{plan.index}", False


def _profile(plan: _Plan, st: dict, rows: int, notes: list) -> ColumnProfile:
    nonnull = st["nonnull"] or 0
    prof = ColumnProfile(
        name=plan.name,
        type=plan.type,
        format=None if plan.format in _ISO_FORMATS else plan.format,
        count=nonnull,
        nulls=rows - nonnull,
        null_ratio=round((rows - nonnull) / rows, 6) if rows else 0.0,
        distinct=st.get("distinct"),
        min=_json_value(st.get("min")),
        max=_json_value(st.get("max")),
        mean=_json_value(st.get("mean")),
        std=_json_value(st.get("std")),
        group_char="," if plan.grouped else None,
    )
    if plan.type not in _NUMERIC and st.get("top"):
        prof.top_values = [{"value": v, "count": None} for v in st["top"]]
    if nonnull == 0:
        notes.append(_note("empty_column", "info", _("Column “%(column)s” has no values."), column=plan.name))
        return prof
    if plan.grouped:
        notes.append(
            _note(
                "thousands_separator",
                "info",
                _(
                    "Column “%(column)s” writes numbers with thousands separators (like 12,345); they were read as numbers."
                ),
                column=plan.name,
            )
        )
    if plan.type in ("date", "datetime") and plan.format not in (None, "any", *_ISO_FORMATS):
        notes.append(
            _note(
                "date_format",
                "info",
                _("Column “%(column)s” has dates written like “%(example)s”; they were read as dates.")
                if plan.type == "date"
                else _(
                    "Column “%(column)s” has dates and times written like “%(example)s”; they were read as dates and times."
                ),
                column=plan.name,
                example=dt.datetime(2024, 1, 31, 13, 5, 0).strftime(plan.format),
            )
        )
    if st.get("multiline"):
        notes.append(
            _note(
                "multiline_values",
                "warning",
                ngettext_lazy(
                    "%(count)s value in column “%(column)s” contains a line break. That is allowed, but check that "
                    "the quotation marks in the file are balanced: a missing quotation mark joins lines together.",
                    "%(count)s values in column “%(column)s” contain line breaks. That is allowed, but check that "
                    "the quotation marks in the file are balanced: a missing quotation mark joins lines together.",
                    "count",
                ),
                column=plan.name,
                count=st["multiline"],
            )
        )

    low = plan.name.strip().lower()
    if plan.type == "integer" and _YEAR_NAME.search(low) and 1900 <= prof.min <= prof.max <= 2100:
        prof.type = "year"
    if plan.type in ("integer", "number"):
        for geo, pattern, (lo, hi), word in (
            ("latitude", _LAT_NAME, _KOREA_LAT, pgettext_lazy("data file check", "latitude")),
            ("longitude", _LON_NAME, _KOREA_LON, pgettext_lazy("data file check", "longitude")),
        ):
            if pattern.search(low):
                if lo <= prof.min <= prof.max <= hi:
                    prof.geo = geo
                else:
                    notes.append(
                        _note(
                            "geo_outside_korea",
                            "info",
                            _(
                                "Column “%(column)s” is named like a %(kind)s, but its values (%(min)s to %(max)s) are "
                                "not WGS84 degrees in Korea, so it is not shown on the map. If the file uses another "
                                "coordinate system (such as EPSG:5186), say so in the description."
                            ),
                            column=plan.name,
                            kind=word,
                            min=prof.min,
                            max=prof.max,
                        )
                    )
                break
    return prof


def _locate_by_values(profiles: list[ColumnProfile], notes: list) -> None:
    """Latitude and longitude columns not named so (e.g. "Y", "X값", "좌표1"): when no column was found by its
    name, exactly one decimal column whose every value is a latitude in Korea and exactly one whose every
    value is a longitude in Korea are taken as WGS84 coordinates (the note says so)."""
    if any(p.geo for p in profiles):
        return

    def within(p, lo, hi):
        return p.type == "number" and p.count and p.min is not None and lo <= p.min <= p.max <= hi

    lats = [p for p in profiles if within(p, *_KOREA_LAT)]
    lons = [p for p in profiles if within(p, *_KOREA_LON)]
    if len(lats) == 1 and len(lons) == 1:
        lats[0].geo, lons[0].geo = "latitude", "longitude"
        notes.append(
            _note(
                "geo_by_values",
                "info",
                _(
                    "Columns “%(lat)s” and “%(lon)s” hold values that look like latitude and longitude in Korea "
                    "(WGS84), so they are shown on the map. If they are something else, say so in the column "
                    "descriptions."
                ),
                lat=lats[0].name,
                lon=lons[0].name,
            )
        )


def _second_pass(con, src, plans, profiles, bins, exact_distinct_limit, dialect) -> None:
    """One more aggregate pass: equal-width histograms of numeric columns, counts over time of date,
    date-time and time columns, exact counts of the top-value candidates and exact distinct counts.

    Number columns: `bins` bins [from, to), the last one closed. Integer and year columns: bins of
    a whole width, each covering the integers from..to inclusive (one bin per value when the
    column spans no more than `bins` values). A column holding one value gets one bin.

    Distinct values are counted exactly for the columns with the smallest estimates as long as
    their estimates sum to at most `exact_distinct_limit` (a column with none is exact anyway).
    Bucket counts use `histogram(bucket, [0, 1, …])`: plain `histogram(x)` beside other aggregates
    makes DuckDB materialise the whole input first, and so does its rewrite of DISTINCT aggregates
    beside others (switched off for this query: the hash tables of the distinct values are bounded).
    """
    inner, select, jobs = ["1 AS one"], [], []
    budget = exact_distinct_limit
    for plan, prof in sorted(zip(plans, profiles), key=lambda pp: pp[1].distinct or 0):
        if prof.count == 0:
            prof.distinct, prof.distinct_approximate = 0, False
        elif prof.distinct is not None and prof.distinct <= budget:
            budget -= prof.distinct
            inner.append(f"{plan.expr} AS x{plan.index}")
            select.append(f"count(DISTINCT x{plan.index})")
            jobs.append(("distinct", prof, plan))
    for plan, prof in zip(plans, profiles):
        c = f"c{plan.index}"
        if prof.count == 0:
            continue
        if prof.type in _NUMERIC:
            lo, hi = prof.min, prof.max
            if hi == lo:
                prof.histogram = [{"from": lo, "to": hi, "count": prof.count}]
                continue
            h = f"x{plan.index}"
            if prof.type == "number":
                nbins, width = int(bins), None
                bucket = f"floor(({h} - {float(lo)!r}) * {nbins} / {float(hi) - float(lo)!r})"
            else:
                width = -(-(hi - lo + 1) // bins)  # ceil
                nbins = -(-(hi - lo + 1) // width)
                bucket = f"({h} - {int(lo)}) // {width}"
            inner.append(f"{plan.expr} AS {h}")
            # greatest() skips NULLs, so empty cells must not reach it
            select.append(_bucket_counts(f"least(greatest({bucket}, 0), {nbins - 1})", h, nbins))
            jobs.append(("hist", prof, (lo, hi, width, nbins)))
        elif prof.type in ("date", "datetime", "time"):
            timeline = _timeline_plan(prof)
            if timeline is None:
                continue
            h = f"x{plan.index}"
            inner.append(f"{plan.expr} AS {h}")
            select.append(_bucket_counts(_sql(timeline["bucket"], h), h, len(timeline["labels"])))
            jobs.append(("timeline", prof, timeline))
        if prof.top_values:
            # a value longer than a line of text is no "top value" worth showing (nor a SQL literal)
            prof.top_values = [item for item in prof.top_values if len(item["value"]) <= MAX_TEXT] or None
            if not prof.top_values:
                continue
            values = ", ".join(_lit(item["value"]) for item in prof.top_values)
            inner.append(c)
            select.append(f"histogram_exact({c}, [{values}]) FILTER (WHERE {c} IN ({values}))")
            jobs.append(("top", prof, plan))
    if not select:
        return
    rewrite = "distinct_aggregate_rewrite" in {
        r[0] for r in con.execute("SELECT name FROM duckdb_optimizers()").fetchall()
    }
    if rewrite:
        con.execute("SET disabled_optimizers = 'distinct_aggregate_rewrite'")
    try:
        row = run_query(
            con,
            f"SELECT {', '.join(select)} FROM (SELECT {', '.join(dict.fromkeys(inner))} FROM {src})",
            delimiter=dialect.delimiter,
        )[0]
    finally:
        if rewrite:
            con.execute("RESET disabled_optimizers")
    for (kind, prof, extra), counts in zip(jobs, row):
        if kind == "distinct":
            prof.distinct, prof.distinct_approximate = int(counts), False
            continue
        counts = counts or {}
        if kind == "hist":
            lo, hi, width, nbins = extra
            prof.histogram = []
            for b in range(nbins):
                if width is None:  # edges rounded to 12 significant digits (no 0.30000000000000004)
                    start = float(f"{lo + (hi - lo) * b / nbins:.12g}")
                    end = float(f"{lo + (hi - lo) * (b + 1) / nbins:.12g}") if b < nbins - 1 else hi
                else:
                    start, end = lo + b * width, min(lo + (b + 1) * width - 1, hi)
                prof.histogram.append({"from": start, "to": end, "count": int(counts.get(b, 0))})
        elif kind == "timeline":
            prof.timeline = {
                "unit": extra["unit"],
                "step": extra["step"],
                "bins": [{"from": label, "count": int(counts.get(b, 0))} for b, label in enumerate(extra["labels"])],
            }
        else:
            _top_counts(con, prof, extra, counts)


def _bucket_counts(bucket: str, value: str, nbins: int) -> str:
    """`histogram` over the bucket numbers 0…nbins-1 of `value` (NULL values left out)."""
    bounds = ", ".join(str(b) for b in range(nbins))
    return f"histogram(({bucket})::INTEGER, [{bounds}]::INTEGER[]) FILTER (WHERE {value} IS NOT NULL)"


def _top_counts(con, prof: ColumnProfile, plan: _Plan, counts: dict) -> None:
    for item in prof.top_values:
        item["count"] = int(counts.get(item["value"], 0))
    prof.top_values.sort(key=lambda item: (-item["count"], item["value"]))
    if plan.type == "string":
        for item in prof.top_values:
            item["value"] = _json_value(item["value"])
        return
    # show the value typed: 2024.01.31 → "2024-01-31"
    typed = run_query(
        con,
        f"SELECT {plan.expr} FROM (VALUES {', '.join('(?)' for _ in prof.top_values)}) AS t(c{plan.index})",
        [i["value"] for i in prof.top_values],
    )
    merged: dict = {}  # "TRUE" and "true", "2024.1.5" and "2024.01.05" are one value
    for item, (value,) in zip(prof.top_values, typed):
        key = _json_value(value)
        merged[key] = merged.get(key, 0) + item["count"]
    prof.top_values = [{"value": v, "count": n} for v, n in merged.items()]
    prof.top_values.sort(key=lambda item: (-item["count"], str(item["value"])))


def _timeline_plan(prof: ColumnProfile) -> dict | None:
    """Bins over time for a date, date-time or time column, chosen from its range: hours (date-times
    within two days), days (up to 62), months (up to 72), else years, several a bin beyond 60
    years; times of day by hour. {"unit", "step", "bucket" (SQL over {c}), "labels"}."""
    if prof.type == "time":
        return {
            "unit": "hour_of_day",
            "step": 1,
            "bucket": "hour({c})",
            "labels": [f"{h:02d}:00" for h in range(24)],
        }
    try:
        lo = dt.datetime.fromisoformat(str(prof.min))
        hi = dt.datetime.fromisoformat(str(prof.max))
    except ValueError:
        return None
    if prof.type == "datetime" and hi - lo < dt.timedelta(days=2):
        first = lo.replace(minute=0, second=0, microsecond=0)
        n = int((hi - first).total_seconds() // 3600) + 1
        return {
            "unit": "hour",
            "step": 1,
            "bucket": f"date_diff('hour', TIMESTAMP {_lit(first.isoformat(sep=' '))}, {{c}}::TIMESTAMP)",
            "labels": [(first + dt.timedelta(hours=i)).strftime("%Y-%m-%d %H:00") for i in range(n)],
        }
    days = (hi.date() - lo.date()).days + 1
    if days <= 62:
        first = lo.date()
        return {
            "unit": "day",
            "step": 1,
            "bucket": f"date_diff('day', DATE {_lit(first.isoformat())}, {{c}}::DATE)",
            "labels": [(first + dt.timedelta(days=i)).isoformat() for i in range(days)],
        }
    months = (hi.year - lo.year) * 12 + hi.month - lo.month + 1
    if months <= 72:
        base = lo.year * 12 + lo.month - 1
        return {
            "unit": "month",
            "step": 1,
            "bucket": f"year({{c}}) * 12 + month({{c}}) - 1 - {base}",
            "labels": [f"{(base + i) // 12:04d}-{(base + i) % 12 + 1:02d}" for i in range(months)],
        }
    years = hi.year - lo.year + 1
    step = -(-years // TIMELINE_MAX_BINS)  # ceil
    labels = []
    for start in range(lo.year, hi.year + 1, step):
        end = min(start + step - 1, hi.year)
        labels.append(f"{start:04d}" if end == start else f"{start:04d}–{end:04d}")
    return {"unit": "year", "step": step, "bucket": f"(year({{c}}) - {lo.year}) // {step}", "labels": labels}


def _preview(con, path, plans, limit, dialect) -> tuple[list[list], list[list]]:
    """The first `limit` rows as written (text; "" for an empty cell) and a mark for each cell: "empty"
    (an empty marker such as "-"), "invalid" (does not read as the column's type, or as the type a
    column kept as text was expected to have), else None."""
    if limit <= 0 or not plans:
        return [], []
    raw = source_sql(path, dialect.delimiter, len(plans), quote=dialect.quote, escape=dialect.escape, raw=True)
    markers = ", ".join(_lit(v) for v in NULL_MARKERS)
    inner = []
    for p in plans:
        inner += [
            f"coalesce(c{p.index}, '') AS r{p.index}",
            f"CASE WHEN c{p.index} IN ({markers}) THEN NULL ELSE c{p.index} END AS c{p.index}",
        ]
    select = []
    for p in plans:
        c = f"c{p.index}"
        check = p.expected[1] if p.expected else p.expr
        select += [
            f"r{p.index}",
            f"CASE WHEN {c} IS NULL THEN (CASE WHEN r{p.index} = '' THEN NULL ELSE 'empty' END) "
            f"WHEN ({check}) IS NULL THEN 'invalid' END",
        ]
    rows = run_query(
        con,
        f"SELECT {', '.join(select)} FROM (SELECT {', '.join(inner)} FROM {raw} LIMIT {int(limit)})",
        delimiter=dialect.delimiter,
    )
    return [[_json_value(v) for v in r[0::2]] for r in rows], [list(r[1::2]) for r in rows]


# --- errors from DuckDB ------------------------------------------------------------------------

# Short words below use the context "data file check": other apps translate them differently.
_DELIMITER_WORDS = {
    ",": pgettext_lazy("data file check", "commas (,)"),
    "\t": pgettext_lazy("data file check", "tabs"),
    ";": pgettext_lazy("data file check", "semicolons (;)"),
    "|": pgettext_lazy("data file check", "vertical bars (|)"),
}
_TYPE_WORDS = {
    "integer": pgettext_lazy("data file check", "whole numbers"),
    "number": pgettext_lazy("data file check", "numbers"),
    "boolean": pgettext_lazy("data file check", "true/false values"),
    "date": pgettext_lazy("data file check", "dates"),
    "datetime": pgettext_lazy("data file check", "dates with times"),
    "time": pgettext_lazy("data file check", "times"),
}


def csv_error(text: str, delimiter: str = ",") -> IngestError:
    """An IngestError for a DuckDB CSV error message (line numbers count the header as line 1)."""
    line_m = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(line_m.group(1)) if line_m else None
    original = re.search(r"Original Line: ?(.*?)(?:\n(?:Expected|Value with|Possible fixes)|$)", text, re.S)
    original = original.group(1).strip()[:300] if original else ""
    detail = text.split("Possible fixes:")[0].strip()[:1000]
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns and line is not None:
        expected, found = int(columns.group(1)), int(columns.group(2))
        first_line_other = (
            line == 2
            and found == 1
            and expected > 1
            and delimiter not in original
            and any(d in original for d in CANDIDATE_DELIMITERS if d != delimiter)
        )
        if first_line_other:
            err = IngestError(
                "delimiter_unknown",
                _fmt(
                    _(
                        "The column names on the first line are separated by %(delimiter)s, but the lines below are not, "
                        "so we cannot tell where one column ends and the next begins. Save the file again from Excel as "
                        "“CSV UTF-8 (comma delimited)” and upload it again."
                    ),
                    {"delimiter": _DELIMITER_WORDS.get(delimiter, delimiter)},
                ),
                detail=detail,
            )
        else:
            err = IngestError(
                "ragged_rows",
                _fmt(
                    ngettext_lazy(
                        "Line %(line)s of the file has %(found)s value, but the first line (the column names) has "
                        "%(expected)s. Every line must have the same number of columns. Open the file, look at that "
                        "line (often a value contains a comma without quotation marks around it, or a cell was added "
                        "or left out), correct it and upload the file again.",
                        "Line %(line)s of the file has %(found)s values, but the first line (the column names) has "
                        "%(expected)s. Every line must have the same number of columns. Open the file, look at that "
                        "line (often a value contains a comma without quotation marks around it, or a cell was added "
                        "or left out), correct it and upload the file again.",
                        "found",
                    ),
                    {"line": f"{line:,}", "found": found, "expected": expected},
                ),
                detail=detail,
            )
        err.line = line
        return err
    if "unterminated quote" in text and line is not None:
        err = IngestError(
            "unbalanced_quote",
            _fmt(
                _(
                    'Line %(line)s opens a quotation mark (") that is never closed, so the lines after it cannot be '
                    "read correctly. Close or remove the quotation mark on that line and upload the file again."
                ),
                {"line": f"{line:,}"},
            ),
            detail=detail,
        )
        err.line = line
        return err
    if line is not None:
        err = IngestError(
            "csv_unreadable",
            _fmt(
                _(
                    "Line %(line)s could not be read as CSV. Check that line, or save the file again from Excel as "
                    "“CSV UTF-8 (comma delimited)”, and upload it again."
                ),
                {"line": f"{line:,}"},
            ),
            detail=detail,
        )
        err.line = line
        return err
    return IngestError(
        "csv_unreadable",
        _(
            "The file could not be read as CSV. Save it again from Excel as “CSV UTF-8 (comma delimited)” and "
            "upload it again."
        ),
        detail=detail,
    )


# --- small helpers -----------------------------------------------------------------------------


def _note(code: str, level: str, message, **params) -> dict:
    note = {"code": code, "level": level, **params}
    note["message"] = _fmt(message, params) if params else message
    return note


def _json_value(value):
    if isinstance(value, str):
        return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, decimal.Decimal):
        return _json_value(float(value))
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def _plain(obj):
    if isinstance(obj, Promise):
        return str(obj)
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


# --- reading a column by its Table Schema field (the query store, catalog.querystore.build) ---------------------

_DUCKDB_TYPES = {
    "boolean": "BOOLEAN",
    "integer": "BIGINT",
    "year": "BIGINT",
    "number": "DOUBLE",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "time": "TIME",
}


def field_sql(field: dict, column: str) -> tuple[str, str]:
    """(DuckDB type, SQL expression over the VARCHAR column `column`) that reads the column as the checks typed it
    (`field` is a Table Schema field written by analyse_csv: type, format, groupChar). Values that do not read
    become NULL; a type the checks never write is kept as text."""
    ftype = field.get("type") or "string"
    fmt = field.get("format")
    if ftype == "boolean":
        template = _CANDIDATES[0][2]
    elif ftype in ("integer", "year"):
        template = (_GROUPED_INT if field.get("groupChar") else _INTEGER)[2]
    elif ftype == "number":
        template = (_GROUPED if field.get("groupChar") else _NUMBER)[2]
    elif ftype == "date":
        template = _strptime(fmt or "%Y-%m-%d", "::DATE")
    elif ftype == "datetime":
        template = next((t for kind, f, t in _CANDIDATES if kind == "datetime" and f == (fmt or "any")), None)
        template = template or next(t for kind, f, t in _CANDIDATES if kind == "datetime" and f == "any")
    elif ftype == "time":
        template = _strptime(fmt or "%H:%M:%S", "::TIME")
    else:
        return "VARCHAR", column
    return _DUCKDB_TYPES[ftype], _sql(template, column)
