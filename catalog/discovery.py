"""The catalog search: one page of results, the total and every facet, in a fixed, small number of queries.

The design (shared/reference/search.md; measured by bench/search.py at a million datasets on 2 cores):

1. One GIN index holds the search vector and every facet value as a key (CatalogEntry.facet_keys), and a
   query is a plain AND of n-gram lexemes (catalog.search), so the index answers a search with all its
   filters exactly: the only heap rows read are matches, and no vector is read back.
2. Fixed samples of the entries (0.1 %, 1 % and 10 %: CATALOG_SAMPLE_LEVELS) carry sample keys ("~1000",
   "~100", "~10"). The sample of a search (its matches among them) is one more key in the same index scan;
   its counts × 1,000 (× 100, × 10) estimate the total and the facets. The coarsest sample with enough
   matches is used, so an estimate reads a few hundred rows whatever the size of the search.
   The sample a search reads first comes from how common its rarest Hangul lexeme is (catalog.lexemes): a sample
   that cannot hold enough of its matches is skipped, and none is read when even that bound is within the cap.
3. When the sample (or the bound) predicts at most CATALOG_EXACT_CAP matches, the total and all facets are
   counted exactly in ONE query (an unnest of the facet keys of the matches). Relevance is `ts_rank_cd` (title > tags and
   publisher > description > columns) up to CATALOG_RANK_CAP matches; above it ranking would read thousands
   of vectors, so titles containing every word come first, then the most downloaded.
4. Above the cap the figures are labelled estimates while a worker counts them exactly into Redis for the
   current catalog generation, and relevance is served as "most downloaded": the page walks a sort index
   checking each row, reading a few hundred rows instead of sorting tens of thousands.

Every catalog change bumps the generation (catalog.services.entries), so cached counts never go stale.
"""

import collections
import contextvars
import functools
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import BooleanField, Count, F, Func, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Concat
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Organization
from catalog import lexemes, tasks
from catalog.filters import PRICE_TYPES, SORTS, CatalogFilter, keys_condition
from catalog.models import CatalogEntry, DatasetVersion, Licence, Theme, _bilingual
from catalog.pricing import Price, price_of
from catalog.search import (
    HANGUL_RUN,
    LATIN_WORD,
    PREFIX_FACET,
    downloads_bucket,
    month_bucket,
    parse_query,
    required_lexemes,
    sample_key,
)
from catalog.services import title_buckets
from core.cache import spend_per_second
from core.db import execute_prepared
from core.generation import GENERATION_KEY as GENERATION_KEY  # catalog.discovery's names, kept
from core.generation import bump_generation_on_commit as bump_generation_on_commit
from core.generation import catalog_changed as catalog_changed
from core.generation import catalog_generation as catalog_generation

PAGE_SIZE = 20
MAX_PAGES = 500  # deeper pages are not useful to anyone and cost an ever larger OFFSET
FACET_LIMIT = 15  # values shown per open-ended facet (tags, publishers, areas)
COUNTS_TTL = 24 * 3600
RANK_WEIGHTS = [0.1, 0.2, 0.4, 1.0]  # ts_rank_cd's weights of D, C, B, A: columns, description, tags, title
SAMPLE_ENOUGH = 100  # sampled matches behind an estimate (±10 % at two standard deviations)
DEEP_PAGE_START = 200  # from this offset a large search's page is read through the sort buckets


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
    relevance: str | None = None  # how relevance was served: RANKED, TITLE_FIRST or POPULAR (None: another sort)
    counting: bool = False  # a worker is counting the exact figures
    errors: dict = field(default_factory=dict)
    page_size: int = PAGE_SIZE
    # The raw (key, count) rows behind `facets`: facets_in() labels them in another language (the API gives both).
    rows: list = field(default_factory=list, repr=False)
    no_words: bool = False  # the text has no word the index can search (nothing matches it; the page says why)

    @property
    def has_previous(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


# The catalog generation (the cache key of exact counts): core.generation, imported above.


# --- labels of facet values (reference tables are tiny; kept a minute per process, and per catalog generation) ----
# An edit of a theme, a licence or an organization (its services, the Django admin) bumps the catalog generation on
# commit: a label read in this process for an older generation is read again, so the edit shows in every process on
# its next request, not up to a minute later.

_labels: dict[str, tuple[float, int, dict]] = {}


def reference_ids(model) -> dict[str, int]:
    """Code → id of themes or licences, from the same per-process cache."""
    kind = "theme" if model is Theme else "licence"
    return {obj.code: pk for pk, obj in _reference_labels(kind).items()}


def _reference_labels(kind: str, needed=()) -> dict:
    generation = catalog_generation()  # before the rows: a change committed before it is in what is read below
    cached = _labels.get(kind)
    if (
        cached
        and cached[0] > time.monotonic()
        and cached[1] == generation
        and all(int(pk) in cached[2] for pk in needed)
    ):
        return cached[2]
    model = {"theme": Theme, "licence": Licence}[kind]
    value = {obj.pk: obj for obj in model.objects.all()}
    _labels[kind] = (time.monotonic() + 60, generation, value)
    return value


_publishers: dict[str, tuple[float, int, object]] = {}


def forget_reference_labels() -> None:
    """Drop this process's labels of themes, licences and publishers and its key frequencies (the next read loads
    them again)."""
    _labels.clear()
    _publishers.clear()
    _frequencies.clear()


def _publisher_labels(ids) -> dict:
    """id → Organization (slug and names only) of publishers in a facet, kept a minute per process and per catalog
    generation: a catalog page names up to 15 and they rarely change."""
    now = time.monotonic()
    generation = catalog_generation()
    missing = [
        pk for pk in ids if pk not in _publishers or _publishers[pk][0] < now or _publishers[pk][1] != generation
    ]
    if missing:
        for org in Organization.objects.filter(pk__in=missing).only("pk", "slug", "name_ko", "name_en"):
            _publishers[str(org.pk)] = (now + 60, generation, org)
        if len(_publishers) > 5000:  # a bound, not an LRU: publishers are hundreds
            _publishers.clear()
    return {pk: _publishers[pk][2] for pk in ids if pk in _publishers}


# --- the SQL -----------------------------------------------------------------------------------------------

# All facets and the total of a search in one pass over its matching rows: every facet value is a key of
# facet_keys ("t:3", "g:CCTV"), so one unnest and GROUP BY counts them all; the window keeps the top values of
# each facet (tags, areas and publishers are open-ended). With the sort buckets (`buckets`), the matches per
# popularity bucket ("d:12"), month ("n:202611") and title bucket ("s3:17") are counted too, all of them: where a
# page's rows stand (_bucket_route).
FACET_SQL = """
WITH m AS MATERIALIZED ({inner})
SELECT 'f', k, n FROM (
    SELECT k, count(*) AS n, row_number() OVER (PARTITION BY split_part(k, ':', 1) ORDER BY count(*) DESC, k) AS r
      FROM m, unnest({keys}) AS k
     GROUP BY k
) AS counted
 WHERE r <= {limit} OR left(k, 1) IN ('d', 'n', 's')
UNION ALL
SELECT '#', NULL, count(*) FROM m
"""
FACET_SQL_LIMIT = 50  # per facet, before FACET_LIMIT trims the open-ended ones for display


FACET_KEYS = "m.facet_keys"
FACET_AND_SORT_KEYS = "m.facet_keys || m.sort_keys::varchar(80)[]"


def _facet_rows(qs, *, scale: int = 1, limit: int = FACET_SQL_LIMIT, buckets: bool = True) -> list[tuple[str, int]]:
    """(key, count) of every facet value of the matches of `qs`, plus ("#", total); counts × scale for a sample.
    With `buckets`, also every sort bucket's count (see FACET_SQL)."""
    fields = ("facet_keys", "sort_keys") if buckets else ("facet_keys",)
    try:
        inner, params = qs.order_by().values(*fields).query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing
        return [("#", 0)]
    return _facet_rows_of(inner, params, scale=scale, limit=limit, buckets=buckets)


def _sample_rows(search: CatalogFilter, modulus: int) -> list[tuple[str, int]]:
    """_facet_rows of the search's matches in the 1-in-`modulus` sample (scaled), the statement written from the
    search's compiled conditions (_search_sql) instead of an ORM query compiled for each sample level."""
    try:
        inner, params = _search_sql(
            search, ("facet_keys", "sort_keys"), ("facet_keys__contains", [sample_key(modulus)])
        )
    except EmptyResultSet:
        return [("#", 0)]
    return _facet_rows_of(inner, params, scale=modulus, limit=FACET_SQL_LIMIT, buckets=True)


def _facet_rows_of(inner: str, params, *, scale: int, limit: int, buckets: bool) -> list[tuple[str, int]]:
    keys = FACET_AND_SORT_KEYS if buckets else FACET_KEYS
    with connection.cursor() as cursor:
        cursor.execute(FACET_SQL.format(inner=inner, limit=limit, keys=keys), params)
        return [("#" if tag == "#" else key, n * scale) for tag, key, n in cursor.fetchall()]


# --- statements written from a search's conditions compiled once --------------------------------------------------
# Compiling an ORM query costs ~0.2–0.5 ms of Python (clone, resolve, compile), and a search runs two to four of them
# (its samples, its page), each the same conditions with one more. So the search's own conditions are compiled once
# (the children of its WHERE, as Django writes them), and the other parts of a statement (its select list, its order,
# one more condition) are taken from the ORM's own SQL for them, compiled once per process: the statements are the
# very text the ORM query would make (tests/catalog/test_discovery.py compares them).


def _search_where(
    search: CatalogFilter, extra: tuple[str, list] | None = None, on_rows: bool = False
) -> tuple[str, list]:
    """ " WHERE …" of the search's conditions (`on_rows`: of search.qs_common_on_rows), and `extra` (sql, params)
    ANDed last, as Django's WhereNode writes them (one condition bare, several in parentheses); "" without any.
    EmptyResultSet when nothing can match."""
    attribute = "_where_parts_on_rows" if on_rows else "_where_parts"
    parts = getattr(search, attribute, None)
    if parts is None:
        query = (search.qs_common_on_rows if on_rows else search.qs).query
        where = query.where
        if where.connector != "AND" or where.negated:  # (never made by CatalogFilter: its filters are ANDed)
            raise ValueError("a search's conditions are ANDed")
        compiler = query.get_compiler(connection=connection)
        parts = [compiler.compile(child) for child in where.children]  # EmptyResultSet: qs.none()
        setattr(search, attribute, parts)
    if extra is not None:
        parts = [*parts, extra]
    if not parts:
        return "", []
    sql = " AND ".join(part for part, _params in parts)
    return (f" WHERE ({sql})" if len(parts) > 1 else f" WHERE {sql}"), [p for _sql, params in parts for p in params]


@functools.cache
def _orm_sql(fields: tuple[str, ...], sort: str | None = None) -> tuple[str, str, tuple]:
    """(SELECT … FROM …, " ORDER BY …" or "", the order's params) of CatalogEntry's `fields` (values()), in the order
    of _ordered(sort, through_gin=True): the ORM's own SQL, compiled once per process."""
    qs = CatalogEntry.objects.order_by()
    if sort is not None:
        qs = _ordered(qs, sort, None, None, through_gin=True)
    sql, params = qs.values(*fields).query.sql_with_params()
    select, _, order = sql.partition(" ORDER BY ")
    return select, f" ORDER BY {order}" if order else "", tuple(params)


@functools.lru_cache(maxsize=256)  # (a deep page's month buckets: up to 1,200 values, each count its own shape)
def _condition_sql(lookup: str, values: int | None) -> tuple[str, tuple[int | None, ...]]:
    """The SQL of the condition `lookup` (e.g. "sort_keys__overlap") on a list of `values` values (None: one scalar),
    as the ORM writes it, and where each of its parameters comes from (None: the value itself, i: its i-th element;
    the ORM writes ARRAY[%s, %s] for a list, but one %s for an empty one); compiled once per process and shape."""
    sample = "\x00" if values is None else [f"\x00{i}" for i in range(values)]
    query = CatalogEntry.objects.filter(**{lookup: sample}).query
    sql, params = query.get_compiler(connection=connection).compile(query.where)
    return sql, tuple(None if param == sample else int(param[1:]) for param in params)


def _search_sql(
    search: CatalogFilter, fields: tuple[str, ...], extra=None, sort: str | None = None, window=None, on_rows=False
):
    """(sql, params) of the statement selecting `fields` of the search's matches (and `extra`: (lookup, value), one
    more condition), in `sort`'s order (_ordered through the GIN index), `window` (a slice) of them: what
    search.qs.filter(extra) ordered, as values(*fields)[window], compiles to (`on_rows`: search.qs_common_on_rows)."""
    select, order, order_params = _orm_sql(fields, sort)
    if extra is not None:
        lookup, value = extra
        many = isinstance(value, list | tuple)
        condition, slots = _condition_sql(lookup, len(value) if many else None)
        extra = (condition, [value if slot is None else value[slot] for slot in slots])
    where, params = _search_where(search, extra, on_rows)
    sql = select + where + order
    if window is not None:
        sql += " " + connection.ops.limit_offset_sql(window.start, window.stop)
    return sql, (*params, *order_params)


PAGE_SQL = """
UNION ALL
SELECT '@', pk::text, ordinal FROM (
    SELECT pk, row_number() OVER (ORDER BY {order}) AS ordinal FROM m ORDER BY {order} LIMIT {limit} OFFSET {offset}
) AS page
"""


def _exact_rows_and_page(
    search: CatalogFilter, sort: str, relevance: bool, start: int, size: int, limit: int | None = None
) -> tuple[list, list[int]]:
    """A search with few matches, exactly, in ONE statement (one pass over the matching rows): every facet,
    the total and the page's ids. With `relevance` the page is ranked by ts_rank_cd when the matches are at most
    CATALOG_RANK_CAP (decided inside the statement, from its own count), else titles holding every word first;
    then the most downloaded. With `limit`, at most that many matches are read: a total of `limit` says there may
    be more (the figures and page are then not the search's)."""
    qs = search.qs.order_by()
    fields = ["pk", "facet_keys", "download_count", "published_at", "title_ko"]
    if relevance:
        qs = qs.annotate(title_hit=_title_has_every_word(search.state()["q"]))
        fields += ["title_hit", "search_vector"]
    try:
        inner, params = qs.values(*fields).query.sql_with_params()
    except EmptyResultSet:
        return [("#", 0)], []
    if limit is not None:
        inner += f" LIMIT {int(limit)}"
    params = list(params)
    if relevance:
        compiler = qs.query.get_compiler(connection=connection)
        tsquery, tsquery_params = search.text_query.resolve_expression(qs.query).as_sql(compiler, connection)
        order = (
            f"CASE WHEN (SELECT count(*) FROM m) <= %s THEN ts_rank_cd(%s::float4[], m.search_vector, "
            f"{tsquery}) ELSE 0 END DESC, title_hit DESC, download_count DESC, published_at DESC, pk"
        )
        params += [settings.CATALOG_RANK_CAP, RANK_WEIGHTS, *tsquery_params] * 2  # the ORDER BY appears twice
    else:
        order = ", ".join(f"{f[1:]} DESC" if f.startswith("-") else f for f in SORT_ORDER[sort])
    sql = FACET_SQL.format(inner=inner, limit=FACET_SQL_LIMIT, keys=FACET_KEYS) + PAGE_SQL.format(
        order=order, limit=int(size), offset=int(start)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        result = cursor.fetchall()
    rows = [("#" if tag == "#" else key, n) for tag, key, n in result if tag != "@"]
    page = [int(key) for tag, key, _ordinal in sorted((r for r in result if r[0] == "@"), key=lambda r: r[2])]
    return rows, page


def _total(rows) -> int:
    return next((n for key, n in rows if key == "#"), 0)


def counts_key(state: dict) -> str:
    normalized = {k: sorted(v) if isinstance(v, list) else v for k, v in state.items() if k != "sort"}
    digest = hashlib.sha256(json.dumps(normalized, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]
    return f"catalog:counts:{catalog_generation()}:{digest}"


def exact_counts(params) -> int:
    """Count the total and facets of a search exactly and cache them (the worker does this above the cap).
    Returns the total."""
    search = CatalogFilter(params, queryset=CatalogEntry.objects.all())
    if not search.is_valid():
        return 0
    # The generation before the rows (core.generation): a change that commits while they are read bumps it after,
    # so these figures are never kept as the newer catalog's (they were, for a day, when the key was read after).
    key = counts_key(search.state())
    rows = _facet_rows(search.qs)
    cache.set(key, rows, COUNTS_TTL)
    return _total(rows)


def _request_exact_counts(params, key: str, total: int) -> bool:
    """Ask a worker to count (once per key at a time); False when no worker could be asked, or the workers' budget of
    matches to count this second (CATALOG_COUNT_BUDGET) cannot hold this search's `total` (estimated): the estimate
    stays, labelled (the page cache may keep that answer for its URL), and the next ask of the search that is no
    cache hit (another page or sort, or the same URL once its page expired) tries again."""
    if not cache.add(f"{key}:queued", 1, timeout=300):
        return True
    give_back = spend_per_second("catalog-counts", total, settings.CATALOG_COUNT_BUDGET)
    if give_back is None:
        cache.delete(f"{key}:queued")
        return False
    try:
        tasks.catalog_counts_task.delay({k: params.getlist(k) for k in params})
    except Exception:  # the broker is down: the page still answers, with estimates
        cache.delete(f"{key}:queued")
        give_back()  # nothing was queued: the budget is the other searches'
        return False
    return True


# --- the page's order ------------------------------------------------------------------------------------------

# Relevance, by how many datasets match (see the module docstring):
RANKED = "rank"  # ts_rank_cd over the whole weighted vector
TITLE_FIRST = "title"  # titles containing every word first, then the most downloaded
POPULAR = "popular"  # the most downloaded (a walk down the popularity index)

SORT_ORDER = {
    "title": ("title_ko", "pk"),
    "newest": ("-published_at", "pk"),
    "downloads": ("-download_count", "-published_at", "pk"),
}


def _title_has_every_word(q: str):
    """True when the title holds every word of the query: Hangul words as substrings (what their n-grams
    match), English words by stem. Reads only the short title columns, never the search vector."""
    clauses, params = [], []
    for run in dict.fromkeys(HANGUL_RUN.findall(q)):
        clauses.append("catalog_catalogentry.title_ko LIKE %s")
        params.append(f"%{run}%")
    latin = " ".join(LATIN_WORD.findall(q))
    if latin:
        clauses.append(
            "to_tsvector('english'::regconfig, catalog_catalogentry.title_en) @@ "
            "plainto_tsquery('english'::regconfig, %s)"
        )
        params.append(latin)
    return RawSQL("(" + " AND ".join(clauses or ["FALSE"]) + ")", params, output_field=BooleanField())


def _ordered(qs, sort: str, relevance: str | None, search: CatalogFilter, *, through_gin: bool = False):
    """The page's order. `through_gin` states the first sort key as an expression no btree index matches, so
    the planner collects the matches through the GIN index and sorts them, instead of walking a sort index
    with the search as a filter (which reads the vector of every row it passes: the planner's guess of the
    number of matches decides that, and it can be wrong by 100×). The walk is chosen explicitly: _walk."""
    if relevance == RANKED:
        rank = SearchRank(F("search_vector"), search.text_query, weights=RANK_WEIGHTS, cover_density=True)
        # The exact statement's order (_exact_rows_and_page): among equal ranks, titles holding every word first, so a
        # page read here (past the last page, shown as the last) is the page that statement gave.
        title_hit = _title_has_every_word(search.state()["q"])
        return qs.annotate(rank=rank, title_hit=title_hit).order_by(
            "-rank", "-title_hit", "-download_count", "-published_at", "pk"
        )
    if relevance == TITLE_FIRST:
        return qs.annotate(title_hit=_title_has_every_word(search.state()["q"])).order_by(
            "-title_hit", "-download_count", "-published_at", "pk"
        )
    order = list(SORT_ORDER.get(sort, SORT_ORDER["downloads"]))
    if through_gin:
        first = order[0].lstrip("-")
        blind = {
            "download_count": F("download_count") + 0,
            "published_at": F("published_at") + timedelta(0),
            "title_ko": Concat("title_ko", Value("")),
        }[first]
        order[0] = blind.desc() if order[0].startswith("-") else blind.asc()
    return qs.order_by(*order)


def _walk(search: CatalogFilter):
    """The search with every condition as a plain function call: the planner cannot use the GIN index, so
    it walks the sort's btree index and checks each row until the page is full. With many matches that
    reads a few hundred rows instead of collecting (and sorting) tens of thousands."""
    qs = CatalogEntry.objects.all()
    # The facet keys first: they are on the row, while the text match reads (and decompresses) the TOASTed vector,
    # several times the cost; PostgreSQL keeps the order of conditions of equal cost.
    for i, keys in enumerate(search.key_groups or []):
        qs = qs.alias(**{f"keys_{i}": keys_condition(keys, walk=True)}).filter(**{f"keys_{i}": True})
    if search.text_query is not None:
        match = Func(F("search_vector"), search.text_query, function="ts_match_vq", output_field=BooleanField())
        qs = qs.alias(text_match=match).filter(text_match=True)
    return qs


# Measured costs at a million datasets (bench/search.py, 2 cores), in µs: visiting a row while walking a btree,
# reading and matching its search vector (TOAST, decompressed), visiting a match found through the GIN index,
# and the GIN index scan itself for common words.
WALK_ROW_US, TEXT_CHECK_US, HEAP_ROW_US, GIN_SCAN_US = 2.0, 15.0, 3.5, 8_000.0
# A title range (_page) ANDs two bitmaps: the GIN index's of every match (no row read) and the title index's of the
# entries up to the page's last title; then reads the rows in both. µs per match and per title in the range
# (bench/unseen.py: "인허가", 134,521 matches, 66,013 titles in range: 17 ms and 6 ms).
GIN_TID_US, RANGE_ROW_US = 0.13, 0.1


@dataclass
class Routes:
    """Estimated µs of each way to the page, and the page's last title in title order (from the sample)."""

    walk: float
    gin: float
    title_range: float = math.inf
    title_edge: str | None = None


def _route_costs(search: CatalogFilter, total: int, rows_needed: int, sort: str = "") -> Routes:
    """The estimated µs of walking the sort index and of collecting every match through the GIN index (and in
    title order of the title range). Walking a sort index reads about rows_needed × catalog / total rows; those
    passing the facet keys (their share of the catalog, from the key frequencies) also have their vector read.
    Through the GIN index every match is visited once, then sorted.

    That walk estimate holds when the matches are spread evenly along the sort order. Along the title order they
    are not: the words searched are mostly words of the titles, so the matches gather in runs of titles and a
    walk may pass hundreds of thousands of rows before the first (bench/unseen.py at a million datasets:
    "대기오염" by title walked 1–2 s against 110 ms through the GIN index, while "도로", in every tenth title, walked
    10 ms against 3 s). So in title order the rows walked are read off the samples: _title_walk_rows."""
    frequencies = _key_frequencies()
    catalog = max(1, frequencies.get("#", 1))
    walked = rows_needed * catalog / max(total, 1)
    edge = None
    if sort == "title" and search.text_query is not None:
        walked, edge = _title_walk_rows(search, total, rows_needed)
    share = 1.0
    for keys in search.key_groups or []:
        share *= min(1.0, sum(frequencies.get(k, 0) for k in keys) / catalog)
    walk = walked * WALK_ROW_US + (walked * share * TEXT_CHECK_US if search.text_query is not None else 0)
    routes = Routes(walk, GIN_SCAN_US + total * HEAP_ROW_US)
    if edge is not None:
        routes.title_edge = edge
        routes.title_range = GIN_SCAN_US + total * GIN_TID_US + walked * RANGE_ROW_US + rows_needed * 1.25 * HEAP_ROW_US
    return routes


TITLE_WALK_SQL = """
SELECT (SELECT count(*) FROM catalog_catalogentry c WHERE c.facet_keys @> ARRAY[%s]::varchar(80)[]
           AND c.title_ko || '' <= edge.title_ko),  -- || '': through the GIN index, never the title index
       edge.title_ko
  FROM ({edge}) AS edge
"""


def _title_walk_rows(search: CatalogFilter, total: int, rows_needed: int) -> tuple[float, str | None]:
    """(About how many rows a walk of the title index reads to find the first `rows_needed` matches of `search`:
    the title of the matching sample entry at that position (in the sample of the search that its estimate used,
    with a 25 % margin) and how many entries of the catalog's coarsest sample come up to it (+1, × its modulus).
    An upper bound: the walk has found the page by then (within a sample step), wherever the matches gather
    (taking a share of it inside the first step, as if they were spread evenly, chose 1 s walks again). One
    statement over a few hundred sample rows. Infinite when the sample runs out first. And that title: the
    entries up to it hold the page, about as surely (the title range of _page)."""
    levels = [m for m in settings.CATALOG_SAMPLE_LEVELS if total / m >= SAMPLE_ENOUGH]
    modulus = (levels or settings.CATALOG_SAMPLE_LEVELS[-1:])[0]
    coarsest = settings.CATALOG_SAMPLE_LEVELS[0]
    wanted = rows_needed * 1.25 / modulus  # sampled matches up to the page's last row
    position = max(1, math.ceil(wanted))
    sampled = search.qs.filter(facet_keys__contains=[sample_key(modulus)])
    edge = _ordered(sampled, "title", None, search, through_gin=True).values("title_ko")[position - 1 : position]
    try:
        inner, params = edge.query.sql_with_params()
    except EmptyResultSet:
        return math.inf, None
    with connection.cursor() as cursor:
        cursor.execute(TITLE_WALK_SQL.format(edge=inner), [sample_key(coarsest), *params])
        row = cursor.fetchone()
    return (math.inf, None) if row is None else ((row[0] + 1) * coarsest, row[1])


TITLE_SET = "s"  # in the key frequencies: the title bucket set searches use (0: none)


KEYFREQ_LIMIT = 10_000  # values kept per facet
TRUNCATED = "facets-truncated"  # _key_frequencies: the facets whose values were more than KEYFREQ_LIMIT
_frequencies: dict[int, tuple[float, dict]] = {}  # generation → (kept until, frequencies): this process's copy


def _key_frequencies() -> dict:
    """How many entries carry each facet key and sort bucket ("#": all entries), estimated from the coarsest sample
    and cached for the catalog generation: the cost model's selectivities; and the current title bucket set.
    Kept a minute per process too (as the labels are): a thousand keys read from Redis and unpickled cost every
    search ~0.25 ms, and a generation's frequencies never change (a new title bucket set bumps the generation)."""
    generation = catalog_generation()
    kept = _frequencies.get(generation)
    if kept is not None and kept[0] > time.monotonic():
        return kept[1]
    key = f"catalog:keyfreq:{generation}"
    frequencies = cache.get(key)
    if frequencies is None:
        modulus = settings.CATALOG_SAMPLE_LEVELS[0]
        rows = _facet_rows(
            CatalogEntry.objects.filter(facet_keys__contains=[sample_key(modulus)]), scale=modulus, limit=KEYFREQ_LIMIT
        )
        frequencies = dict(rows)
        frequencies[TITLE_SET] = title_buckets.current_set_id() or 0
        # The facets with more values than were kept: a value missing from those is not known to be rare.
        per_facet = collections.Counter(key.split(":", 1)[0] for key, _n in rows)
        frequencies[TRUNCATED] = {facet for facet, n in per_facet.items() if n >= KEYFREQ_LIMIT}
        cache.set(key, frequencies, COUNTS_TTL)
    _frequencies.clear()  # only the current generation's
    _frequencies[generation] = (time.monotonic() + 60, frequencies)
    return frequencies


COMMON_SHARE = 0.75  # a facet's values held by at least this share of the catalog: checked on the rows (_common_keys)


def _common_keys(keys: list[str]) -> bool:
    """Whether at least COMMON_SHARE of the catalog holds one of `keys` (the values chosen in one facet), by the key
    frequencies; False while the coarsest sample is too small to tell (fewer than SAMPLE_ENOUGH entries)."""
    frequencies = _key_frequencies()
    modulus = settings.CATALOG_SAMPLE_LEVELS[0]
    entries = frequencies.get("#", 0)
    if entries < SAMPLE_ENOUGH * modulus:
        return False
    return max(frequencies.get(key, 0) for key in keys) >= COMMON_SHARE * entries  # (their union holds as many)


def _common_on_rows(search: CatalogFilter, total: int) -> bool:
    """Whether the page statement of a large search through its sort buckets checks its common filters (_common_keys,
    e.g. "free", 93 % of a million) on the rows instead of in the GIN index: decoding that posting list cost more than
    the rows it spared (the page of "음식점 인허가"&price=free 6.1 → 2.3 ms). Only when the rows cannot be many more:
    the search's words bound the matches of its other conditions (catalog.lexemes) to at most twice its `total`, so
    the filters drop at most half the rows read (a word mostly paid, or a licence mostly sold, would multiply them).
    Its samples, its exact statement, the pages found without its bucket counts (title range, _deep_page_keys), the
    walk and the plain GIN statement keep every filter in the index (a value common in the catalog may be rare among
    a search's matches: a licence mostly sold read ten times the rows in the exact statement)."""
    if not search.common_on_rows:
        return False
    bound, _counted = _lexeme_bound(search.state())
    # (a total well above the bound proves the lexeme counts stale: then the bound says nothing; 1.3: a sample's error)
    return bound is not None and total / 1.3 <= bound <= 2 * total


def _deep_page_keys(search: CatalogFilter, sort: str, relevance: str | None, total: int, start: int, size: int):
    """For a deep page of a large search in popularity or newest order: (the sort buckets that surely hold every
    match up to the page's last row, about how many matches they hold), or None. The matches in buckets ≥ b are
    exactly those with download_count ≥ 2^b − 1 (or published in month ≥ m): a prefix of the order, so OFFSET
    within them gives the exact page. The bucket comes from the sample: its row at the page's position (scaled),
    with a margin; when the prefix turns out too short, the caller gets less than a page and goes the long way."""
    if sort == "relevance" and relevance == POPULAR:
        sort = "downloads"
    if sort not in ("downloads", "newest") or start < DEEP_PAGE_START:
        return None
    levels = [
        m for m in settings.CATALOG_SAMPLE_LEVELS if total / m >= SAMPLE_ENOUGH
    ] or settings.CATALOG_SAMPLE_LEVELS[-1:]
    modulus = levels[0]
    position = int((start + size) / modulus * 1.25) + 3
    column = "download_count" if sort == "downloads" else "published_at"
    sampled = search.qs.filter(facet_keys__contains=[sample_key(modulus)])
    values = list(
        _ordered(sampled, sort, None, search, through_gin=True).values_list(column, flat=True)[: position * 4]
    )
    if len(values) < position:
        return None
    edge = values[position - 1]
    if sort == "downloads":
        bucket = downloads_bucket(edge)
        inside = sum(1 for v in values if downloads_bucket(v) >= bucket)
        keys = _downloads_from(bucket)
    else:
        month = month_bucket(edge)
        inside = sum(1 for v in values if month_bucket(v) >= month)
        keys = _months_from(month)
    # All fetched sample rows inside the buckets: they hold at least that many; more is unknown, assume twice.
    rows = inside * modulus * (2 if inside == len(values) else 1)
    return keys, rows


# --- the search ----------------------------------------------------------------------------------------------


def _facets(rows, state: dict) -> tuple[int, dict[str, list[FacetValue]]]:
    total = 0
    raw: dict[str, dict[str, int]] = {}
    for key, n in rows:
        if key == "#":
            total = n
            continue
        prefix, _, value = key.partition(":")
        facet = PREFIX_FACET.get(prefix)
        if facet and value:
            raw.setdefault(facet, {})[value] = n
    themes = _reference_labels("theme", raw.get("theme", {}))
    licences = _reference_labels("licence", raw.get("licence", {}))
    publisher_ids = sorted(raw.get("publisher", {}), key=lambda v: -raw["publisher"][v])[:FACET_LIMIT]
    publishers = _publisher_labels(publisher_ids)
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
    facets["theme"] = build(
        "theme",
        [
            FacetValue(themes[int(pk)].code, themes[int(pk)].name, n)
            for pk, n in raw.get("theme", {}).items()
            if int(pk) in themes
        ],
    )
    facets["publisher"] = build(
        "publisher",
        [
            FacetValue(publishers[pk].slug, publishers[pk].display_name, raw["publisher"][pk])
            for pk in publisher_ids
            if pk in publishers
        ],
    )
    facets["format"] = build("format", [FacetValue(v, v.upper(), n) for v, n in raw.get("format", {}).items()])
    facets["licence"] = build(
        "licence",
        [
            FacetValue(licences[int(pk)].code, licences[int(pk)].name, n)
            for pk, n in raw.get("licence", {}).items()
            if int(pk) in licences
        ],
    )
    facets["price"] = build(
        "price", [FacetValue(v, str(PRICE_TYPES.get(v, v)), n) for v, n in raw.get("price", {}).items()]
    )  # str: lazy labels cost on every escape
    facets["tag"] = build("tag", [FacetValue(v, v, n) for v, n in raw.get("tag", {}).items()], FACET_LIMIT)
    facets["cadence"] = build(
        "cadence", [FacetValue(v, str(cadences.get(v, v)), n) for v, n in raw.get("cadence", {}).items()]
    )
    facets["area"] = build("area", [FacetValue(v, v, n) for v, n in raw.get("area", {}).items()], FACET_LIMIT)
    # Labels of chosen values that have no count (e.g. a theme chosen together with an excluding filter).
    for fv in facets["theme"]:
        if fv.count == 0:
            fv.label = next((t.name for t in themes.values() if t.code == fv.value), fv.value)
    return total, facets


# Set when an answer is built from estimates a worker is replacing with exact figures in a moment: the anonymous page
# cache (marketplace.page_cache) does not keep such an answer, or the exact figures would wait for its expiry.
ESTIMATES_PENDING = contextvars.ContextVar("catalog_estimates_pending", default=False)


ESTIMATE_TTL = 600  # an estimate kept for a search asked again (another page, another sort) within this time


def _counts(search: CatalogFilter, params, state: dict, *, predict: bool = True) -> tuple[object, bool, bool, bool]:
    """(rows, exact, counting, large): the exact figures when a worker has counted them for this catalog generation;
    else from the sample, or None when the sample predicts few matches (≤ the cap): count them exactly then; or
    PREDICTED when the search's bound (_matches_at_most) does, before any sample: count them exactly, up to a limit.

    A large search's estimate is kept for ESTIMATE_TTL and the exact count is asked of a worker only when the same
    search (any page or sort) is asked again: counting a search exactly reads every match (tens of milliseconds of
    the database per 10,000), which one-off searches (a visitor's typo, a crawler's walk) would otherwise cost the
    worker each time. The second ask reads the kept estimate instead of the samples and starts the count; the pages
    after it get exact figures. Above CATALOG_COUNT_CAP matches the estimate stays (as Elasticsearch counts hits
    exactly up to 10,000 by default): an exact count reads every match, ~5–7 µs each (175,000 matches: 1.1 s of the
    database), for a figure nobody needs to the unit, and an answer of such estimates is kept by the page cache.

    `large`: the search is served as a large one (more than CATALOG_EXACT_CAP matches: relevance as popularity) —
    estimated, or counted by a worker, which is asked only for a search that was estimated above the cap: its exact
    total may be a little under the cap, and the pages a visitor reads after the count landed must keep the order of
    the pages before it (they switched from the most downloaded to titles first: most of page 1 was on no page)."""
    if search.key_groups is None:
        return [("#", 0)], True, False, False
    key = counts_key(state)
    found = cache.get_many([key, f"{key}:estimate"])
    if key in found:
        return found[key], True, False, True
    if f"{key}:estimate" in found:  # asked before: a large search
        estimate = found[f"{key}:estimate"]
        counting = _total(estimate) <= settings.CATALOG_COUNT_CAP and _request_exact_counts(
            params, key, _total(estimate)
        )
        if counting:
            ESTIMATES_PENDING.set(True)
        return estimate, False, counting, True
    # The samples from the coarsest: the first holding enough matches (≥ SAMPLE_ENOUGH: within about 10 %) is
    # the estimate, so a search matching half the catalog reads ~500 rows, one matching 5 % ~500 rows of the
    # next. When a sample shows that the matches are surely few (even its upper bound is within the cap), or the
    # finest one predicts at most the cap, they are counted exactly.
    # How common the search's words and filters are bounds its matches (_matches_at_most): a sample that cannot hold
    # enough of them is not read (a finer one would be read after it anyway), and when even the bound is within the
    # cap no sample is (PREDICTED: counted exactly up to a limit, see _figures).
    cap = settings.CATALOG_EXACT_CAP
    bound = _matches_at_most(search, state) if predict else None
    if bound is not None and bound <= cap:
        return PREDICTED, True, False, False
    for level, modulus in enumerate(settings.CATALOG_SAMPLE_LEVELS):
        finest = level == len(settings.CATALOG_SAMPLE_LEVELS) - 1
        if not finest and bound is not None and bound / modulus < SAMPLE_ENOUGH // 2:
            continue
        sampled = _sample_rows(search, modulus)
        found = _total(sampled) // modulus
        surely_large = found >= SAMPLE_ENOUGH // 2 and (found - 2 * found**0.5) * modulus > cap
        if found * modulus > cap and (finest or found >= SAMPLE_ENOUGH or surely_large):
            break  # (half as many sampled matches, ±30 %, when a finer sample would only refine a labelled estimate)
        if finest or lexemes.upper_bound(found) * modulus <= cap:
            return None, True, False, False
    if not cache.add(f"{key}:estimate", sampled, timeout=ESTIMATE_TTL):  # asked at the same moment by another
        counting = _total(sampled) <= settings.CATALOG_COUNT_CAP and _request_exact_counts(params, key, _total(sampled))
        if counting:
            ESTIMATES_PENDING.set(True)
        return sampled, False, counting, True
    return sampled, False, False, True


PREDICTED = object()  # _counts: the bound says few matches (not one sample read): count them exactly, up to a limit


def _figures(search: CatalogFilter, params, state: dict, sort: str, start: int, size: int):
    """(rows, the page's ids or None, exact, counting, large) of a search: _counts, and for a search with few matches its
    figures and page in one statement. When only the bound said few (PREDICTED), at most 2 × CATALOG_EXACT_CAP
    matches are read: more mean the bound was wrong (lexeme counts gone stale: a word that became common since), so
    the samples are read as without a bound, and the lexemes are counted again when they made the bound."""
    rows, exact, counting, large = _counts(search, params, state)
    if rows is PREDICTED:
        limit = 2 * settings.CATALOG_EXACT_CAP
        rows, ids = _exact_rows_and_page(search, sort, sort == "relevance", start, size, limit=limit + 1)
        if _total(rows) > settings.CATALOG_EXACT_CAP:  # more than the bound said: it came from stale counts?
            lexemes.found_more(_lexeme_bound(state))
        if _total(rows) <= limit:
            return rows, _ids_in_order(rows, ids, sort), True, False, False
        rows, exact, counting, large = _counts(search, params, state, predict=False)
    if rows is None:  # few matches: figures and page in one statement
        rows, ids = _exact_rows_and_page(search, sort, sort == "relevance", start, size)
        return rows, _ids_in_order(rows, ids, sort), exact, counting, False
    return rows, None, exact, counting, large


def _ids_in_order(rows, ids, sort: str):
    """The exact statement's page, unless it is not the page of the order the search is served in: in relevance
    order, above CATALOG_EXACT_CAP matches a search is served as the most downloaded (POPULAR), while the statement
    ranks titles holding every word first (its own decision, from its count): then the page is read by _page. (The
    samples or the bound predicted at most the cap; the count says more: rare, a sample's chance or stale counts.)"""
    if sort == "relevance" and _total(rows) > settings.CATALOG_EXACT_CAP:
        return None
    return ids


def _lexeme_bound(state: dict) -> tuple[float | None, "lexemes.LexemeFrequencies | None"]:
    """(the bound of the search's matches by its Hangul lexemes, or None; the counts it came from)."""
    words = required_lexemes(state["q"])
    counted = lexemes.lexeme_frequencies() if words else None
    return (counted.matches_at_most(words) if counted is not None else None), counted


def _matches_at_most(search: CatalogFilter, state: dict) -> float | None:
    """An upper bound (~97.5 %) of the search's matches, or None: the rarest of its Hangul lexemes
    (catalog.lexemes) and of its filters (each facet's chosen values together, _key_frequencies)."""
    bounds = []
    by_lexemes, _counted = _lexeme_bound(state)
    if by_lexemes is not None:
        bounds.append(by_lexemes)
    if search.key_groups:
        keys = _key_frequencies()
        modulus = settings.CATALOG_SAMPLE_LEVELS[0]
        for group in search.key_groups:
            if any(key not in keys and key.split(":", 1)[0] in keys.get(TRUNCATED, ()) for key in group):
                continue  # a value too rare for the kept keys of its facet, but how rare is not known
            seen = sum(keys.get(key, 0) for key in group) / modulus
            bounds.append(lexemes.upper_bound(seen) * modulus)
    return min(bounds, default=None)


def max_pages(page_size: int) -> int:
    """The deepest page of `page_size` results: the same depth in rows (MAX_PAGES pages of PAGE_SIZE) for any size."""
    return max(1, MAX_PAGES * PAGE_SIZE // max(1, page_size))


def catalog_search(params, *, page: int | str | None = 1, page_size: int | None = None) -> CatalogResult:
    """One page of the catalog for GET parameters `params` (a QueryDict): entries, total, facets. The page has
    PAGE_SIZE entries (the catalog page) or `page_size` (the API lets a program choose up to 100)."""
    size = int(page_size or PAGE_SIZE)
    search = CatalogFilter(params, queryset=CatalogEntry.objects.all(), common=_common_keys)
    if not search.is_valid():
        return CatalogResult([], 0, True, 1, 1, "relevance", search.state(), errors=search.errors, page_size=size)
    state = search.state()
    qs = search.qs  # resolves the text query and the facet keys
    query = search.text_query
    sort = state["sort"] or ("relevance" if query is not None else "newest")
    if sort not in SORTS:
        sort = "newest"
    if sort == "relevance" and query is None:
        sort = "downloads"  # relevance without words: the most used first
    deepest = max_pages(size)
    try:
        number = max(1, min(int(page or 1), deepest))
    except (TypeError, ValueError):
        number = 1
    rows, ids, exact, counting, large = _figures(search, params, state, sort, (number - 1) * size, size)
    total, facet_values = _facets(rows, state)
    pages = max(1, min(deepest, -(-total // size)))
    if exact and number > pages:  # past the last page: show the last one (an estimate's end: _where_it_ends)
        number, ids = pages, None
    start = (number - 1) * size
    many = large or total > settings.CATALOG_EXACT_CAP
    relevance = None
    if sort == "relevance":
        relevance = POPULAR if many else RANKED if total <= settings.CATALOG_RANK_CAP else TITLE_FIRST
    if ids is None and total:
        ids = _page(search, qs, sort, relevance, total, start, many, size, rows)
    if not exact and total:

        def page_of(at, count):
            return _page(search, qs, sort, relevance, total, at, many, count, rows)

        number, pages, total, ids = _where_it_ends(page_of, qs, number, pages, total, ids, size, deepest)
    return CatalogResult(
        entries=_result_lines(ids or []),
        total=total,
        exact=exact,
        page=number,
        pages=pages,
        sort=sort,
        state=state,
        facets=facet_values,
        relevance=relevance,
        counting=counting,
        page_size=size,
        rows=rows,
        no_words=bool(state["q"]) and query is None,
    )


def _where_it_ends(page_of, qs, number: int, pages: int, total: int, ids: list[int], size: int, deepest: int):
    """(number, pages, total, ids) of a page of an estimated search: the pages end where its matches do, not where
    the estimate put the end. A page past the end (the estimate was high) is the last page instead, found by
    counting the matches before it (at most the MAX_PAGES pages' rows); a page short of a full one is the last, and
    the total is then known (the matches before it and on it); a full page at or past the estimate's last page reads
    the next match, so a link leads on when there is one (the estimate was low: its last matches were on no page).
    Before, "about 4,450" promised 223 pages of which the last three were empty, and "about 3,580" hid the matches
    on the 18 pages after its 179th. `page_of(start, size)`: the page's ids as _page reads them."""
    start = (number - 1) * size
    if not ids and number > 1:
        end = qs.order_by().values("pk")[:start].count()
        number = max(1, -(-end // size))
        start = (number - 1) * size
        ids = page_of(start, size) if end else []
        return number, number, end, ids  # the end is known (a full last page too: no link to an empty one)
    if len(ids) < size:
        return number, number, start + len(ids), ids
    if number >= pages:
        if number == deepest:  # no page is shown past it: nothing to look for
            return number, number, max(total, start + size), ids
        if page_of(start + size, 1):
            return number, number + 1, max(total, start + size + 1), ids
        return number, number, start + size, ids
    return number, pages, total, ids


def facets_in(result: CatalogResult, language: str) -> dict[str, list[FacetValue]]:
    """The result's facets labelled in `language`, exactly as the catalog page shows them in that language."""
    with translation.override(language):
        return _facets(result.rows, result.state)[1] if result.rows else {}


def _page(
    search: CatalogFilter,
    qs,
    sort: str,
    relevance: str | None,
    total: int,
    start: int,
    many: bool,
    size: int,
    rows: list | None = None,
) -> list[int]:
    """The page's ids (from the index table alone: the display rows are joined for these 20 only), by the
    cheapest of: collecting the matches through the GIN index, walking the sort index, or collecting only the
    matches in the sort buckets that hold the page (_bucket_route: read off the search's own counts per bucket;
    without them, deep pages read the buckets off the sample: _deep_page_keys)."""
    window = slice(start, start + size)

    def through_gin(queryset, extra=None, on_rows=False):
        """The page's ids through the GIN index, of `queryset` (search.qs.filter(`extra`); `on_rows`: its common
        filters checked on the rows, see _common_on_rows)."""
        if relevance not in (RANKED, TITLE_FIRST) and queryset is search.qs:
            # An order of SORT_ORDER (as _ordered takes it), written from the compiled search: the same statement.
            try:
                order = sort if sort in SORT_ORDER else "downloads"
                sql, params = _search_sql(search, ("pk",), extra, order, window, on_rows)
            except EmptyResultSet:
                return []
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return [row[0] for row in cursor.fetchall()]
        if extra is not None:
            queryset = queryset.filter(**{extra[0]: extra[1]})
        return list(_ordered(queryset, sort, relevance, search, through_gin=True).values_list("pk", flat=True)[window])

    if not many or search.key_groups is None:
        return through_gin(qs)
    route = _bucket_route(search, rows or [], sort, relevance, total, start + size)
    if route is not None:
        keys, inside, walk, gin = route
        on_rows = _common_on_rows(search, total)
        sampled = _unit(rows or []) > 1
        # (not when the route's buckets are about as few: a miss there would cost a statement for nothing)
        likely = (
            _likely_keys(keys, total, start + size)
            if keys and sampled and LIKELY_MARGIN * (start + size) < inside
            else None
        )
        if likely and GIN_SCAN_US + LIKELY_MARGIN * (start + size) * HEAP_ROW_US < min(walk, gin):
            ids = through_gin(qs, ("sort_keys__overlap", likely), on_rows)
            if len(ids) == size:
                return ids
            # Fewer matches there than the catalog's spread predicted: the buckets the sample points to.
        if keys and GIN_SCAN_US + inside * HEAP_ROW_US < min(walk, gin):
            ids = through_gin(qs, ("sort_keys__overlap", keys), on_rows)
            if len(ids) == size:
                return ids
            # The estimate put fewer matches in these buckets than the page needs (a sample's chance): the long way.
    else:
        routes = _route_costs(search, total, start + size, sort)
        walk, gin = routes.walk, routes.gin
        if routes.title_range < min(walk, gin):
            # The entries up to the page's last title (read off the sample) hold the page: a prefix of the order.
            ids = through_gin(qs, ("title_ko__lte", routes.title_edge))
            if len(ids) == size:
                return ids
        deep = (
            _deep_page_keys(search, sort, relevance, total, start, size) if min(walk, gin) > GIN_SCAN_US * 2 else None
        )
        if deep and deep[0] and GIN_SCAN_US + deep[1] * HEAP_ROW_US < min(walk, gin):
            ids = through_gin(qs, ("sort_keys__overlap", deep[0]))
            if len(ids) == size:
                return ids
    if walk < gin:
        return list(_ordered(_walk(search), sort, relevance, search).values_list("pk", flat=True)[window])
    return through_gin(qs)


TOP_DOWNLOADS_BUCKET = downloads_bucket(2**63 - 1)  # of the largest count the column holds


def _downloads_from(first: int) -> list[str]:
    """The popularity buckets ("d:N") from bucket `first` up to the most downloaded entry's (one probe of the
    popularity index) and one doubling more, for downloads counted between the probe and the page (a top match that
    moved up a bucket stays inside): all of the popularity order's buckets at or above `first`, so their matches are
    a prefix of the order. Not up to the column's largest bucket: every key is a lookup in the index, and 200 keys
    that no entry has cost a search 3 ms."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(download_count) FROM catalog_catalogentry")
        top = min(TOP_DOWNLOADS_BUCKET, downloads_bucket(cursor.fetchone()[0] or 0) + 4)
    return [f"d:{b}" for b in range(first, top + 1)]


def _months_from(first: str) -> list[str]:
    """The month buckets ("n:YYYYMM") from month `first` (YYYYMM) up to the latest an entry is published in: all of
    the newest order's buckets at or above `first`, so their matches are a prefix of the order. At least up to next
    month (a clock a little ahead); beyond it, the catalog's latest publication (one probe of the newest index): a
    publication time comes from the clock of the node that approved it (or from a restored or hand-edited row), and
    a page whose buckets left its month out would skip it. Empty when `first` is later than all of them (nothing
    there can hold a page), or a century before them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(published_at) FROM catalog_catalogentry")
        latest = cursor.fetchone()[0]
    last = month_bucket(max(timezone.now() + timedelta(days=31), latest or timezone.now()))
    keys, year, month = [], int(first[:4]), int(first[4:6])
    while f"{year:04d}{month:02d}" <= last:
        if len(keys) == 1200:  # a century of months: a date no route should list month by month (the long way)
            return []
        keys.append(f"n:{year:04d}{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


LIKELY_MARGIN = 3  # the likely buckets are expected to hold this many times the page's rows (see _likely_keys)


def _likely_keys(keys: list[str], total: int, needed: int) -> list[str] | None:
    """The top of `keys` (_bucket_route's buckets, a prefix of the order) that holds the page's `needed` rows if
    the search's matches are spread over the buckets as the catalog's entries are (its key frequencies): expected to
    hold LIKELY_MARGIN times as many. None when that is all of `keys`.

    An estimate's buckets come from a sample that sees a match in 1,000 as one: it cannot tell a top bucket holding
    20 matches from one holding none, so _bucket_route takes buckets down to where the sample saw a few matches,
    which for a common word on page 1 are ~1,000–2,000 rows read through the GIN index ("탄소중립", 57,000 matches by
    popularity: 1,346 rows, 11 ms), while the top buckets the catalog's spread points to held the page in 30 rows and
    1.5 ms. The GIN index's cost grows with the buckets' entries, so trying the likely few first is cheap; when they
    hold fewer than the page (the matches gather lower in the order), the page is read through `keys` as before.
    Only for sampled counts: with exact ones `keys` are already the fewest buckets that hold the page."""
    if keys[0].startswith("s"):
        return None  # words gather in titles: measured, the title buckets of a search are not the catalog's spread
    frequencies = _key_frequencies()
    density = total / max(1, frequencies.get("#", 1))
    top_first = keys[::-1]  # highest first
    expected = 0.0
    for i, key in enumerate(top_first[:-1]):
        expected += frequencies.get(key, 0) * density
        if expected >= LIKELY_MARGIN * needed:
            return top_first[: i + 1]
    return None


def _unit(rows: list) -> int:
    """What one match counts in a search's figures: the sample's modulus for an estimate, 1 when exact."""
    return min((n for _key, n in rows if n > 0), default=1)


def _bucket_route(search: CatalogFilter, rows: list, sort: str, relevance: str | None, total: int, needed: int):
    """For a large search in popularity or newest order (relevance served as popularity included), from the
    search's own counts per sort bucket (FACET_SQL with buckets: exact, or the sample's scaled): (the buckets from
    the top down to the one where the matches reach the page's last row, with a margin for a sampled count; about
    how many matches they hold; the walk's and the GIN index's estimated µs). None without bucket counts (counts
    made before they existed) or for another order.

    The matches in buckets ≥ b are exactly those with download_count ≥ 2^(b/4) − 1 (or published in month ≥ m): a
    prefix of the order, so the page is the OFFSET within them, found through the GIN index with the buckets as
    keys: a few hundred rows read, wherever the matches stand in the order (a walk of the popularity index for
    "주차장" read 190 ms of rows before its first 20 matches; these buckets: 1 ms). The walk's cost is read off
    the same buckets: the catalog's entries in them (the key frequencies) are the rows it would pass."""
    if sort == "relevance" and relevance == POPULAR:
        sort = "downloads"
    frequencies = _key_frequencies()
    if sort == "title":
        prefix = f"s{frequencies.get(TITLE_SET) or 'x'}:"  # the current set's buckets, lowest first
    elif sort in ("downloads", "newest"):
        prefix = "d:" if sort == "downloads" else "n:"  # highest first
    else:
        return None
    counts = {key: n for key, n in rows if key.startswith(prefix)}
    if not counts:
        return None
    value = (lambda key: key[2:]) if sort == "newest" else (lambda key: int(key[len(prefix) :]))
    unit = _unit(rows)
    target = needed if unit == 1 else needed * 1.25 + unit
    catalog = max(1, frequencies.get("#", 1))
    inside = 0.0
    for key in sorted(counts, key=value, reverse=sort != "title"):
        if inside + counts[key] >= target:
            edge = key
            inside += counts[key]
            break
        inside += counts[key]
    else:
        return None  # every match is needed: no prefix is shorter than the whole search
    if sort == "downloads":
        keys = _downloads_from(value(edge))
    elif sort == "title":
        keys = [f"{prefix}{b}" for b in range(0, value(edge) + 1)]
    else:
        keys = _months_from(edge[2:])
    # The walk passes the catalog's entries bucket by bucket until it has seen the page's matches. A bucket where the
    # sample saw no match counts as holding none: with a coarse sample the walk may be cheaper than that, but taking
    # a zero for "a few" chose 1.2 s walks (the titles holding "인허가" all stand after the first 16 of 256 buckets,
    # which a 0.1 % sample cannot tell from buckets holding a few hundred), while the buckets' cost is bounded.
    walked = seen = 0.0
    for key in keys if sort == "title" else reversed(keys):
        entries, matches = frequencies.get(key, 0), counts.get(key, 0)
        if matches and seen + matches >= needed:
            walked += entries * (needed - seen) / matches
            break
        walked, seen = walked + entries, seen + matches
    walked = walked or needed * catalog / max(total, 1)  # (no frequencies yet: as if spread evenly)
    share = 1.0
    for group in search.key_groups or []:
        share *= min(1.0, sum(frequencies.get(k, 0) for k in group) / catalog)
    walk = walked * WALK_ROW_US + (walked * share * TEXT_CHECK_US if search.text_query is not None else 0)
    return keys, inside, walk, GIN_SCAN_US + total * HEAP_ROW_US


@dataclass
class ResultLine:
    """What a result line of the catalog shows (built from one fixed SQL statement: compiling the equivalent ORM
    query with five joins cost more than running it)."""

    pk: int
    slug: str
    title_ko: str
    title_en: str
    formats: list
    price_types: list
    published_at: object
    download_count: int
    publisher_ko: str
    publisher_en: str
    theme_ko: str
    theme_en: str
    licence_ko: str | None
    licence_en: str | None
    description_ko: str
    description_en: str
    update_cadence: str
    price_from_krw: int | None
    subscription_prices: list
    publisher_vat_status: str
    publisher_slug: str
    theme_code: str
    licence_code: str | None
    harvest_source: str | None  # the harvest source's name of a harvested listing (issue 17), else None
    cadence_label: str = ""

    # The reader's language, as the models show it (catalog.models._bilingual).
    title = property(lambda self: _bilingual(self, "title"))
    publisher_name = property(lambda self: _bilingual(self, "publisher"))
    theme_name = property(lambda self: _bilingual(self, "theme"))
    licence_name = property(lambda self: _bilingual(self, "licence"))
    description = property(lambda self: _bilingual(self, "description"))

    @property
    def url(self):
        return reverse("catalog:dataset", args=[self.slug])

    @property
    def tax_free(self) -> bool:
        return self.publisher_vat_status == Organization.VatStatus.EXEMPT

    @property
    def price_from(self) -> Price | None:
        """The lowest public one-off offer as the buyer pays it (VAT by the publisher's status)."""
        return None if self.price_from_krw is None else price_of(int(self.price_from_krw), tax_free=self.tax_free)

    @property
    def subscriptions(self) -> list[tuple[int, Price]]:
        """(days, price as paid) of each subscription period offered publicly, shortest first."""
        prices = self.subscription_prices
        if isinstance(prices, str):  # a raw cursor hands jsonb over as text
            prices = json.loads(prices)
        return [(int(days), price_of(int(won), tax_free=self.tax_free)) for days, won in prices or ()]


RESULT_LINES_SQL = """
SELECT e.dataset_id, d.slug, e.title_ko, e.title_en, e.formats, e.price_types, e.published_at, e.download_count,
       o.name_ko, o.name_en, t.name_ko, t.name_en, l.name_ko, l.name_en,
       v.description_ko, v.description_en, v.update_cadence, e.price_from_krw, e.subscription_prices, o.vat_status,
       o.slug, t.code, l.code,
       -- a harvested listing's source (issue 17): a correlated subquery; two more joins cost ~4 ms of planning
       (SELECT hs.name FROM catalog_harvesteddataset h JOIN catalog_harvestsource hs ON hs.id = h.source_id
         WHERE h.dataset_id = e.dataset_id)
  FROM catalog_catalogentry e
  JOIN catalog_dataset d ON d.id = e.dataset_id
  JOIN catalog_datasetversion v ON v.id = e.version_id
  JOIN accounts_organization o ON o.id = e.publisher_id
  JOIN catalog_theme t ON t.id = e.theme_id
  LEFT JOIN catalog_licence l ON l.id = e.licence_id
 WHERE e.dataset_id = ANY(%s)
"""


def _result_lines(ids: list[int]) -> list[ResultLine]:
    if not ids:
        return []
    with connection.cursor() as cursor:
        execute_prepared(cursor, "catalog_result_lines", RESULT_LINES_SQL.replace("%s", "$1"), [list(ids)], "bigint[]")
        lines = {row[0]: ResultLine(*row) for row in cursor.fetchall()}
    cadences = dict(DatasetVersion.Cadence.choices)
    for line in lines.values():
        line.cadence_label = cadences.get(line.update_cadence, "")
    return [lines[pk] for pk in ids if pk in lines]


def similar_terms(q: str, limit: int = 6) -> list[str]:
    """For an empty result: keywords of datasets sharing a syllable pair with the query (cheap: ≤ 200 rows)."""
    runs = HANGUL_RUN.findall(q or "")
    pairs = {run[i : i + 2] for run in runs for i in range(max(1, len(run) - 1))}
    words = [w.lower() for w in LATIN_WORD.findall(q or "")]
    if not pairs and not words:
        return []
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
    for entry_tags, _title in tags:
        for tag in entry_tags:
            if any(p in tag for p in pairs) or any(w in tag.lower() for w in words):
                counts[tag] = counts.get(tag, 0) + 1
    # Splitting or joining words (복지시설 ↔ "복지 시설"), and each word of several alone: offered only when
    # it finds something (the query itself found nothing), so "air quality" never suggests "airquality".
    suggestions = sorted(counts, key=lambda t: (-counts[t], t))
    q_clean = " ".join((q or "").split())
    variants = []
    if " " in q_clean:
        variants.append(q_clean.replace(" ", ""))
        variants.extend(word for word in q_clean.split(" ") if len(word) > 1)
    elif len(runs) == 1 and len(runs[0]) >= 4:
        variants.append(runs[0][: len(runs[0]) // 2] + " " + runs[0][len(runs[0]) // 2 :])
    # At most three probes (the joined form and the first two words), so the page stays within its query budget.
    probes = [variant for variant in dict.fromkeys(variants) if variant != q_clean][:3]
    found = [variant for variant in probes if _finds_something(variant)]
    return [s for s in dict.fromkeys(found + suggestions) if s != q_clean][:limit]


def _finds_something(q: str) -> bool:
    """Whether a search for `q` has at least one match (one probe of the GIN index)."""
    query = parse_query(q)
    return query is not None and CatalogEntry.objects.filter(search_vector=query).exists()


def catalog_counts() -> dict:
    """Datasets buyers can see per theme and per publisher ({id: n}) and in all, cached per catalog generation
    (at a million datasets these are full aggregates): the home page and the API's themes and organizations."""
    key = f"catalog:counts-by:{catalog_generation()}"
    counts = cache.get(key)
    if counts is None:
        themes = dict(CatalogEntry.objects.order_by().values_list("theme_id").annotate(n=Count("pk")))
        counts = {
            "themes": themes,
            "publishers": dict(CatalogEntry.objects.order_by().values_list("publisher_id").annotate(n=Count("pk"))),
            "total": sum(themes.values()),  # every entry has a theme
        }
        cache.set(key, counts, COUNTS_TTL)
    return counts


def home_sections(limit: int = 6) -> dict:
    """What the home page shows: themes and publishers with their dataset counts (catalog_counts), the newest and
    the most used datasets."""
    counts = catalog_counts()
    themes = [(theme, counts["themes"].get(theme.pk, 0)) for theme in _reference_labels("theme").values()]
    publisher_rows = sorted(counts["publishers"].items(), key=lambda pn: (-pn[1], pn[0]))[:12]
    publishers = {o.pk: o for o in Organization.objects.filter(pk__in=[pk for pk, _ in publisher_rows])}
    entries = CatalogEntry.objects.select_related("dataset", "publisher", "theme").defer("search_vector")
    return {
        "total": counts["total"],
        "themes": sorted(themes, key=lambda tn: tn[0].position),
        "publishers": [(publishers[pk], n) for pk, n in publisher_rows if pk in publishers],
        "newest": list(entries.order_by("-published_at", "pk")[:limit]),
        "popular": list(
            entries.filter(download_count__gt=0).order_by("-download_count", "-published_at", "pk")[:limit]
        ),
    }


# --- any offset: the catalog search for programs that page by position (CKAN's package_search) ------------------


@dataclass
class CatalogWindow:
    """Rows `start`…`start + size` of a catalog search, by id, with the figures of the whole search."""

    ids: list[int]
    total: int
    exact: bool
    sort: str  # the sort actually applied
    relevance: str | None
    state: dict
    rows: list = field(default_factory=list, repr=False)  # (facet key, count) and ("#", total), as CatalogResult
    counting: bool = False
    errors: dict = field(default_factory=dict)


def catalog_window(params, *, start: int, size: int, where=None) -> CatalogWindow:
    """The catalog search of `params` (the catalog page's GET parameters) at any offset: the ids of `size` entries
    from `start` (0 ≤ size ≤ 1000), the total and the facet rows. The same engine, figures and order as
    catalog_search (which stops at MAX_PAGES pages: a person does not read further; a harvester does). Without
    words or filters the total is the catalog's exact size (catalog_counts).

    `where` (a Q on CatalogEntry) narrows the search by what the page's filters cannot say (a publication date
    range, names): such a search is counted exactly and its page collected through the GIN index, as a search
    under the cap is."""
    search = CatalogFilter(params, queryset=CatalogEntry.objects.all(), common=_common_keys)
    if not search.is_valid():
        return CatalogWindow([], 0, True, "relevance", None, search.state(), errors=search.errors)
    state = search.state()
    qs = search.qs
    query = search.text_query
    sort = state["sort"] or ("relevance" if query is not None else "newest")
    if sort not in SORTS:
        sort = "newest"
    if sort == "relevance" and query is None:
        sort = "downloads"
    if where is not None:
        qs = qs.filter(where)
        rows = _facet_rows(qs)
        total = _total(rows)
        relevance = None
        if sort == "relevance":
            relevance = RANKED if total <= settings.CATALOG_RANK_CAP else TITLE_FIRST
        window = slice(start, start + size)
        ids = list(_ordered(qs, sort, relevance, search, through_gin=True).values_list("pk", flat=True)[window])
        return CatalogWindow(ids if size else [], total, True, sort, relevance, state, rows)
    rows, ids, exact, counting, large = _figures(search, params, state, sort, start, size)
    if ids is None and not exact and query is None and not any(state[name] for name in CatalogFilter.FACETS):
        total = catalog_counts()["total"]  # the whole catalog: its size is known exactly
        rows = [(key, n) for key, n in rows if key != "#"] + [("#", total)]
    total = _total(rows)
    many = large or total > settings.CATALOG_EXACT_CAP
    relevance = None
    if sort == "relevance":
        relevance = POPULAR if many else RANKED if total <= settings.CATALOG_RANK_CAP else TITLE_FIRST
    if ids is None:
        # An estimated total may be a little short of the truth: only an exact one proves a window empty.
        ids = (
            []
            if size == 0 or (exact and start >= total)
            else _page(search, qs, sort, relevance, total, start, many, size, rows)
        )
    return CatalogWindow(ids, total, exact, sort, relevance, state, rows, counting)
