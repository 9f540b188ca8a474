"""package_search's Solr-style `q`, `fq`, `fq_list` and `sort`, read into the catalog search's own parameters.

CKAN hands these to Solr; here they become the GET parameters of the catalog page (catalog.filters.CatalogFilter:
q, theme, publisher, format, licence, price, tag, cadence, area, sort), so the CKAN API and the catalog page run the
same search engine (Korean bigrams, facet keys in one GIN index, the same facets and order).

What is understood, in `fq`/`fq_list` and as `field:value` terms inside `q`:

    organization:<slug>   owner_org:<uuid>    groups:<theme code>     tags:<keyword>     res_format:<CSV…>
    license_id:<id>       update_cadence:<…>  spatial_area:<…>        price_types:<free|paid|subscription>
    metadata_modified:[<ISO date/time> TO <ISO date/time or *>]   (also metadata_created)
    name:<slug>           id:<uuid>

a value may be quoted ("경기도 시흥시") or a parenthesised OR list (tags:(대기 OR 미세먼지)); a leading `+` is
accepted. Clauses that are always true of what this API shows (capacity:public, state:active,
dataset_type:dataset, type:dataset, entity_type:package, site_id:…) are accepted; another value of them matches
nothing (there are no private, draft or deleted datasets here). Anything else — negation, a top-level OR between
clauses, two clauses on one field, a field the catalog does not index — is refused with CKAN's Search Error rather
than answered with a wrong result.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from django.http import QueryDict
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.ckan.errors import SearchError, SearchQueryError
from catalog.interop import licence_code_for_ckan_id, parse_object_uuid

# CKAN field → the catalog page's parameter.
FIELDS = {
    "organization": "publisher",
    "owner_org": "publisher",
    "groups": "theme",
    "tags": "tag",
    "res_format": "format",
    "license_id": "licence",
    "update_cadence": "cadence",
    "spatial_area": "area",
    "price_types": "price",
}
ALWAYS = {
    "capacity": {"public"},
    "state": {"active"},
    "dataset_type": {"dataset"},
    "type": {"dataset"},
    "entity_type": {"package"},
    "site_id": None,  # any value: this catalog is one site
}
TEXT_FIELDS = {"text", "title", "notes", "title_ngram"}
RANGE_FIELDS = {"metadata_modified", "metadata_created"}

_VALUE = r'"(?:[^"\\]|\\.)*"|\((?:[^()"]|"(?:[^"\\]|\\.)*")*\)|\[[^\]]*\]|\{[^}]*\}|[^\s()]+'
CLAUSE = re.compile(rf"(?P<sign>[+-]?)(?P<field>[A-Za-z_][\w.]*):(?P<value>{_VALUE})")
CONNECTIVES = {"AND", "&&"}

# CKAN sort → the catalog's sort ("relevance" without words is the newest first, as CKAN's default
# "score desc, metadata_modified desc" is when every score is equal).
SORTS = {
    ("score", "desc"): "relevance",
    ("metadata_modified", "desc"): "newest",
    ("metadata_created", "desc"): "newest",
    ("title_string", "asc"): "title",
    ("name", "asc"): "title",  # names are made from titles here; the title order is what the catalog indexes
    ("views_recent", "desc"): "downloads",
    ("views_total", "desc"): "downloads",
}
DEFAULT_SORT = "score desc, metadata_modified desc"


@dataclass
class Search:
    """The catalog page's parameters of a package_search, plus what the page's filters cannot say."""

    params: QueryDict
    published_from: datetime | None = None
    published_until: datetime | None = None
    created_from: datetime | None = None
    created_until: datetime | None = None
    names: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    nothing: bool = False  # a clause no dataset here can match

    @property
    def extra(self) -> bool:
        return bool(
            self.published_from
            or self.published_until
            or self.created_from
            or self.created_until
            or self.names
            or self.ids
        )


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return re.sub(r"\\(.)", r"\1", value)


def _values(value: str) -> list[str]:
    if value.startswith("(") and value.endswith(")"):
        inner = value[1:-1].strip()
        parts = re.findall(r'"(?:[^"\\]|\\.)*"|[^\s]+', inner)
        values = [p for p in parts if p.upper() != "OR"]
        if any(p.upper() in ("AND", "NOT") for p in values):
            raise SearchError(_("Only OR lists are supported inside parentheses: %(value)s"), value=value)
        return [_unquote(v) for v in values]
    return [_unquote(value)]


def _instant(text: str, *, end: bool) -> datetime | None:
    text = text.strip()
    if text == "*":
        return None
    if text.upper().startswith("NOW"):
        if text.upper() != "NOW":
            raise SearchQueryError(_("Date arithmetic is not supported: %(value)s"), value=text)
        return datetime.now(UTC)
    moment = parse_datetime(text.replace("Z", "+00:00")) if "T" in text else None
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise SearchQueryError(_("Not an ISO 8601 date or date-time: %(value)s"), value=text)
        moment = datetime.combine(day, time.max if end else time.min)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _range(value: str) -> tuple[datetime | None, datetime | None]:
    match = re.fullmatch(r"[\[{]\s*(\S+)\s+TO\s+(\S+)\s*[\]}]", value)
    if not match:
        raise SearchQueryError(_("Expected a range [from TO until]: %(value)s"), value=value)
    return _instant(match.group(1), end=False), _instant(match.group(2), end=True)


def _licence(value: str) -> str:
    return licence_code_for_ckan_id(value) or value


def _organization(field_name: str, value: str) -> str:
    if field_name == "owner_org":
        parsed = parse_object_uuid(value)
        if parsed and parsed[0] == "organization":
            return Organization.objects.filter(pk=parsed[1]).values_list("slug", flat=True).first() or "-"
        return "-"  # not one of ours: matches nothing
    return value


def _clauses(text: str, *, allow_words: bool) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(sign, field, value) of each `field:value` in `text`, and the words left over."""
    clauses, words, position = [], [], 0
    for match in CLAUSE.finditer(text):
        words += text[position : match.start()].split()
        clauses.append((match.group("sign"), match.group("field"), match.group("value")))
        position = match.end()
    words += text[position:].split()
    words = [w for w in words if w not in CONNECTIVES]
    if not allow_words:
        if any(w.upper() in ("OR", "||") for w in words):
            raise SearchError(_("OR between filter clauses is not supported; use field:(a OR b)"))
        if words:
            raise SearchQueryError(_("Cannot read the filter: %(value)s"), value=" ".join(words))
    return clauses, words


def _search_words(words: list[str]) -> list[str]:
    """The words every match must hold. Negation (NOT x, -x, !x) and OR between words cannot be said to the catalog
    search (all its words must match): refused, as filters are, rather than answered with the opposite (NOT dropped,
    "-" taken for a word) or with the intersection of what OR joins."""
    tokens = [t for w in words for t in re.sub(r'[()"]', " ", w).split()]
    for token in tokens:
        if token.upper() == "NOT" or token == "!" or (len(token) > 1 and token[0] in "-!"):
            raise SearchError(_("Negative filters are not supported: %(value)s"), value=token)
        if token.upper() in ("OR", "||"):
            raise SearchError(_("OR between search words is not supported: every word must match"))
    cleaned = (re.sub(r"[+\-!~^*?\\]", " ", t).strip() for t in tokens)
    return [w for w in cleaned if w and w.upper() not in ("AND", "&&")]


def read(*, q: str | None, fq: str | None, fq_list: list[str], sort: str | None) -> Search:
    """The catalog search of package_search's q, fq, fq_list and sort."""
    params = QueryDict(mutable=True)
    search = Search(params)
    fields_seen: dict[str, str] = {}
    text = (q or "").strip()
    if text in ("*:*", '""', "''", "*"):
        text = ""
    q_clauses, words = _clauses(text, allow_words=True)
    filter_clauses = list(q_clauses)
    for item in [fq or "", *fq_list]:
        filter_clauses += _clauses(item, allow_words=False)[0]
    for sign, name, value in filter_clauses:
        if name in TEXT_FIELDS:
            words.append(_unquote(value))
            continue
        if sign == "-":
            raise SearchError(_("Negative filters are not supported: %(value)s"), value=f"-{name}:{value}")
        if name == "*" or (name in ALWAYS and value == "*"):
            continue
        if name in ALWAYS:
            allowed = ALWAYS[name]
            if allowed is not None and not set(_values(value)) & allowed:
                search.nothing = True
            continue
        if name in RANGE_FIELDS:
            start, end = _range(value)
            if name == "metadata_modified":
                search.published_from, search.published_until = start, end
            else:
                search.created_from, search.created_until = start, end
            continue
        if name == "name":
            search.names += _values(value)
            continue
        if name == "id":
            for v in _values(value):
                parsed = parse_object_uuid(v)
                search.ids.append(parsed[1] if parsed and parsed[0] == "dataset" else -1)
            continue
        target = FIELDS.get(name)
        if target is None:
            raise SearchError(_("Cannot filter on the field %(field)s (see help_show?name=package_search)"), field=name)
        if target in fields_seen and fields_seen[target] != value:
            raise SearchError(_("One clause per field: combine the values as %(field)s:(a OR b)"), field=name)
        fields_seen[target] = value
        for v in _values(value):
            if target == "licence":
                v = _licence(v)
            elif target == "format":
                v = v.lower()
            elif target == "publisher":
                v = _organization(name, v)
            params.appendlist(target, v)
    words = _search_words(words)
    if words:
        params["q"] = " ".join(words)[:200]
    params["sort"] = read_sort(sort, has_words=bool(words))
    return search


def read_sort(sort: str | None, *, has_words: bool) -> str:
    """The catalog's sort for a CKAN sort string (its first key decides; the catalog breaks ties itself)."""
    text = (sort or DEFAULT_SORT).strip()
    first = text.split(",")[0].split()
    if not first:
        first = ["score", "desc"]
    key = (first[0], (first[1] if len(first) > 1 else "asc").lower())
    if key not in SORTS:
        raise SearchQueryError(_('Invalid "sort" parameter'))
    value = SORTS[key]
    if value == "relevance" and not has_words:
        return "newest"  # every score equal: CKAN's tie-break, metadata_modified desc
    return value
