"""Personal data in a UTF-8 CSV: resident and foreigner registration numbers, phone numbers,
e-mail addresses and card numbers.

One DuckDB pass reads every column as text and keeps only the cells that match a combined
regular expression (the pre-filter); Python then checks those cells, at most `max_rows` rows,
with python-stdnum, phonenumbers and the Luhn check (shared/reference/korea.md §2).

Rules:

- **RRN (주민등록번호, blocking)**: ``YYMMDD-GNNNNNN`` or 13 digits in a row, where YYMMDD is a
  real date not in the future for the century given by G, and G is 1–4. **A failed checksum
  never clears a value**: numbers issued since 2020-10-05 have random digits after G; the
  finding counts how many pass ("checksum ok") and how many fail ("may be a post-2020 number").
  G 9/0 (born 1800–1899) is not flagged: nobody alive holds such a number (personal data under
  개인정보 보호법 §2 is about living people), and 법인등록번호 (corporate numbers, public) have 0
  in that place.
- **FRN (외국인등록번호, blocking)**: the same shape with G 5–8. Checksum (13 − S mod 11) mod 10
  (Presidio's rule, korea.md §2 [3P]); a failure is noted, never a reason to clear.
- Not RRN/FRN: a value without a hyphen whose RRN checksum fails but whose EAN-13 check digit
  holds (a barcode such as 880…); in a column named like 법인등록번호, a value whose RRN checksum
  fails but whose corporate-number check digit holds; a date-time ``20240101-1200`` and
  business registration numbers (10 digits) do not have the shape.
- **mobile_phone / landline_phone** (not blocking): Korean numbers that phonenumbers calls valid
  (mobile; fixed line or 070 VoIP), and every 010 number. Written with hyphens, spaces, dots,
  brackets or +82 (with or without the (0)). 050x safe numbers, 080 and 15xx/16xx/18xx are not
  personal.
- **email** (not blocking), **card_number** (not blocking): 15–16 digits, Luhn-valid, with a
  common issuer prefix (4, 51–55, 2221–2720, 34/37, 35, 62, 9 for Korean domestic cards).

Non-blocking kinds need a justification from the uploader before publication.
Counts are cells (a cell with two phone numbers counts once). Beyond `max_rows` matching rows
the counts are extrapolated from the checked rows (`estimated=True`).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field

import duckdb
import phonenumbers
from django.utils.translation import ngettext_lazy, pgettext_lazy
from stdnum import ean, luhn
from stdnum.kr import rrn

from .errors import lazy_format as _fmt
from .tabular import _plain, run_query, source_sql

BLOCKING_KINDS = {"rrn", "frn"}
KINDS = ("rrn", "frn", "mobile_phone", "landline_phone", "email", "card_number")

# Cores of the patterns; digit boundaries are added per engine (RE2 in DuckDB has no lookaround).
_RRN_CORE = r"[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-?[1-8][0-9]{6}"
_CARD_CORE = r"[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}|3[47][0-9]{2}[- ]?[0-9]{6}[- ]?[0-9]{5}"
# Between the groups of a phone number: nothing, a space, or - . ) with a space either side or
# none ("010 5983 9614", "010.5983.9614", "(02) 310-2114", "031 - 310 - 2114").
_PHONE_SEP = r"( ?[-.)] ?| )?"
# +82 then the number without its 0, or with it ("+82 (0)10-…", "+82 010-…", both common mistakes)
_PLUS82 = rf"\+82{_PHONE_SEP}(\(0\)|0)?{_PHONE_SEP}"
_MOBILE_CORE = rf"\(?({_PLUS82}1[0-9]|01[016789]){_PHONE_SEP}[0-9]{{3,4}}{_PHONE_SEP}[0-9]{{4}}"
_LANDLINE_CORE = rf"\(?({_PLUS82}|0)(2|3[1-3]|4[1-4]|5[1-5]|6[1-4]|70){_PHONE_SEP}[0-9]{{3,4}}{_PHONE_SEP}[0-9]{{4}}"
_EMAIL_CORE = r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"

_DIGIT_CORES = {
    "rrn": _RRN_CORE,
    "card_number": _CARD_CORE,
    "mobile_phone": _MOBILE_CORE,
    "landline_phone": _LANDLINE_CORE,
}
_SQL_PATTERNS = {k: rf"(^|[^0-9])({core})([^0-9]|$)" for k, core in _DIGIT_CORES.items()}
_SQL_PATTERNS["email"] = _EMAIL_CORE
_PY_PATTERNS = {k: re.compile(rf"(?<![0-9])(?:{core})(?![0-9])") for k, core in _DIGIT_CORES.items()}
# Digits after a decimal point are a fraction (a coordinate such as 37.2912345678901234), not an ID.
for _kind in ("rrn", "card_number"):
    _PY_PATTERNS[_kind] = re.compile(rf"(?<![0-9.])(?:{_DIGIT_CORES[_kind]})(?![0-9])")
# A phone number may follow "tel." but not "37.": the digits of 37.01059839614 are a fraction.
for _kind in ("mobile_phone", "landline_phone"):
    _PY_PATTERNS[_kind] = re.compile(rf"(?<![0-9])(?<![0-9][.])(?:{_DIGIT_CORES[_kind]})(?![0-9])")
_PY_PATTERNS["email"] = re.compile(_EMAIL_CORE)
_ANY_SQL = "|".join(f"({p})" for p in _SQL_PATTERNS.values())

_MOBILE_010 = re.compile(r"10[0-9]{8}")
_CORPORATE_COLUMN = re.compile(r"법인\s*(등록)?\s*번호|법인번호|corporat", re.I)
_PHONE_KINDS = {
    phonenumbers.PhoneNumberType.MOBILE: "mobile_phone",
    phonenumbers.PhoneNumberType.FIXED_LINE: "landline_phone",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "landline_phone",
    phonenumbers.PhoneNumberType.VOIP: "landline_phone",
}


@dataclass
class PiiFinding:
    kind: str  # one of KINDS
    column: str
    count: int  # cells holding at least one such value
    examples: list[str]  # masked
    blocking: bool
    note: str  # for the uploader (lazy, in the reader's language)
    estimated: bool = False  # count extrapolated beyond `max_rows` checked rows
    details: dict = field(default_factory=dict)  # rrn/frn: {"checksum_ok": n, "checksum_fails": m}

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def scan_csv(
    utf8_path,
    columns: list[str],
    *,
    delimiter: str,
    examples_per_kind: int = 3,
    quote: str = '"',
    escape: str | None = None,
    max_rows: int = 100_000,
    memory_limit: str = "512MB",
    threads: int = 2,
) -> list[PiiFinding]:
    """Personal data per column of the UTF-8 CSV at `utf8_path` (header on line 1).

    `columns` are the column names in file order (TableReport.schema fields); `delimiter` and
    `quote` as found by `tabular.analyse_csv`. Findings are ordered blocking first, then by count.
    """
    path = str(utf8_path)
    ncols = len(columns)
    if ncols == 0:
        return []
    tmpdir = tempfile.mkdtemp(prefix="ingest-pii-")
    con = duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "threads": int(threads),
            "temp_directory": tmpdir,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "preserve_insertion_order": False,  # any matching rows will do; keeps LIMIT parallel
        }
    )
    con.execute("SET enable_progress_bar = false")  # a worker has no terminal to draw it on
    try:
        src = source_sql(path, delimiter, ncols, quote=quote, escape=escape)
        pattern = _lit(_ANY_SQL)
        inner = ", ".join(f"CASE WHEN regexp_matches(c{i}, {pattern}) THEN c{i} END AS m{i}" for i in range(ncols))
        where = " OR ".join(f"m{i} IS NOT NULL" for i in range(ncols))
        rows = run_query(
            con, f"SELECT * FROM (SELECT {inner} FROM {src}) WHERE {where} LIMIT {int(max_rows)}", delimiter=delimiter
        )

        tallies: dict[tuple[int, str], _Tally] = {}
        candidates: dict[tuple[int, str], int] = {}  # cells the kind's pattern matched, verified or not
        for row in rows:
            for i, value in enumerate(row):
                if value is None:
                    continue
                matched, verified = _verify(value, columns[i])
                for kind in matched:
                    candidates[(i, kind)] = candidates.get((i, kind), 0) + 1
                for kind, found in verified.items():
                    tallies.setdefault((i, kind), _Tally()).add(found, examples_per_kind)

        estimated = len(rows) >= max_rows
        if estimated and tallies:
            _extrapolate(con, src, tallies, candidates, delimiter)
    finally:
        con.close()
        shutil.rmtree(tmpdir, ignore_errors=True)

    findings = []
    for (i, kind), tally in tallies.items():
        findings.append(
            PiiFinding(
                kind=kind,
                column=columns[i],
                count=tally.count,
                examples=tally.examples,
                blocking=kind in BLOCKING_KINDS,
                note=_note(kind, tally),
                estimated=estimated,
                details={"checksum_ok": tally.checksum_ok, "checksum_fails": tally.checksum_fails}
                if kind in ("rrn", "frn")
                else {},
            )
        )
    findings.sort(key=lambda f: (not f.blocking, -f.count, KINDS.index(f.kind), f.column))
    return findings


# --- verification --------------------------------------------------------------------------------


@dataclass
class _Match:
    masked: str
    checksum_ok: bool | None = None


@dataclass
class _Tally:
    count: int = 0
    checksum_ok: int = 0
    checksum_fails: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, found: list[_Match], limit: int) -> None:
        self.count += 1
        for m in found:
            if m.checksum_ok is True:
                self.checksum_ok += 1
            elif m.checksum_ok is False:
                self.checksum_fails += 1
            if len(self.examples) < limit and m.masked not in self.examples:
                self.examples.append(m.masked)


def _verify(value: str, column: str) -> tuple[set[str], dict[str, list[_Match]]]:
    """The patterns that match `value`, and the kinds whose matches hold up (an RRN-shaped value
    may turn out to be an FRN), each with its matches."""
    matched: set[str] = set()
    verified: dict[str, list[_Match]] = {}
    for pattern_kind, pattern in _PY_PATTERNS.items():
        for hit in pattern.finditer(value):
            matched.add(pattern_kind)
            for kind, match in _check(pattern_kind, hit.group(0), column):
                verified.setdefault(kind, []).append(match)
    return matched, verified


def mask_value(value, column: str = ""):
    """The value with every verified personal-data match replaced by its masked form (for previews)."""
    if not isinstance(value, str):
        return value
    for pattern_kind, pattern in _PY_PATTERNS.items():

        def _replace(hit, pattern_kind=pattern_kind):
            for _kind, match in _check(pattern_kind, hit.group(0), column):
                return match.masked
            return hit.group(0)

        value = pattern.sub(_replace, value)
    return value


def _check(kind: str, text: str, column: str):
    """Yield (kind, _Match) for a pattern hit that holds up (an RRN-shaped hit may be an FRN)."""
    if kind == "rrn":
        result = _registration_number(text, column)
        if result:
            yield result
    elif kind in ("mobile_phone", "landline_phone"):
        try:
            number = phonenumbers.parse(text, "KR")
        except phonenumbers.NumberParseException:
            return
        if kind == "mobile_phone" and _MOBILE_010.fullmatch(str(number.national_number)):
            # every 010 number is a person's to protect: phonenumbers' metadata leaves some 010
            # blocks out (010-5970…5999), and a false "no personal data" is the costly mistake
            yield kind, _Match(_mask_phone(number))
            return
        real = _PHONE_KINDS.get(phonenumbers.number_type(number))
        if real == kind and phonenumbers.is_valid_number(number):
            yield kind, _Match(_mask_phone(number))
    elif kind == "email":
        local, _at, domain = text.partition("@")
        yield kind, _Match(f"{local[:1]}***@{domain}")
    elif kind == "card_number":
        digits = re.sub(r"[^0-9]", "", text)
        if _card_prefix_ok(digits) and luhn.is_valid(digits):
            yield kind, _Match(f"{digits[:4]}-****-****-{digits[-4:]}")


def _registration_number(text: str, column: str):
    digits = text.replace("-", "")
    g = digits[6]
    try:
        rrn.get_birth_date(digits, allow_future=False)  # a real date, not in the future
    except Exception:  # noqa: BLE001 (stdnum raises its ValidationError subclasses)
        return None
    weights = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
    s = sum(w * int(d) for w, d in zip(weights, digits[:12]))
    if g in "5678":
        kind, check = "frn", (13 - s % 11) % 10
    else:
        kind, check = "rrn", int(rrn.calc_check_digit(digits[:12]))
    checksum_ok = int(digits[12]) == check
    if not checksum_ok:
        if "-" not in text and ean.is_valid(digits):
            return None  # an EAN-13 barcode (e.g. 880… Korean products), not a person
        if _CORPORATE_COLUMN.search(column or "") and _corporate_check_ok(digits):
            return None  # 법인등록번호 in a column that says so
    return kind, _Match(f"{digits[:6]}-{g}******", checksum_ok)


def _corporate_check_ok(digits: str) -> bool:
    """법인등록번호: weights 1,2,1,2,… on 12 digits, check (10 − s mod 10) mod 10 (korea.md §1 [3P])."""
    s = sum(int(d) * (1 if i % 2 == 0 else 2) for i, d in enumerate(digits[:12]))
    return (10 - s % 10) % 10 == int(digits[12])


def _card_prefix_ok(digits: str) -> bool:
    if len(digits) == 15:
        return digits[:2] in ("34", "37")
    if len(digits) != 16:
        return False
    return (
        digits[0] in "49" or "51" <= digits[:2] <= "55" or 2221 <= int(digits[:4]) <= 2720 or digits[:2] in ("35", "62")
    )


def _mask_phone(number) -> str:
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    parts = re.split(r"([- ])", national)
    groups = [i for i, p in enumerate(parts) if p.isdigit()]
    if len(groups) >= 3:
        for i in groups[1:-1]:
            parts[i] = "*" * len(parts[i])
        return "".join(parts)
    digits = re.sub(r"[^0-9]", "", national)
    return digits[:3] + "*" * max(0, len(digits) - 7) + digits[-4:]


def _extrapolate(con, src, tallies, candidates, delimiter) -> None:
    """Counts for files with more than `max_rows` matching rows: the kind's pattern counted over
    the whole file, times the share of checked candidates that held up."""
    keys = list(tallies)
    select = ", ".join(
        f"count(*) FILTER (WHERE regexp_matches(c{i}, {_lit(_SQL_PATTERNS['rrn' if kind == 'frn' else kind])}))"
        for i, kind in keys
    )
    totals = run_query(con, f"SELECT {select} FROM {src}", delimiter=delimiter)[0]
    for (i, kind), total in zip(keys, totals):
        tally = tallies[(i, kind)]
        seen = candidates.get((i, "rrn" if kind == "frn" else kind), 0)
        if seen:
            tally.count = max(tally.count, round(total * tally.count / seen))


# --- messages ------------------------------------------------------------------------------------


def _note(kind: str, tally: _Tally):
    n = tally.count
    if kind == "rrn":
        return _fmt(
            ngettext_lazy(
                "%(count)s value looks like a resident registration number (주민등록번호) (checksum passes for %(ok)s, fails for "
                "%(fails)s: numbers issued since October 2020 have no checksum, so all count). "
                "Resident registration numbers must not be published. Delete or mask this column and upload "
                "the file again.",
                "%(count)s values look like resident registration numbers (주민등록번호) (checksum passes for %(ok)s, fails for "
                "%(fails)s: numbers issued since October 2020 have no checksum, so all count). "
                "Resident registration numbers must not be published. Delete or mask this column and upload "
                "the file again.",
                "count",
            ),
            {"count": n, "ok": tally.checksum_ok, "fails": tally.checksum_fails},
        )
    if kind == "frn":
        return _fmt(
            ngettext_lazy(
                "%(count)s value looks like a foreigner registration number (외국인등록번호) (checksum passes for %(ok)s, fails for "
                "%(fails)s; all count). These numbers must not be published. Delete or mask this "
                "column and upload the file again.",
                "%(count)s values look like foreigner registration numbers (외국인등록번호) (checksum passes for %(ok)s, fails for "
                "%(fails)s; all count). These numbers must not be published. Delete or mask this "
                "column and upload the file again.",
                "count",
            ),
            {"count": n, "ok": tally.checksum_ok, "fails": tally.checksum_fails},
        )
    if kind == "card_number":
        return _fmt(
            ngettext_lazy(
                "%(count)s value looks like a payment card number. Card numbers must not be published: delete or "
                "mask them. If they are not card numbers, say what they are when you submit the data.",
                "%(count)s values look like payment card numbers. Card numbers must not be published: delete or "
                "mask them. If they are not card numbers, say what they are when you submit the data.",
                "count",
            ),
            {"count": n},
        )
    what = {
        "mobile_phone": pgettext_lazy("personal data found in a file", "Mobile phone numbers"),
        "landline_phone": pgettext_lazy("personal data found in a file", "Phone numbers"),
        "email": pgettext_lazy("personal data found in a file", "E-mail addresses"),
    }[kind]
    return _fmt(
        ngettext_lazy(
            "%(what)s: %(count)s value found. If it belongs to a person, delete or mask it. If it is public contact "
            "information (such as an office number), say why when you submit the data.",
            "%(what)s: %(count)s values found. If they belong to people, delete or mask them. If they are public "
            "contact information (such as office numbers), say why when you submit the data.",
            "count",
        ),
        {"count": n, "what": what},
    )


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


__all__ = ["BLOCKING_KINDS", "KINDS", "PiiFinding", "scan_csv"]
