"""The catalog search: one page of results, the total and every facet, in a fixed, small number of queries.

The design measured in shared/reference/search.md (2 cores, 1M datasets):

1. A probe counts the matches up to a cap (CATALOG_EXACT_CAP, 10,000): `count(*) FROM (… LIMIT cap+1)`,
   with a word's bigrams ANDed instead of chained, so the GIN index answers it without reading vectors.
2. At or under the cap everything is exact: the page ranked by `ts_rank_cd` (title > tags/publisher >
   description > columns) and the total with all facets in ONE query (GROUPING SETS for the scalar
   facets, unnest for the array ones, over a materialized CTE of the matches).
3. Above the cap, ranking every match costs ~4.5 µs a row, so "relevance" orders by popularity (a
   btree walk with the search as a filter) and says so; the total and facets are exact when a worker
   has counted them for this catalog generation (cached in Redis), else estimated from a 1 % sample and
   labelled "about" while a worker counts them exactly.

Every catalog change bumps the generation (catalog.services.entries), so cached counts never go stale.
"""

import hashlib
import json
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.postgres.search import SearchRank
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import F

from accounts.models import Organization
from catalog.filters import PRICE_TYPES, SORTS, CatalogFilter
from catalog.models import CatalogEntry, DatasetVersion, Licence, Theme
from catalog.search import parse_query

PAGE_SIZE = 20
MAX_PAGES = 500  # deeper pages are not useful to anyone and cost an ever larger OFFSET
FACET_LIMIT = 15  # values shown per open-ended facet (tags, publishers, areas)
GENERATION_KEY = "catalog:generation"
COUNTS_TTL = 24 * 3600


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool = False


@dataclass
class CatalogResult:
    entries: list
    total: int
    exact: bool
    page: int
    pages: int
    sort: str  # the sort actually applied
    state: dict
    facets: dict[str, list[FacetValue]] = field(default_factory=dict)
    relevance_replaced: bool = False  # above the cap, "relevance" was served as "most downloaded"
    counting: bool = False  # a worker is counting the exact figures
    errors: dict = field(default_factory=dict)

    @property
    def has_previous(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


# --- the catalog generation (cache key of exact counts) ------------------------------------------------


def catalog_generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, timeout=None)


def catalog_changed() -> None:
    """Called (on commit) whenever an entry is written or removed: cached counts are for an older catalog."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:
        cache.set(GENERATION_KEY, 2, timeout=None)


def bump_generation_on_commit() -> None:
    transaction.on_commit(catalog_changed)


# --- labels of facet values (reference tables are tiny; kept a minute per process) ----------------------

_labels: dict[str, tuple[float, dict]] = {}


def reference_ids(model) -> dict[str, int]:
    """Code → id of themes or licences, from the same per-process cache."""
    kind = "theme" if model is Theme else "licence"
    return {obj.code: pk for pk, obj in _reference_labels(kind).items()}


def _reference_labels(kind: str, needed=()) -> dict:
    cached = _labels.get(kind)
    if cached and cached[0] > time.monotonic() and all(int(pk) in cached[1] for pk in needed):
        return cached[1]
    model = {"theme": Theme, "licence": Licence}[kind]
    value = {obj.pk: obj for obj in model.objects.all()}
    _labels[kind] = (time.monotonic() + 60, value)
    return value


# --- the SQL -----------------------------------------------------------------------------------------------

FACET_COLUMNS = ["theme_id", "publisher_id", "licence_id", "update_cadence", "area", "formats", "price_types", "tags"]

FACET_SQL = """
WITH m AS MATERIALIZED ({inner})
SELECT CASE WHEN GROUPING(theme_id) = 0 THEN 'theme'
            WHEN GROUPING(publisher_id) = 0 THEN 'publisher'
            WHEN GROUPING(licence_id) = 0 THEN 'licence'
            WHEN GROUPING(update_cadence) = 0 THEN 'cadence'
            WHEN GROUPING(area) = 0 THEN 'area'
            ELSE 'total' END AS facet,
       COALESCE(theme_id::text, publisher_id::text, licence_id::text, update_cadence, area) AS value,
       count(*) AS n
  FROM m
 GROUP BY GROUPING SETS ((theme_id), (publisher_id), (licence_id), (update_cadence), (area), ())
UNION ALL
SELECT 'format', v, count(*) FROM m, unnest(m.formats) AS v GROUP BY v
UNION ALL
SELECT 'price', v, count(*) FROM m, unnest(m.price_types) AS v GROUP BY v
UNION ALL
(SELECT 'tag', v, count(*) FROM m, unnest(m.tags) AS v GROUP BY v ORDER BY 3 DESC, 2 LIMIT {tag_limit})
"""

MAIN_TABLE = f'FROM "{CatalogEntry._meta.db_table}"'


def _facet_rows(qs, *, sample: bool = False) -> list[tuple[str, str, int]]:
    try:
        inner, params = qs.order_by().values(*FACET_COLUMNS).query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (e.g. an unknown theme code)
        return [("total", None, 0)]
    if sample:
        # Only the outer table is sampled: the filters' subqueries (theme codes, slugs) read other tables.
        percent = settings.CATALOG_SAMPLE_PERCENT
        inner = inner.replace(MAIN_TABLE, f"{MAIN_TABLE} TABLESAMPLE SYSTEM ({percent}) REPEATABLE (7)", 1)
    with connection.cursor() as cursor:
        cursor.execute(FACET_SQL.format(inner=inner, tag_limit=FACET_LIMIT), params)
        rows = cursor.fetchall()
    if sample:
        scale = 100 / settings.CATALOG_SAMPLE_PERCENT
        rows = [(facet, value, round(n * scale)) for facet, value, n in rows]
    return rows


def counts_key(state: dict) -> str:
    normalized = {k: sorted(v) if isinstance(v, list) else v for k, v in state.items() if k != "sort"}
    digest = hashlib.sha256(json.dumps(normalized, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
    return f"catalog:counts:{catalog_generation()}:{digest}"


def exact_counts(params) -> list[tuple[str, str, int]]:
    """Count the total and facets of a search exactly and cache them (the worker does this above the cap)."""
    search = CatalogFilter(params, queryset=CatalogEntry.objects.all())
    if not search.is_valid():
        return []
    rows = _facet_rows(search.qs)
    cache.set(counts_key(search.state()), rows, COUNTS_TTL)
    return rows


def _request_exact_counts(params, key: str) -> bool:
    """Ask a worker to count (once per key at a time); False when no worker could be asked."""
    if not cache.add(f"{key}:queued", 1, timeout=300):
        return True
    from catalog.tasks import catalog_counts_task

    try:
        catalog_counts_task.delay({k: params.getlist(k) for k in params})
    except Exception:  # the broker is down: the page still answers, with estimates
        cache.delete(f"{key}:queued")
        return False
    return True


# --- the search ----------------------------------------------------------------------------------------------


def _order(qs, sort: str, query, *, rank_allowed: bool):
    if sort == "relevance" and query is not None and rank_allowed:
        rank = SearchRank(F("search_vector"), query, weights=[0.1, 0.2, 0.4, 1.0], cover_density=True)
        return qs.annotate(rank=rank).order_by("-rank", "-download_count", "-published_at", "pk")
    if sort == "title":
        return qs.order_by("title_ko", "pk")
    if sort == "newest":
        return qs.order_by("-published_at", "pk")
    return qs.order_by("-download_count", "-published_at", "pk")  # downloads, or relevance above the cap


def _facets(rows, state: dict) -> tuple[int, dict[str, list[FacetValue]]]:
    total = 0
    raw: dict[str, dict[str, int]] = {}
    for facet, value, n in rows:
        if facet == "total":
            total = n
        elif value is not None and value != "":
            raw.setdefault(facet, {})[value] = n
    themes = _reference_labels("theme", raw.get("theme", {}))
    licences = _reference_labels("licence", raw.get("licence", {}))
    publisher_ids = sorted(raw.get("publisher", {}), key=lambda v: -raw["publisher"][v])[:FACET_LIMIT]
    publishers = {str(o.pk): o for o in Organization.objects.filter(pk__in=publisher_ids).only("pk", "slug", "name_ko", "name_en")}
    cadences = dict(DatasetVersion.Cadence.choices)

    def build(name, items, limit=None):
        selected = set(state.get(name) or [])
        values = sorted(items, key=lambda fv: (-fv.count, fv.label))
        if limit:
            values = values[:limit]
        shown = {fv.value for fv in values}
        for fv in values:
            fv.selected = fv.value in selected
        # A chosen value stays visible (and removable) even when nothing matches it any more.
        values += [FacetValue(v, v, 0, True) for v in sorted(selected - shown)]
        return values

    facets = {}
    facets["theme"] = build("theme", [
        FacetValue(themes[int(pk)].code, themes[int(pk)].name, n) for pk, n in raw.get("theme", {}).items() if int(pk) in themes
    ])
    facets["publisher"] = build("publisher", [
        FacetValue(publishers[pk].slug, publishers[pk].display_name, raw["publisher"][pk]) for pk in publisher_ids if pk in publishers
    ])
    facets["format"] = build("format", [FacetValue(v, v.upper(), n) for v, n in raw.get("format", {}).items()])
    facets["licence"] = build("licence", [
        FacetValue(licences[int(pk)].code, licences[int(pk)].name, n) for pk, n in raw.get("licence", {}).items() if int(pk) in licences
    ])
    facets["price"] = build("price", [FacetValue(v, str(PRICE_TYPES.get(v, v)), n) for v, n in raw.get("price", {}).items()])
    facets["tag"] = build("tag", [FacetValue(v, v, n) for v, n in raw.get("tag", {}).items()], FACET_LIMIT)
    facets["cadence"] = build("cadence", [FacetValue(v, str(cadences.get(v, v)), n) for v, n in raw.get("cadence", {}).items()])
    facets["area"] = build("area", [FacetValue(v, v, n) for v, n in raw.get("area", {}).items()], FACET_LIMIT)
    # Labels of chosen values that have no count (e.g. a theme chosen together with an excluding filter).
    for fv in facets["theme"]:
        if fv.count == 0:
            fv.label = next((t.name for t in themes.values() if t.code == fv.value), fv.value)
    return total, facets


def catalog_search(params, *, page: int | str | None = 1, facets: bool = True) -> CatalogResult:
    """One page of the catalog for GET parameters `params` (a QueryDict): entries, total, facets."""
    search = CatalogFilter(params, queryset=CatalogEntry.objects.all())
    if not search.is_valid():
        return CatalogResult([], 0, True, 1, 1, "relevance", search.state(), errors=search.errors)
    state = search.state()
    query = parse_query(state["q"])
    sort = state["sort"] or ("relevance" if query is not None else "newest")
    if sort not in SORTS:
        sort = "newest"
    qs = search.qs
    cap = settings.CATALOG_EXACT_CAP
    # The probe counts a superset (bigrams present, positions unchecked: no vector is read back). Under the
    # cap everything below is exact; above it, the figures are labelled estimates anyway.
    superset = CatalogFilter(params, queryset=CatalogEntry.objects.all(), text="loose").qs
    probe = superset.order_by().values("pk")[: cap + 1].count()
    small = probe <= cap  # few enough matches to rank them all and count them exactly
    exact, counting = small, False
    if small:
        rows = _facet_rows(qs) if facets else [("total", None, qs.count())]
    else:
        key = counts_key(state)
        rows = cache.get(key)
        if rows is not None:
            exact = True
        elif facets:
            rows = _facet_rows(qs, sample=True)
            if next((n for facet, _v, n in rows if facet == "total"), 0) <= cap:
                # The superset was large but the matches themselves look few: count them exactly after all.
                rows, exact, small = _facet_rows(qs), True, True
            else:
                counting = _request_exact_counts(params, key)
        else:
            rows = [("total", None, qs.count())]
            exact = True
    total, facet_values = _facets(rows, state) if facets else (rows[0][2], {})
    pages = max(1, min(MAX_PAGES, -(-total // PAGE_SIZE)))
    try:
        number = max(1, min(int(page or 1), pages))
    except (TypeError, ValueError):
        number = 1
    if not small:
        qs = CatalogFilter(params, queryset=CatalogEntry.objects.all(), text="walk").qs
    ordered = _order(qs, sort, query, rank_allowed=small)
    start = (number - 1) * PAGE_SIZE
    # The page's ids from the index table alone, then those rows with what they show: joining first would
    # join every candidate row before the sort and the offset.
    ids = list(ordered.values_list("pk", flat=True)[start : start + PAGE_SIZE])
    rows = CatalogEntry.objects.select_related("dataset", "theme", "publisher", "licence", "version").defer("search_vector")
    by_id = {entry.pk: entry for entry in rows.filter(pk__in=ids)} if ids else {}
    entries = [by_id[pk] for pk in ids if pk in by_id]
    return CatalogResult(
        entries=entries, total=total, exact=exact, page=number, pages=pages, sort=sort, state=state,
        facets=facet_values, relevance_replaced=sort == "relevance" and query is not None and not small,
        counting=counting,
    )


def similar_terms(q: str, limit: int = 6) -> list[str]:
    """For an empty result: keywords of datasets sharing a syllable pair with the query (cheap: ≤ 200 rows)."""
    from catalog.search import HANGUL_RUN, LATIN_WORD

    runs = HANGUL_RUN.findall(q or "")
    pairs = {run[i : i + 2] for run in runs for i in range(max(1, len(run) - 1))}
    words = [w.lower() for w in LATIN_WORD.findall(q or "")]
    if not pairs and not words:
        return []
    from django.contrib.postgres.search import SearchQuery

    terms = " | ".join("'" + p.replace("'", "''") + "'" for p in sorted(pairs)) or None
    query = SearchQuery(terms, search_type="raw", config="simple") if terms else None
    if words:
        english = SearchQuery(" or ".join(words), search_type="websearch", config="english")
        query = english if query is None else query | english
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # An OR of bigrams is estimated to match tens of thousands of rows, so the planner scans the whole
        # table for LIMIT 200 (3 s at a million rows); the GIN index answers in a millisecond.
        cursor.execute("SET LOCAL enable_seqscan = off")
        tags = list(CatalogEntry.objects.filter(search_vector=query).values_list("tags", "title_ko")[:200])
        cursor.execute("SET LOCAL enable_seqscan = on")  # for the rest of an enclosing transaction
    counts: dict[str, int] = {}
    for entry_tags, title in tags:
        for tag in entry_tags:
            if any(p in tag for p in pairs) or any(w in tag.lower() for w in words):
                counts[tag] = counts.get(tag, 0) + 1
    # Splitting or joining words: 복지시설 ↔ "복지 시설".
    suggestions = sorted(counts, key=lambda t: (-counts[t], t))
    q_clean = (q or "").strip()
    if " " in q_clean:
        suggestions.insert(0, q_clean.replace(" ", ""))
    elif len(runs) == 1 and len(runs[0]) >= 4:
        suggestions.insert(0, runs[0][: len(runs[0]) // 2] + " " + runs[0][len(runs[0]) // 2 :])
    return [s for s in dict.fromkeys(suggestions) if s != q_clean][:limit]


def home_sections(limit: int = 6) -> dict:
    """What the home page shows: themes and publishers with their dataset counts (cached per catalog
    generation: at a million datasets these are full aggregates), the newest and the most used datasets."""
    from django.db.models import Count

    key = f"catalog:home:{catalog_generation()}"
    counts = cache.get(key)
    if counts is None:
        counts = {
            "themes": dict(CatalogEntry.objects.order_by().values_list("theme_id").annotate(n=Count("pk"))),
            "publishers": list(
                CatalogEntry.objects.order_by().values_list("publisher_id").annotate(n=Count("pk")).order_by("-n")[:12]
            ),
            "total": CatalogEntry.objects.count(),
        }
        cache.set(key, counts, COUNTS_TTL)
    themes = [(theme, counts["themes"].get(theme.pk, 0)) for theme in _reference_labels("theme").values()]
    publisher_rows = counts["publishers"]
    publishers = {o.pk: o for o in Organization.objects.filter(pk__in=[pk for pk, _ in publisher_rows])}
    entries = CatalogEntry.objects.select_related("dataset", "publisher", "theme").defer("search_vector")
    return {
        "total": counts["total"],
        "themes": sorted(themes, key=lambda tn: tn[0].position),
        "publishers": [(publishers[pk], n) for pk, n in publisher_rows if pk in publishers],
        "newest": list(entries.order_by("-published_at", "pk")[:limit]),
        "popular": list(entries.filter(download_count__gt=0).order_by("-download_count", "-published_at", "pk")[:limit]),
    }
