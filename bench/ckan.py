"""CKAN's package_search over N seeded datasets, in-process and through real HTTP, against the catalog page's search.

    .venv/bin/python bench/ckan.py [--n 1000000] [--rounds 5] [--quick] [--no-http]

Database: BENCH_DATABASE_URL if set; else the server of DATABASE_URL with the database `mkt_bench_ckan`; else the
embedded PostgreSQL of scripts/stack.py. Created, migrated and seeded by devtools.seed.catalog exactly as
bench/search.py does (its prepare(): skipped when the database already holds N seeded datasets, so a second run
measures at once; a million takes ~15 minutes to seed on 2 cores).

The request mix (each a GET of /api/3/action/package_search): Korean words, two words, a fragment, an English
word and a generic word; the same with fq filters (groups, res_format, organization, tags, license_id, combined);
facets (organization, groups, tags, res_format, license_id) with and without words; sorts; rows=1000 (a
harvester's page) at the start and deep; deep `start` offsets. Each is timed

- in-process through django.test.Client (the real URL stack, middleware and view, DEBUG off), with its SQL count;
- over HTTP through gunicorn (bench/webserver.py: 2 workers × 4 threads), as a client sees it.

Baseline in the same run, interleaved with the API's requests in the same shuffled rounds (so that the machine's
load falls on both alike): the catalog page's own search for the same words and filters, in-process as the selector
alone (catalog.discovery.catalog_search) and as the whole /catalog/ page, and over HTTP as the /catalog/ page. No Celery worker runs: searches above
CATALOG_EXACT_CAP are served with sampled estimates, the first-visit path. Ends with one line of JSON.
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  (bench/search.py: seeding, database, percentiles)
import webserver  # noqa: E402

DB_NAME = "mkt_bench_ckan"
FACETS = json.dumps(["organization", "groups", "tags", "res_format", "license_id"])
TARGET_P95_MS = 100.0


def database_url() -> tuple[str, object]:
    return search_bench.database_url(DB_NAME)


def request_mix(publisher: str | None) -> list[tuple[str, str, dict, str | None]]:
    """(group, kind, package_search parameters, the catalog page's equivalent query string or None)."""
    mix = []
    for label, word in search_bench.WORDS:
        mix.append(("q", label, {"q": word}, urlencode({"q": word})))
    theme_of = {"parking": "transport", "에너지 사용량": "industry"}
    for label, word in search_bench.WORDS:
        theme = theme_of.get(word, "environment")
        mix.append(
            ("fq", f"{label}+groups", {"q": word, "fq": f"groups:{theme}"}, urlencode({"q": word, "theme": theme}))
        )
        mix.append(("fq", f"{label}+csv", {"q": word, "fq": "res_format:CSV"}, urlencode({"q": word, "format": "csv"})))
    mix += [
        ("fq", "groups only", {"fq": "groups:transport"}, "theme=transport"),
        ("fq", "tags only", {"fq": "tags:CCTV"}, "tag=CCTV"),
        ("fq", "licence only", {"fq": "license_id:kogl-type1"}, "licence=kogl-1"),
        (
            "fq",
            "groups+csv+licence",
            {"fq": "groups:environment +res_format:CSV +license_id:kogl-type1"},
            "theme=environment&format=csv&licence=kogl-1",
        ),
    ]
    if publisher:
        mix.append(
            (
                "fq",
                "organization+generic",
                {"q": "현황", "fq": f"organization:{publisher}"},
                urlencode({"q": "현황", "publisher": publisher}),
            )
        )
    for label, word in (("word", "미세먼지"), ("generic", "현황")):
        mix.append(("facets", f"{label}+facets", {"q": word, "facet.field": FACETS}, urlencode({"q": word})))
    mix += [
        ("facets", "all+facets", {"facet.field": FACETS}, ""),
        ("facets", "groups+facets", {"fq": "groups:transport", "facet.field": FACETS}, "theme=transport"),
        ("sort", "all newest", {"sort": "metadata_modified desc"}, "sort=newest"),
        ("sort", "all title", {"sort": "title_string asc"}, "sort=title"),
        (
            "sort",
            "word title",
            {"q": "미세먼지", "sort": "title_string asc"},
            urlencode({"q": "미세먼지", "sort": "title"}),
        ),
        ("deep", "generic start=10000", {"q": "현황", "start": 10_000}, None),
        ("deep", "all start=100000", {"start": 100_000}, None),
        ("deep", "word start=2000", {"q": "미세먼지", "start": 2_000}, None),
        ("rows1000", "all rows=1000", {"rows": 1000}, None),
        ("rows1000", "all rows=1000 start=50000", {"rows": 1000, "start": 50_000}, None),
        ("rows1000", "generic rows=1000", {"q": "현황", "rows": 1000}, None),
        ("rows1000", "groups rows=1000", {"fq": "groups:transport", "rows": 1000}, None),
    ]
    return mix


def api_url(params: dict) -> str:
    return "/api/3/action/package_search?" + urlencode(params)


def measure_inprocess(client, mix, rounds: int) -> tuple[dict, dict]:
    """package_search through the in-process client, and, interleaved with it in the same shuffled rounds (so that
    the machine's load falls on both alike), the baseline: the catalog page's search for the same query, page 1,
    as the selector alone (catalog_search) and as the whole /catalog/ page (middleware, view, templates)."""
    from django.db import connection
    from django.http import QueryDict
    from django.test.utils import CaptureQueriesContext

    from catalog.discovery import catalog_search

    records, baseline = {}, {}
    for group, kind, params, page in mix:  # warm-up, with the SQL of each request
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(api_url(params), secure=True)
        if response.status_code != 200:
            raise SystemExit(f"{kind}: {response.status_code} {response.content[:300]!r}")
        body = response.json()["result"]
        records[kind] = {
            "group": group,
            "ms": [],
            "queries": len(ctx.captured_queries),
            "count": body["count"],
            "returned": len(body["results"]),
            "bytes": len(response.content),
        }
        if page is not None:
            catalog_search(QueryDict(page), page=1)
            client.get("/catalog/?" + page, secure=True)
            baseline[kind] = {"ms": [], "page_ms": []}
    order = list(mix)
    rng = random.Random(7)
    for _ in range(rounds):
        rng.shuffle(order)
        for _g, kind, params, page in order:
            t0 = time.perf_counter()
            response = client.get(api_url(params), secure=True)
            records[kind]["ms"].append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
            if page is None:
                continue
            t0 = time.perf_counter()
            catalog_search(QueryDict(page), page=1)
            baseline[kind]["ms"].append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            response = client.get("/catalog/?" + page, secure=True)
            baseline[kind]["page_ms"].append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
    return records, baseline


def measure_http(mix, rounds: int, env: dict) -> tuple[dict, dict]:
    port = webserver.free_port()
    web = webserver.start_gunicorn(port, env=env)
    try:
        http = webserver.Http(port)
        api, page = {}, {}
        for _g, kind, params, page_query in mix:  # warm-up (each worker)
            for _ in range(2):
                http.get(api_url(params))
                if page_query is not None:
                    http.get("/catalog/?" + page_query)
            api[kind] = {"ms": []}
            if page_query is not None:
                page[kind] = {"ms": []}
        order = list(mix)
        rng = random.Random(11)
        for _ in range(rounds):
            rng.shuffle(order)
            for _g, kind, params, page_query in order:
                api[kind]["ms"].append(http.get(api_url(params)))
                if page_query is not None:
                    page[kind]["ms"].append(http.get("/catalog/?" + page_query))
        return api, page
    finally:
        webserver.stop(web)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1_000_000, help="seeded datasets (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--files-ratio", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="one round (for tests)")
    parser.add_argument("--no-http", action="store_true", help="in-process only")
    parser.add_argument("--force", action="store_true", help="seed even if the bench database holds real datasets")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 1
    url, server = database_url()
    try:
        search_bench.create_database(url)
        os.environ["API_RATE_PER_IP"] = "100000000/minute"  # the address budget is not what is measured
        search_bench.setup_django(url)
        run(args, url)
    finally:
        if server is not None:
            server.cleanup()


def run(args, url: str) -> None:
    from django.db.models import Count
    from django.test import Client

    from catalog.models import CatalogEntry
    from devtools.seed import catalog as seeding

    out = {"bench": "ckan", "n": args.n}
    out.update(search_bench.prepare(args.n, args.seed, args.files_ratio, args.force))
    search_bench.new_catalog_generation()
    publisher = (
        CatalogEntry.objects.filter(publisher__slug__startswith=seeding.SEED_PREFIX)
        .values_list("publisher__slug")
        .order_by()
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    mix = request_mix(publisher[0] if publisher else None)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    records, baseline = measure_inprocess(Client(), mix, args.rounds)
    inproc_s = time.perf_counter() - t0
    load1 = os.getloadavg()[0]
    summary = search_bench.summary

    print(
        f"\npackage_search in-process over {args.n:,} datasets, {args.rounds} rounds "
        f"(load average {load0:.1f} → {load1:.1f} on {os.cpu_count()} CPUs):"
    )
    print(
        f"  {'request':<28} {'p50 ms':>8} {'p95 ms':>8} {'SQL':>4} {'count':>9} {'rows':>5} {'KiB':>6}"
        f" {'search p50':>10} {'search p95':>10} {'page p50':>9} {'page p95':>9}"
    )
    for _g, kind, _p, _page in mix:
        r = records[kind]
        s = summary(r["ms"])
        b = summary(baseline[kind]["ms"]) if kind in baseline else None
        p = summary(baseline[kind]["page_ms"]) if kind in baseline else None
        base = (
            f" {b['p50']:10.1f} {b['p95']:10.1f} {p['p50']:9.1f} {p['p95']:9.1f}"
            if b
            else f" {'-':>10} {'-':>10} {'-':>9} {'-':>9}"
        )
        print(
            f"  {kind:<28} {s['p50']:8.1f} {s['p95']:8.1f} {r['queries']:4d} {r['count']:9,} {r['returned']:5d}"
            f" {r['bytes'] / 1024:6.0f}{base}"
        )
    groups = {}
    for _g, kind, _p, _page in mix:
        groups.setdefault(records[kind]["group"], []).extend(records[kind]["ms"])
    all_ms = [ms for kind in records for ms in records[kind]["ms"]]
    compared = [k for k in records if k in baseline]
    api_same = [ms for k in compared for ms in records[k]["ms"]]
    page_same = [ms for k in compared for ms in baseline[k]["ms"]]
    page_full = [ms for k in compared for ms in baseline[k]["page_ms"]]
    # What a search costs, apart from the two things the catalog's own page cannot do fast either (sorting a large
    # search by title walks the title index past clustered non-matches) or does not do (1000 rows at once).
    searches = [k for k in records if records[k]["group"] != "rows1000" and "title" not in k]
    search_ms = [ms for k in searches for ms in records[k]["ms"]]
    print(
        "\nby kind (in-process p50 / p95 ms): "
        + ", ".join(f"{g} {summary(v)['p50']:.1f} / {summary(v)['p95']:.1f}" for g, v in groups.items())
    )
    overall = summary(all_ms)
    print(
        f"package_search overall: p50 {overall['p50']:.1f}  p95 {overall['p95']:.1f}  p99 {overall['p99']:.1f} ms"
        f"  ({len(all_ms)} requests; target p95 < {TARGET_P95_MS:.0f} ms)"
    )
    print(
        f"same queries: package_search p95 {summary(api_same)['p95']:.1f} ms (rows=10, whole CKAN dicts) vs the "
        f"catalog page p95 {summary(page_full)['p95']:.1f} ms (its selector catalog_search alone: "
        f"{summary(page_same)['p95']:.1f} ms)"
    )
    search = summary(search_ms)
    print(
        f"searches (rows=10; every kind but the title sorts and rows=1000): p50 {search['p50']:.1f}  "
        f"p95 {search['p95']:.1f} ms"
    )
    out.update(
        {
            "rounds": args.rounds,
            "load_avg": round(max(load0, load1), 1),
            "cpus": os.cpu_count(),
            "inprocess_s": round(inproc_s, 1),
            "p50_ms": round(overall["p50"], 1),
            "p95_ms": round(overall["p95"], 1),
            "p99_ms": round(overall["p99"], 1),
            "groups_p95_ms": {g: round(summary(v)["p95"], 1) for g, v in groups.items()},
            "baseline_catalog_search_p95_ms": round(summary(page_same)["p95"], 1),
            "baseline_catalog_page_p95_ms": round(summary(page_full)["p95"], 1),
            "search_p50_ms": round(search["p50"], 1),
            "search_p95_ms": round(search["p95"], 1),
            "same_queries_api_p95_ms": round(summary(api_same)["p95"], 1),
            "sql_max": max(r["queries"] for r in records.values()),
            "target_p95_ms": TARGET_P95_MS,
        }
    )
    if not args.no_http:
        env = {"DATABASE_URL": url, "API_RATE_PER_IP": "100000000/minute"}  # and the in-process run's cache prefix
        load2 = os.getloadavg()[0]
        api, page = measure_http(mix, args.rounds, env)
        load3 = os.getloadavg()[0]
        print(f"\nover HTTP (gunicorn 2 workers × 4 threads; load average {load2:.1f} → {load3:.1f}):")
        print(f"  {'request':<28} {'p50 ms':>8} {'p95 ms':>8} {'page p50':>9} {'page p95':>9}")
        for _g, kind, _p, _page in mix:
            s = summary(api[kind]["ms"])
            b = summary(page[kind]["ms"]) if kind in page else None
            base = f" {b['p50']:9.1f} {b['p95']:9.1f}" if b else f" {'-':>9} {'-':>9}"
            print(f"  {kind:<28} {s['p50']:8.1f} {s['p95']:8.1f}{base}")
        http_all = summary([ms for k in api for ms in api[k]["ms"]])
        http_same = summary([ms for k in page for ms in api[k]["ms"]])
        page_all = summary([ms for k in page for ms in page[k]["ms"]])
        http_search = summary([ms for k in searches for ms in api[k]["ms"]])
        print(
            f"HTTP overall: package_search p50 {http_all['p50']:.1f}  p95 {http_all['p95']:.1f} ms; same queries "
            f"p95 {http_same['p95']:.1f} ms vs the /catalog/ page p95 {page_all['p95']:.1f} ms; searches (rows=10, "
            f"no title sort) p50 {http_search['p50']:.1f}  p95 {http_search['p95']:.1f} ms"
        )
        out.update(
            {
                "http_p50_ms": round(http_all["p50"], 1),
                "http_p95_ms": round(http_all["p95"], 1),
                "http_same_queries_p95_ms": round(http_same["p95"], 1),
                "http_catalog_page_p95_ms": round(page_all["p95"], 1),
                "http_search_p50_ms": round(http_search["p50"], 1),
                "http_search_p95_ms": round(http_search["p95"], 1),
                "http_load_avg": round(max(load2, load3), 1),
            }
        )
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
