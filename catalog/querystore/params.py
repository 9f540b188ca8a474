"""The query-string grammar of the table API, parsed into an engine.PageSpec:

    select=a,b                      the columns, in this order (default: all visible columns)
    <col>=v                         equal
    <col>__ne|__lt|__lte|__gt|__gte=v
    <col>__in=a,b                   one of
    <col>__contains=text            text contains (case-insensitive)
    <col>__isnull=true|false
    bbox=minLon,minLat,maxLon,maxLat   (tables with geometry or lat/lon columns)
    order=-col,col2                 sort (a minus: descending); default: the table's order key, then source order
    limit=100                       1..DATA_PAGE_MAX_ROWS
    cursor=<opaque>                 the `next` cursor of the previous page
    since=<_row>                    only rows after this row number (live tables: new rows)
    format=json|csv|geojson         (read by the data API)

A column whose name is one of the reserved words above is filtered as `c.<col>=v`. A value is checked against the
column's type; an unknown column, operator or a bad value → QueryError naming the parameter.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Iterable, Sequence

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from catalog.querystore.engine import OPS, Filter, PageSpec, QueryError
from core.text import lazy_percent

RESERVED = frozenset({"select", "bbox", "order", "limit", "cursor", "since", "format"})
TRUE = frozenset({"true", "1", "yes", "y", "t"})
FALSE = frozenset({"false", "0", "no", "n", "f"})
_INT_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
# The values each integer type holds: a value outside is the parameter's fault, not a DuckDB conversion error.
_INT_RANGES = {
    "TINYINT": (-(2**7), 2**7 - 1),
    "SMALLINT": (-(2**15), 2**15 - 1),
    "INTEGER": (-(2**31), 2**31 - 1),
    "BIGINT": (-(2**63), 2**63 - 1),
    "HUGEINT": (-(2**127), 2**127 - 1),
    "UTINYINT": (0, 2**8 - 1),
    "USMALLINT": (0, 2**16 - 1),
    "UINTEGER": (0, 2**32 - 1),
    "UBIGINT": (0, 2**64 - 1),
}
MAX_ROW = 2**63 - 1  # `_row` is a BIGINT
_FLOAT_TYPES = ("DOUBLE", "FLOAT", "REAL")


def _name_type(column) -> tuple[str, str]:
    if isinstance(column, dict):
        return column["name"], (column.get("type") or "VARCHAR").upper()
    return column.name, (column.type or "VARCHAR").upper()


def _bad(parameter: str, message, **params) -> QueryError:
    return QueryError(lazy_percent(message, {"parameter": parameter, **params}), parameter=parameter)


def parse_value(parameter: str, raw: str, type_name: str):
    """`raw` as a value of the DuckDB type `type_name` (QueryError naming `parameter` when it is not one)."""
    t = type_name.upper()
    text = raw.strip()
    try:
        if t in _INT_TYPES:
            if not re.fullmatch(r"[+-]?\d{1,40}", text):
                raise ValueError
            low, high = _INT_RANGES[t]
            if not low <= int(text) <= high:
                raise ValueError
            return int(text)
        if t in _FLOAT_TYPES:
            value = float(text)
            if value != value:
                raise ValueError
            return value
        if t.startswith("DECIMAL") or t.startswith("NUMERIC"):
            value = decimal.Decimal(text)
            if not value.is_finite():
                raise ValueError
            return value
        if t == "BOOLEAN":
            low = text.lower()
            if low in TRUE:
                return True
            if low in FALSE:
                return False
            raise ValueError
        if t == "DATE":
            return dt.date.fromisoformat(text)
        if t.startswith("TIMESTAMP"):
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
            if value.tzinfo is not None and t in ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S"):
                value = value.replace(tzinfo=None) if value.utcoffset() == dt.timedelta(0) else value
            return value
        if t == "TIME":
            return dt.time.fromisoformat(text)
    except (ValueError, decimal.InvalidOperation, ArithmeticError) as exc:
        raise _bad(
            parameter,
            _("The value %(value)s of the parameter %(parameter)s is not a valid %(type)s."),
            value=raw[:80],
            type=type_name,
        ) from exc
    return raw


def _floats(parameter: str, raw: str, count: int) -> list[float]:
    parts = [p.strip() for p in raw.split(",")]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or any(v != v for v in values):
        raise _bad(
            parameter,
            _("The parameter %(parameter)s needs %(count)s numbers separated by commas (minLon,minLat,maxLon,maxLat)."),
            count=count,
        )
    return values


def _int(parameter: str, raw: str, *, low: int, high: int | None = None) -> int:
    text = raw.strip()
    if not re.fullmatch(r"\d+", text) or int(text) < low or (high is not None and int(text) > high):
        if high is None:
            raise _bad(parameter, _("The parameter %(parameter)s must be a whole number of at least %(low)s."), low=low)
        raise _bad(
            parameter,
            _("The parameter %(parameter)s must be a whole number from %(low)s to %(high)s."),
            low=low,
            high=high,
        )
    return int(text)


def parse_page_params(
    query,
    columns: Sequence,
    geometry: dict | None,
    *,
    max_limit: int | None = None,
    ignore: Iterable[str] = (),
) -> PageSpec:
    """A PageSpec from a QueryDict (or a dict of str → str | list[str]). `columns` are the table's visible columns
    (QueryTable.columns dicts or engine.Column); `ignore` names further parameters the caller reads itself."""
    types = dict(_name_type(c) for c in columns)
    max_limit = max_limit or int(getattr(settings, "DATA_PAGE_MAX_ROWS", 1000))
    ignored = set(ignore)
    spec = PageSpec(limit=min(100, max_limit))
    if hasattr(query, "lists"):
        items = list(query.lists())
    else:
        items = [(k, v if isinstance(v, list) else [v]) for k, v in dict(query).items()]
    for key, values in items:
        if key in ignored or key == "format":
            continue
        raw = values[-1] if values else ""
        if key == "select":
            names = [n.strip() for n in raw.split(",") if n.strip()]
            for name in names:
                if name not in types:
                    raise _bad("select", _("Unknown column %(column)s in the parameter %(parameter)s."), column=name)
            if not names:
                raise _bad("select", _("The parameter %(parameter)s names no column."))
            spec.select = names
        elif key == "order":
            sort = []
            for part in [p.strip() for p in raw.split(",") if p.strip()]:
                desc = part.startswith("-")
                name = part.lstrip("-+")
                if name not in types:
                    raise _bad("order", _("Unknown column %(column)s in the parameter %(parameter)s."), column=name)
                sort.append((name, desc))
            spec.sort = sort
        elif key == "limit":
            spec.limit = _int("limit", raw, low=1, high=max_limit)
        elif key == "since":
            spec.since = _int("since", raw, low=0, high=MAX_ROW)
        elif key == "cursor":
            spec.cursor = raw.strip() or None
        elif key == "bbox":
            if not geometry:
                raise _bad("bbox", _("This table has no coordinates: the parameter %(parameter)s cannot be used."))
            min_x, min_y, max_x, max_y = _floats("bbox", raw, 4)
            if min_x > max_x or min_y > max_y:
                raise _bad("bbox", _("In the parameter %(parameter)s the minimum must not exceed the maximum."))
            spec.bbox = (min_x, min_y, max_x, max_y)
        else:
            spec.filters.append(_filter(key, raw, types))
    return spec


def _filter(key: str, raw: str, types: dict[str, str]) -> Filter:
    name, op = key, "eq"
    if key.startswith("c.") and key[2:] in types:
        name = key[2:]
    elif key not in types and "__" in key:
        head, _sep, tail = key.rpartition("__")
        if head.startswith("c.") and head[2:] in types:
            head = head[2:]
        if head in types:
            if tail not in OPS:
                raise _bad(
                    key,
                    _(
                        "Unknown operator %(op)s in the parameter %(parameter)s (use ne, lt, lte, gt, gte, in, contains, isnull)."
                    ),
                    op=tail,
                )
            name, op = head, tail
    if name not in types:
        if key in RESERVED:
            raise _bad(key, _("The value of the parameter %(parameter)s is not valid."))
        raise _bad(key, _("Unknown parameter %(parameter)s: it is not a column of this table."))
    ctype = types[name]
    if op == "isnull":
        low = raw.strip().lower()
        if low not in TRUE | FALSE:
            raise _bad(key, _("The parameter %(parameter)s takes true or false."))
        return Filter(name, "isnull", low in TRUE)
    if op == "contains":
        if not raw:
            raise _bad(key, _("The parameter %(parameter)s needs some text."))
        return Filter(name, "contains", raw)
    if op == "in":
        parts = raw.split(",")
        return Filter(name, "in", [parse_value(key, p, ctype) for p in parts])
    return Filter(name, op, parse_value(key, raw, ctype))
