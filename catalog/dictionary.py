"""The data dictionary of a table file: what each column means, its unit and its codes.

Stored on `DataFile.dictionary` by column name, never inside `table_schema` (the checks rewrite that):

    {"측정값": {"description_ko": "PM10 1시간 평균", "description_en": "PM10, hourly mean", "unit": "㎍/㎥",
                "codes": []},
     "등급":   {"description_ko": "대기질 등급", "description_en": "", "unit": "",
                "codes": [{"code": "1", "label_ko": "좋음", "label_en": "Good"}, …]}}

Pure functions: validation (`clean`), the codes' text form used by the publisher's form (`parse_codes`,
`codes_text`), inheritance from an earlier version's files (`inherited`), and the rows pages and packages
show (`rows`). Entries with nothing in them are dropped, so `{}` means "not described".
"""

from django.utils.functional import lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.text import lazy_percent

# Units offered to the publisher (free text is allowed too): the ones Korean public data uses most.
COMMON_UNITS = (
    "㎍/㎥",
    "ppm",
    "℃",
    "%",
    "mm",
    "m",
    "km",
    "㎡",
    "㎢",
    "kg",
    "t",
    "kWh",
    "MWh",
    "L",
    "㎥",
    "명",
    "가구",
    "개",
    "건",
    "대",
    "회",
    "원",
    "천원",
    "백만원",
    "m/s",
    "km/h",
    "dB",
    "분",
    "시간",
    "일",
)

MAX_DESCRIPTION = 1000
MAX_UNIT = 40
MAX_CODES = 300
MAX_CODE = 100
MAX_LABEL = 200
ENTRY_KEYS = ("description_ko", "description_en", "unit", "codes")


def _substitute(template, value) -> str:
    return str(template) % value


# `_("… “%s” …") % column`, rendered when shown (Korean and English for the API's errors, not the request's one).
_of = lazy(_substitute, str)


def _text(value, limit: int, what) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DomainError(
            lazy_percent(_("The dictionary could not be read: %(what)s must be text."), {"what": what}),
            code="dictionary_invalid",
        )
    value = value.strip()
    if len(value) > limit:
        raise DomainError(
            lazy_percent(
                _("%(what)s is too long: at most %(limit)s characters."), {"what": what, "limit": f"{limit:,}"}
            ),
            code="dictionary_too_long",
        )
    return value


def clean(entries, columns) -> dict:
    """A validated dictionary for a file with these columns: only known columns, bounded texts, codes
    unique and each with a Korean label. Empty entries are dropped. Raises DomainError (Korean/English)."""
    if not isinstance(entries, dict):
        raise DomainError(_("The dictionary could not be read."), code="dictionary_invalid")
    columns = list(columns)
    cleaned = {}
    for column, entry in entries.items():
        if column not in columns:
            raise DomainError(
                lazy_percent(
                    _("The file has no column “%(column)s”. Reload the page: the file may have been checked again."),
                    {"column": str(column)[:100]},
                ),
                code="dictionary_column",
            )
        if not isinstance(entry, dict):
            raise DomainError(_("The dictionary could not be read."), code="dictionary_invalid")
        out = {
            "description_ko": _text(
                entry.get("description_ko"), MAX_DESCRIPTION, _of(_("The Korean description of “%s”"), column)
            ),
            "description_en": _text(
                entry.get("description_en"), MAX_DESCRIPTION, _of(_("The English description of “%s”"), column)
            ),
            "unit": _text(entry.get("unit"), MAX_UNIT, _of(_("The unit of “%s”"), column)),
            "codes": _clean_codes(entry.get("codes") or [], column),
        }
        if any(out.values()):
            cleaned[column] = out
    return cleaned


def _clean_codes(codes, column) -> list[dict]:
    if not isinstance(codes, list):
        raise DomainError(_("The dictionary could not be read."), code="dictionary_invalid")
    if len(codes) > MAX_CODES:
        raise DomainError(
            lazy_percent(
                _("Column “%(column)s” has more than %(n)s codes. Describe long code lists in a separate file."),
                {"column": column, "n": MAX_CODES},
            ),
            code="dictionary_codes",
        )
    seen, out = set(), []
    for item in codes:
        if not isinstance(item, dict):
            raise DomainError(_("The dictionary could not be read."), code="dictionary_invalid")
        code = _text(item.get("code"), MAX_CODE, _of(_("A code of “%s”"), column))
        label_ko = _text(item.get("label_ko"), MAX_LABEL, _of(_("The meaning of a code of “%s”"), column))
        label_en = _text(item.get("label_en"), MAX_LABEL, _of(_("The English meaning of a code of “%s”"), column))
        if not code or not label_ko:
            raise DomainError(
                lazy_percent(
                    _("Each code of “%(column)s” needs the code and its meaning in Korean."), {"column": column}
                ),
                code="dictionary_codes",
            )
        if code in seen:
            raise DomainError(
                lazy_percent(
                    _("The code “%(code)s” of “%(column)s” is written twice."), {"code": code, "column": column}
                ),
                code="dictionary_codes",
            )
        seen.add(code)
        out.append({"code": code, "label_ko": label_ko, "label_en": label_en})
    return out


def parse_codes(text: str) -> list[dict]:
    """The codes as the publisher types them, one per line: `1 = 좋음` or `1 = 좋음 | Good`.
    Raises ValueError with a message naming the line."""
    codes = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        code, sep, meaning = line.partition("=")
        if not sep or not code.strip() or not meaning.strip():
            raise ValueError(
                _("Line %(n)s: write the code, an equals sign and its meaning, like “1 = 좋음”.") % {"n": number}
            )
        label_ko, _bar, label_en = meaning.partition("|")
        codes.append({"code": code.strip(), "label_ko": label_ko.strip(), "label_en": label_en.strip()})
    return codes


def codes_text(codes) -> str:
    return "\n".join(
        f"{c['code']} = {c['label_ko']}" + (f" | {c['label_en']}" if c.get("label_en") else "") for c in codes or []
    )


def columns_of(datafile) -> list[str]:
    return datafile.column_names


def inherited(columns, own: dict, sources) -> dict:
    """`own` completed from earlier files: for each column without an entry, the entry of the same
    column in the first source that has it. `sources` are dictionaries in order of preference (the file
    with the same name first, then the others). Nothing the publisher wrote is overwritten."""
    result = dict(own or {})
    for column in columns:
        if result.get(column):
            continue
        for source in sources:
            entry = (source or {}).get(column)
            if entry:
                result[column] = {k: entry.get(k, [] if k == "codes" else "") for k in ENTRY_KEYS}
                break
    return result


def rows(datafile, language: str | None = None) -> list[dict]:
    """One row per column of the file's schema, in the page's language (Korean when no English was written):
    name, type, unit, description, whether that description is Korean on an English page, codes."""
    english = (language or get_language() or "ko").startswith("en")
    dictionary = datafile.dictionary or {}
    out = []
    for field in (datafile.table_schema or {}).get("fields") or []:
        entry = dictionary.get(field["name"]) or {}
        description = (entry.get("description_en") if english else "") or entry.get("description_ko", "")
        out.append(
            {
                "name": field["name"],
                "type": field.get("type", "string"),
                "geo": field.get("geo"),
                "unit": entry.get("unit", ""),
                "description": description,
                "description_is_korean": english and bool(description) and not entry.get("description_en"),
                "codes": [
                    {"code": c["code"], "label": (c.get("label_en") if english else "") or c["label_ko"]}
                    for c in entry.get("codes") or []
                ],
            }
        )
    return out


def described_count(datafile) -> int:
    return datafile.columns_described


def bilingual_rows(datafile) -> list[dict]:
    """The rows of `rows` with both languages as written (the API): name, type, geo, unit, description_ko,
    description_en ("" when not written), codes [{code, label_ko, label_en}]."""
    dictionary = datafile.dictionary or {}
    out = []
    for field in (datafile.table_schema or {}).get("fields") or []:
        entry = dictionary.get(field["name"]) or {}
        out.append(
            {
                "name": field["name"],
                "type": field.get("type", "string"),
                "geo": field.get("geo"),
                "unit": entry.get("unit", ""),
                "description_ko": entry.get("description_ko", ""),
                "description_en": entry.get("description_en", ""),
                "codes": [
                    {"code": c["code"], "label_ko": c["label_ko"], "label_en": c.get("label_en", "")}
                    for c in entry.get("codes") or []
                ],
            }
        )
    return out
