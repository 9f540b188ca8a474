"""Catalog search over N seeded datasets: server time of the real URL stack, queries, slowest plans.

    .venv/bin/python bench/search.py [--n 100000] [--rounds 5] [--quick] [--explain 3]

Database: BENCH_DATABASE_URL if set; else the server of DATABASE_URL with the database
`mkt_bench_search`; else (no DATABASE_URL) the embedded PostgreSQL of scripts/stack.py, database
`mkt_bench_search`. The database is created if missing, migrated, and seeded with
`devtools.seed.catalog` (manage.py seed_catalog) unless it already holds exactly N seeded datasets, so a
second run measures at once. Redis: REDIS_URL, with a cache key prefix and task queue of its own.

Then a fixed mix of requests goes through django.test.Client in this process (DEBUG off, real
middleware, views, templates; one warm-up pass first): Korean words, two words, a fragment, an
English word and a generic word, each alone and with theme / price / format / combined filters;
the empty catalog in every sort; deep pages; filters without a query; dataset and organization
pages. For each kind: p50/p95/p99 server time and SQL queries per request; overall figures for the
catalog and the dataset pages; the slowest SQL statements with EXPLAIN (ANALYZE, BUFFERS).
Baseline in the same run: the naive way (ILIKE '%word%' over title and description, plus one COUNT
query per facet) on the same rows. Ends with one line of JSON.

Above CATALOG_EXACT_CAP matches the catalog serves counts estimated from a sample and asks a Celery
worker to count exactly; no worker runs here, so the timed rounds measure that first-visit path. A
second pass ("counted") first computes the exact counts as the worker would (timed: the worker's
cost), then measures the same requests served from those cached counts.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "mkt_bench_search"

WORDS = [
    ("word", "미세먼지"),
    ("two_words", "에너지 사용량"),
    ("fragment", "세먼"),
    ("english", "parking"),
    ("generic", "현황"),
]
FILTERS = [
    ("", {}),
    ("+theme", {"theme": "environment"}),
    ("+free", {"price": "free"}),
    ("+csv", {"format": "csv"}),
    ("+theme+free+csv", {"theme": "environment", "price": "free", "format": "csv"}),
]
# A filter that fits each word better than "environment" (so the combination is not empty).
WORD_THEME = {"parking": "transport", "에너지 사용량": "industry"}


def request_mix(publisher_slug: str | None) -> list[tuple[str, str, str]]:
    """(group, kind, url) of every catalog request measured."""
    mix = []
    for label, word in WORDS:
        for suffix, params in FILTERS:
            params = dict(params)
            if "theme" in params:
                params["theme"] = WORD_THEME.get(word, params["theme"])
            mix.append(("catalog", f"{label}{suffix}", "/catalog/?" + urlencode({"q": word, **params}, doseq=True)))
    for sort in ("relevance", "newest", "downloads", "title"):
        mix.append(("catalog", f"empty sort={sort}", f"/catalog/?sort={sort}"))
    mix += [
        ("catalog", "filter theme only", "/catalog/?theme=transport"),
        ("catalog", "filter area only", "/catalog/?" + urlencode({"area": "경기도 시흥시"})),
        ("catalog", "filter tag only", "/catalog/?tag=CCTV"),
        ("catalog", "filter cadence+licence", "/catalog/?cadence=realtime&licence=kogl-1"),
        ("catalog", "word+area", "/catalog/?" + urlencode({"q": "미세먼지", "area": "경기도 시흥시"})),
        ("catalog", "deep word p=40", "/catalog/?" + urlencode({"q": "미세먼지", "page": 40})),
        ("catalog", "deep generic p=200", "/catalog/?" + urlencode({"q": "현황", "page": 200})),
        ("catalog", "deep newest p=500", "/catalog/?sort=newest&page=500"),
        ("catalog", "deep title p=250", "/catalog/?sort=title&page=250"),
        ("catalog", "no match", "/catalog/?" + urlencode({"q": "존재하지않는낱말"})),
    ]
    if publisher_slug:
        mix.append(
            ("catalog", "publisher+generic", "/catalog/?" + urlencode({"q": "현황", "publisher": publisher_slug}))
        )
        mix.append(("organization", "organization page", f"/catalog/organizations/{publisher_slug}/"))
    return mix


def percentile(values, p):
    values = sorted(values)
    if not values:
        return 0.0
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(ms):
    return {
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": max(ms or [0]),
        "n": len(ms),
    }


# --- database ---------------------------------------------------------------------------------------------------


def database_url(name: str = DB_NAME) -> tuple[str, object]:
    """The bench database `name`'s URL (and the embedded server to stop, if one was started)."""
    if os.environ.get("BENCH_DATABASE_URL"):
        return os.environ["BENCH_DATABASE_URL"], None
    if os.environ.get("DATABASE_URL"):
        url = urlsplit(os.environ["DATABASE_URL"])
        return urlunsplit(url._replace(path="/" + name)), None
    sys.path.insert(0, str(ROOT / "scripts"))
    import stack  # the launcher's embedded PostgreSQL (data under VAR_DIR/pg)

    server, url = stack.start_postgres()
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name)), server


def create_database(url: str) -> None:
    import psycopg2
    from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    conn = psycopg2.connect(admin)
    conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


def setup_django(url: str):
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["DEVTOOLS"] = "1"  # the seeder
    os.environ["CACHE_KEY_PREFIX"] = "mkt-bench-search"  # never share cached counts with a portal on the same Redis
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = "bench-search"  # and no portal worker counts for us
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")  # WhiteNoise: no collectstatic here, by design
    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG = False
    # Static files by their plain names (no collectstatic manifest needed, as in the tests).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    return settings


def prepare(n: int, seed: int, files_ratio: float, force: bool) -> dict:
    """Migrate and seed (unless already seeded with n datasets). Returns the seeding figures (or {})."""
    from django.core.management import call_command

    from devtools.seed import catalog as seeding

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrate_s = time.perf_counter() - t0
    from catalog.models import DataFile

    counts = seeding.seeded_counts()
    rich_ok = files_ratio == 0 or DataFile.objects.filter(file__startswith="seed/", profile__isnull=False).exists()
    if counts["entries"] == n and counts["datasets"] == n and rich_ok:
        print(f"database already holds {n:,} seeded datasets: seeding skipped (migrate {migrate_s:.1f}s)")
        return {}
    if counts["real_datasets"] and not force:
        raise SystemExit(
            f"the bench database holds {counts['real_datasets']} real datasets; use --force or another database"
        )
    if counts["datasets"]:
        print(f"clearing {counts['datasets']:,} seeded datasets (wanted {n:,})")
        seeding.clear(log=lambda *_: None)
    print(f"seeding {n:,} datasets…")
    result = seeding.seed(n, seed=seed, files_ratio=files_ratio, log=lambda *_: None)
    print(
        f"seeded {n:,} datasets in {result.seconds:.1f}s = {result.rows_per_second:,.0f} rows/s "
        f"(indexes {result.index_seconds:.1f}s, vacuum analyze {result.vacuum_seconds:.1f}s; "
        f"{result.rows['offers']:,} offers, {result.rows['datafiles']:,} files)"
    )
    return {
        "seed_s": round(result.seconds, 1),
        "seed_rows_s": round(result.rows_per_second),
        "seed_index_s": round(result.index_seconds, 1),
        "seed_vacuum_s": round(result.vacuum_seconds, 1),
    }


# --- measuring ----------------------------------------------------------------------------------------------------


def new_catalog_generation():
    """Forget cached exact counts (as after a catalog change)."""
    try:
        from catalog.discovery import catalog_changed
    except ImportError:
        return
    catalog_changed()


def lexeme_counts(state: str = "on") -> str:
    """The daily lexeme counts (catalog.lexemes) as a server that has run a day has them ("on": counted now when
    missing), or none and none asked for ("off": every search's samples from the coarsest, as before them). Returns
    what was done, for the bench's header."""
    from django.core.cache import cache

    from catalog import lexemes

    if state == "off":
        lexemes.drop_counts(ask_none_for=24 * 3600)
        return "lexeme counts off (none, none asked for)"
    lexemes.forget()
    stored = cache.get(lexemes.LEXEMES_KEY)
    if stored is not None:
        return f"lexeme counts kept from an earlier run: {len(stored['counts']):,} lexemes, 1-in-{stored['modulus']}"
    t0 = time.perf_counter()
    counted = lexemes.lexeme_frequencies_count()
    return (
        f"lexeme counts made (as the daily task does): {len(counted.counts):,} lexemes seen ≥ {counted.floor} times "
        f"in the 1-in-{counted.modulus} sample of {counted.entries:,} entries, {time.perf_counter() - t0:.1f} s"
    )


def get(client, url):
    t0 = time.perf_counter()
    response = client.get(url, secure=True)
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return ms, response


def capture(client, url):
    """One request with its SQL: (ms, [(sql, ms)], response)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        ms, response = get(client, url)
    return ms, [(q["sql"], float(q["time"]) * 1000) for q in ctx.captured_queries], response


def total_of(url: str) -> str:
    """The search's total as the page states it ("~": estimated), asked of the selector (not timed)."""
    if not url.startswith("/catalog/?"):
        return ""
    from django.http import QueryDict

    from catalog import selectors

    params = QueryDict(urlsplit(url).query)
    result = selectors.catalog_search(params, page=params.get("page"))
    return f"{result.total:,}{'' if result.exact else '~'}"


def measure(client, mix, rounds: int):
    """Warm-up pass with SQL capture, then timed rounds in a shuffled order. Returns per-kind records."""
    records = {}
    for group, kind, url in mix:
        ms, queries, response = capture(client, url)
        records[kind] = {
            "group": group,
            "url": url,
            "ms": [],
            "queries": len(queries),
            "sql": queries,
            "total": total_of(url),
            "bytes": len(response.content),
        }
    order = [(kind, url) for _g, kind, url in mix]
    rng = random.Random(7)
    for _ in range(rounds):
        rng.shuffle(order)
        for kind, url in order:
            records[kind]["ms"].append(get(client, url)[0])
    return records


def naive_search(word: str) -> tuple[float, int]:
    """The naive way on the same rows: ILIKE over title and description, the first page, the total, and one
    COUNT per facet (8 more queries). Returns (ms, total)."""
    from django.db.models import Count, Func, Q

    from catalog.models import CatalogEntry

    t0 = time.perf_counter()
    qs = CatalogEntry.objects.filter(
        Q(title_ko__icontains=word)
        | Q(title_en__icontains=word)
        | Q(version__description_ko__icontains=word)
        | Q(version__description_en__icontains=word)
    )
    list(qs.select_related("publisher", "theme").defer("search_vector").order_by("-published_at")[:20])
    total = qs.count()
    for column in ("theme", "publisher", "licence", "update_cadence", "area"):
        list(qs.order_by().values(column).annotate(n=Count("pk")))
    for column in ("formats", "price_types", "tags"):
        list(qs.order_by().annotate(v=Func(column, function="unnest")).values("v").annotate(n=Count("pk")))
    return (time.perf_counter() - t0) * 1000, total


def explainable(sql: str) -> bool:
    return sql.lstrip().upper().startswith(("SELECT", "WITH"))  # not SET LOCAL and the like


def explain(sql: str) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        return "\n".join(r[0] for r in cursor.fetchall())


def print_table(title, records, kinds):
    print(f"\n{title}")
    print(
        f"  {'request':<26} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} {'SQL':>4} {'SQL ms':>7} {'total':>9}"
    )
    for kind in kinds:
        r = records[kind]
        s = summary(r["ms"])
        sql_ms = sum(ms for _sql, ms in r["sql"])
        print(
            f"  {kind:<26} {s['p50']:8.1f} {s['p95']:8.1f} {s['p99']:8.1f} {s['max']:8.1f} {r['queries']:4d} {sql_ms:7.1f} {r['total']:>9}"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000, help="seeded datasets (default 100,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="timed requests per kind (after one warm-up)")
    parser.add_argument("--dataset-pages", type=int, default=40)
    parser.add_argument("--files-ratio", type=float, default=0.05, help="datasets with full file reports")
    parser.add_argument("--explain", type=int, default=1, help="EXPLAIN the N slowest distinct SQL statements")
    parser.add_argument("--naive-rounds", type=int, default=None, help="baseline repetitions (default 3; 1 from 500k)")
    parser.add_argument(
        "--plans", default="", help="comma-separated request kinds: EXPLAIN every SQL statement of each"
    )
    parser.add_argument("--quick", action="store_true", help="one round, few pages, no counted pass (for tests)")
    parser.add_argument("--force", action="store_true", help="seed even if the bench database holds real datasets")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.dataset_pages = 1, 5

    url, server = database_url()
    try:
        create_database(url)
        setup_django(url)
        run(args)
    finally:
        if server is not None:
            server.cleanup()


def run(args) -> None:
    from django.conf import settings
    from django.db.models import Count
    from django.test import Client

    from catalog.models import CatalogEntry, DataFile
    from devtools.seed import catalog as seeding

    out = {"bench": "search", "n": args.n}
    out.update(prepare(args.n, args.seed, args.files_ratio, args.force))
    new_catalog_generation()
    client = Client()
    publisher = (
        CatalogEntry.objects.filter(publisher__slug__startswith=seeding.SEED_PREFIX)
        .values_list("publisher__slug")
        .order_by()
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    mix = request_mix(publisher[0] if publisher else None)
    rng = random.Random(args.seed)
    ids = list(CatalogEntry.objects.order_by("?").values_list("dataset__slug", flat=True)[: args.dataset_pages])
    rich = list(
        DataFile.objects.filter(profile__isnull=False)
        .order_by("?")
        .values_list("version__dataset__slug", flat=True)[: max(1, args.dataset_pages // 4)]
    )
    pages = [
        ("dataset", f"dataset {'rich' if slug in rich else 'plain'} {i}", f"/catalog/datasets/{slug}/")
        for i, slug in enumerate(dict.fromkeys(rich + ids))
    ]
    rng.shuffle(pages)

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('shared_buffers'), current_setting('server_version'), "
            "pg_size_pretty(pg_total_relation_size(%s))",
            [CatalogEntry._meta.db_table],
        )
        shared_buffers, server_version, index_size = cursor.fetchone()
    print(
        f"PostgreSQL {server_version}, shared_buffers {shared_buffers}; the catalog index table with its "
        f"indexes and TOAST: {index_size}"
    )
    out.update({"shared_buffers": shared_buffers, "catalog_table_size": index_size})
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    records = measure(client, mix + pages, args.rounds)
    wall, load1 = time.perf_counter() - t0, os.getloadavg()[0]
    print(
        f"machine load average {load0:.1f} → {load1:.1f} on {os.cpu_count()} CPUs while measuring "
        "(other work on the machine inflates every figure)"
    )
    catalog_kinds = [k for _g, k, _u in mix if records[k]["group"] == "catalog"]
    print_table(
        f"catalog requests over {args.n:,} datasets, cold counts (no worker has counted yet), "
        f"{args.rounds} rounds, exact cap {getattr(settings, 'CATALOG_EXACT_CAP', '-')}:",
        records,
        catalog_kinds,
    )
    other = [k for _g, k, _u in mix if records[k]["group"] != "catalog"]
    if other:
        print_table("other pages:", records, other)

    catalog_ms = [ms for k in catalog_kinds for ms in records[k]["ms"]]
    dataset_kinds = [k for _g, k, _u in pages]
    dataset_ms = [ms for k in dataset_kinds for ms in records[k]["ms"]]
    rich_ms = [ms for k in dataset_kinds if " rich " in k for ms in records[k]["ms"]]
    cat, ds = summary(catalog_ms), summary(dataset_ms)
    dq = [records[k]["queries"] for k in dataset_kinds] or [0]
    cq = [records[k]["queries"] for k in catalog_kinds]
    print(
        f"\ncatalog overall:  p50 {cat['p50']:6.1f}  p95 {cat['p95']:6.1f}  p99 {cat['p99']:6.1f} ms  "
        f"({cat['n']} requests, {min(cq)}–{max(cq)} SQL queries each)"
    )
    print(
        f"dataset pages:    p50 {ds['p50']:6.1f}  p95 {ds['p95']:6.1f}  p99 {ds['p99']:6.1f} ms  "
        f"({len(dataset_kinds)} pages × {args.rounds}, {min(dq)}–{max(dq)} SQL queries each; "
        + (
            f"with full file reports p95 {summary(rich_ms)['p95']:.1f} ms)"
            if rich_ms
            else "none with full file reports)"
        )
    )
    slow = sorted(((summary(records[k]["ms"])["p95"], k) for k in catalog_kinds), reverse=True)[:5]
    print("slowest catalog requests (p95): " + ", ".join(f"{k} {p:.0f} ms" for p, k in slow))

    counted = {}
    if not args.quick:
        try:
            from catalog.discovery import exact_counts
        except ImportError:
            exact_counts = None
        big = [(k, records[k]["url"]) for k in catalog_kinds if records[k]["total"].endswith("~")]
        if exact_counts and big:
            from django.http import QueryDict

            worker_ms = []
            for kind, u in big:
                t1 = time.perf_counter()
                exact_counts(QueryDict(urlsplit(u).query))
                worker_ms.append(((time.perf_counter() - t1) * 1000, kind))
            counted = measure(client, [("catalog", k, u) for k, u in big], args.rounds)
            print_table(
                "the same large searches once a worker has counted them (cached exact counts):",
                counted,
                [k for k, _ in big],
            )
            print(
                "worker's exact count per search: "
                + ", ".join(f"{k} {ms:.0f} ms" for ms, k in sorted(worker_ms, reverse=True))
            )
            out["worker_count_max_ms"] = round(max(ms for ms, _ in worker_ms), 1)
            catalog_ms_counted = [
                ms for k in catalog_kinds for ms in (counted[k]["ms"] if k in counted else records[k]["ms"])
            ]
            out["catalog_counted_p95_ms"] = round(summary(catalog_ms_counted)["p95"], 1)

    print("\nbaseline, the naive way (ILIKE '%word%' on the titles and descriptions + one COUNT per facet):")
    naive = {}
    for label, word in WORDS:
        times = []
        for _ in range(
            args.naive_rounds if args.naive_rounds is not None else (1 if args.n >= 500_000 else min(args.rounds, 3))
        ):
            ms, total = naive_search(word)
            times.append(ms)
        naive[label] = (summary(times), total)
        ours = summary(records[label]["ms"])
        print(
            f"  {label:<12} {word:<14} naive p50 {naive[label][0]['p50']:8.1f} ms ({total:,} rows)   "
            f"catalog p50 {ours['p50']:6.1f} ms ({records[label]['total']})"
        )

    statements = {}
    for kind in catalog_kinds + dataset_kinds + other:
        for sql, ms in records[kind]["sql"]:
            if not explainable(sql):
                continue
            if ms > statements.get(sql, (0, ""))[0]:
                statements[sql] = (ms, kind)
    slowest = sorted(((ms, kind, sql) for sql, (ms, kind) in statements.items()), reverse=True)[: args.explain]
    for i, (ms, kind, sql) in enumerate(slowest, 1):
        print(
            f"\nslowest SQL #{i} ({ms:.1f} ms in the warm-up, request “{kind}”):\n  {sql[:1500]}{'…' if len(sql) > 1500 else ''}"
        )
        print("EXPLAIN (ANALYZE, BUFFERS):\n" + explain(sql))

    for kind in filter(None, (k.strip() for k in args.plans.split(","))):
        if kind not in records:
            print(f"\n--plans: no request kind “{kind}” (kinds: {', '.join(records)})")
            continue
        for i, (sql, ms) in enumerate(records[kind]["sql"], 1):
            print(
                f"\nrequest “{kind}”, SQL {i}/{len(records[kind]['sql'])} ({ms:.1f} ms in the warm-up):\n  {sql[:3000]}"
            )
            if not explainable(sql):
                continue
            print("EXPLAIN (ANALYZE, BUFFERS):\n" + explain(sql))

    naive_all = [naive[label][0]["p50"] for label, _ in WORDS]
    out.update(
        {
            "rounds": args.rounds,
            "requests": len(catalog_ms) + len(dataset_ms),
            "wall_s": round(wall, 1),
            "load_avg": round(max(load0, load1), 1),
            "cpus": os.cpu_count(),
            "p50_ms": round(cat["p50"], 1),
            "p95_ms": round(cat["p95"], 1),
            "p99_ms": round(cat["p99"], 1),
            "catalog_max_ms": round(cat["max"], 1),
            "catalog_queries_max": max(cq),
            "dataset_p50_ms": round(ds["p50"], 1),
            "dataset_p95_ms": round(ds["p95"], 1),
            "dataset_p99_ms": round(ds["p99"], 1),
            "dataset_queries_max": max(dq),
            "slowest_kind": slow[0][1],
            "slowest_kind_p95_ms": round(slow[0][0], 1),
            "slowest_sql_ms": round(slowest[0][0], 1) if slowest else None,
            "naive_p50_ms": round(statistics.median(naive_all), 1),
            "naive_max_ms": round(max(naive_all), 1),
        }
    )
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
