"""The DCAT-AP catalog: how long one page of the catalog (100 datasets by default) takes to build, in process and over
real HTTP, beside the catalog's own pages in the same run.

    .venv/bin/python bench/dcat.py [--n 10000] [--page-size 100] [--rounds 10] [--no-http] [--quick]

The database is prepared as bench/search.py prepares its own (migrated; seeded with `devtools.seed.catalog` unless it
already holds exactly N seeded datasets), in a database of this bench (`mkt_bench_dcat` on the server of
DATABASE_URL, or BENCH_DATABASE_URL). Then:

1. In process, uncached (a new catalog generation before each build, as after a change): the parts of one page —
   reading the page (selectors.records: a fixed number of queries), building the rdflib graph, serializing it as
   Turtle, JSON-LD and RDF/XML — at the first, a middle and the last page; p50/p95 of each.
2. In process through Django's test client (the real middleware and URL stack): /catalog.ttl|.jsonld|.rdf?page=…
   uncached and cached (the second reader of a page), one dataset's document (/dataset/<slug>.ttl) and the dataset
   page by content negotiation; the baseline: the HTML catalog page (/catalog/) and the HTML dataset page.
3. Over HTTP (unless --no-http): the portal in gunicorn as scripts/stack.py runs it (2 workers × 4 threads), the same
   requests over one keep-alive connection.

Ends with one line of JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  (bench/search.py: database, seeding, percentiles)
import webserver  # noqa: E402  (bench/webserver.py: gunicorn and a timing client)

DB_NAME = "mkt_bench_dcat"
percentile = search_bench.percentile


def stats(ms: list[float]) -> dict:
    return {"p50": round(percentile(ms, 50), 1), "p95": round(percentile(ms, 95), 1), "n": len(ms)}


def line(label: str, ms: list[float], extra: str = "") -> None:
    s = stats(ms)
    print(f"  {label:<52} p50 {s['p50']:>8.1f} ms   p95 {s['p95']:>8.1f} ms  {extra}")


def parts(args, pages: list[int]) -> dict:
    """Read, build and serialize one page, uncached, timed separately."""
    from django.core.paginator import Paginator
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from catalog.dcat import graph, selectors, views

    out = {}
    for page in pages:
        timings = {"read": [], "build": [], "ttl": [], "jsonld": [], "rdf": []}
        triples = size = queries = 0
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as captured:
                paginator = Paginator(selectors.entry_ids(), args.page_size)
                records = selectors.records(selectors.entries_by_ids(paginator.page(page).object_list))
                themes, modified = selectors.themes(), selectors.last_modified()
                total = paginator.count
            t1 = time.perf_counter()
            g = graph.catalog_graph(
                records,
                themes=themes,
                modified=modified,
                paging={"page_uri": f"x?page={page}", "total": total, "first": "x?page=1", "last": "x?page=9"},
            )
            t2 = time.perf_counter()
            timings["read"].append((t1 - t0) * 1000)
            timings["build"].append((t2 - t1) * 1000)
            for ext in ("ttl", "jsonld", "rdf"):
                t3 = time.perf_counter()
                body = views.serialize(g, ext)
                timings[ext].append((time.perf_counter() - t3) * 1000)
                if ext == "ttl":
                    size = len(body)
            triples, queries = len(g), len(captured)
        out[page] = {k: stats(v) for k, v in timings.items()} | {
            "triples": triples,
            "ttl_bytes": size,
            "queries": queries,
            "datasets": len(records),
        }
    return out


def timed_client(client, url, **headers) -> float:
    t0 = time.perf_counter()
    response = client.get(url, **headers)
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return ms


def requests_mix(last_page: int, slug: str) -> list[tuple[str, str, dict, bool]]:
    """(label, url, headers, uncached): what is timed in process and over HTTP."""
    middle = max(1, last_page // 2)
    mix = [
        ("catalog.ttl page 1, uncached", "/catalog.ttl?page=1", {}, True),
        ("catalog.ttl page 1, cached (the next reader)", "/catalog.ttl?page=1", {}, False),
        ("catalog.jsonld page 1, uncached", "/catalog.jsonld?page=1", {}, True),
        ("catalog.rdf page 1, uncached", "/catalog.rdf?page=1", {}, True),
        (f"catalog.ttl page {middle}, uncached", f"/catalog.ttl?page={middle}", {}, True),
        (f"catalog.ttl page {last_page} (last), uncached", f"/catalog.ttl?page={last_page}", {}, True),
        ("dataset .ttl document", f"/dataset/{slug}.ttl", {}, False),
        ("dataset page, Accept: text/turtle", f"/catalog/datasets/{slug}/", {"Accept": "text/turtle"}, False),
        ("baseline: HTML dataset page", f"/catalog/datasets/{slug}/", {}, False),
        ("baseline: HTML catalog page (20 results)", "/catalog/", {}, False),
        ("baseline: API dataset list", "/api/v1/datasets/", {}, False),
    ]
    return mix


def in_process(args, mix) -> dict:
    from django.test import Client

    from catalog.discovery import catalog_changed

    client = Client()
    records = {label: [] for label, *_ in mix}
    for _label, url, headers, _uncached in mix:  # warm-up
        timed_client(client, url, **{f"HTTP_{k.upper()}": v for k, v in headers.items()})
    for _ in range(args.rounds):
        for label, url, headers, uncached in mix:
            if uncached:
                catalog_changed()
            records[label].append(timed_client(client, url, **{f"HTTP_{k.upper()}": v for k, v in headers.items()}))
    return records


def over_http(args, mix) -> dict:
    from catalog.discovery import catalog_changed

    port = webserver.free_port()
    web = webserver.start_gunicorn(
        port, env={"API_RATE_PER_IP": "100000000/minute", "DCAT_PAGE_SIZE": str(args.page_size)}
    )
    try:
        http = webserver.Http(port)
        records = {label: [] for label, *_ in mix}
        for _label, url, headers, _uncached in mix:
            http.request("GET", url, headers=headers)
        for _ in range(args.rounds):
            for label, url, headers, uncached in mix:
                if uncached:
                    catalog_changed()  # the server reads the same Redis: its cached pages are for an older catalog
                records[label].append(http.request("GET", url, headers=headers))
        return records
    finally:
        webserver.stop(web)


def run(args) -> None:
    from django.conf import settings

    from catalog.dcat import selectors

    out = {"bench": "dcat", "n": args.n, "page_size": args.page_size}
    out.update(search_bench.prepare(args.n, args.seed, args.files_ratio, args.force))
    settings.DCAT_PAGE_SIZE = args.page_size
    os.environ["DCAT_PAGE_SIZE"] = str(args.page_size)
    total = selectors.entries().count()
    last_page = max(1, -(-total // args.page_size))
    slug = selectors.entries().values_list("dataset__slug", flat=True)[total // 2]
    print(
        f"{total:,} public datasets, {args.page_size} per page: {last_page:,} pages; machine load "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )

    print(f"\nparts of one catalog page, uncached, in process ({args.rounds} rounds):")
    built = parts(args, sorted({1, max(1, last_page // 2), last_page}))
    for page, figures in built.items():
        print(
            f" page {page:,}: {figures['datasets']} datasets, {figures['triples']:,} triples, "
            f"{figures['ttl_bytes'] / 1024:,.0f} KiB Turtle, {figures['queries']} SQL queries"
        )
        for key in ("read", "build", "ttl", "jsonld", "rdf"):
            print(f"    {key:<8} p50 {figures[key]['p50']:>8.1f} ms   p95 {figures[key]['p95']:>8.1f} ms")
    out["parts"] = {str(page): figures for page, figures in built.items()}

    mix = requests_mix(last_page, slug)
    print(f"\nwhole requests in process (Django test client, {args.rounds} rounds):")
    local = in_process(args, mix)
    for label, ms in local.items():
        line(label, ms)
    out["in_process"] = {label: stats(ms) for label, ms in local.items()}

    if not args.no_http:
        print(f"\nover HTTP (gunicorn 2 workers × 4 threads, one keep-alive connection, {args.rounds} rounds):")
        remote = over_http(args, mix)
        for label, ms in remote.items():
            line(label, ms)
        out["http"] = {label: stats(ms) for label, ms in remote.items()}

    first = out["in_process"]["catalog.ttl page 1, uncached"]["p50"]
    baseline = out["in_process"]["baseline: HTML catalog page (20 results)"]["p50"]
    print(
        f"\nA catalog page of {args.page_size} datasets in Turtle, uncached: {first:.0f} ms p50 in process "
        f"({statistics.mean([first]) / max(baseline, 0.1):.1f}× the HTML catalog page of 20 results, {baseline:.0f} ms)"
    )
    print(json.dumps(out, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000, help="seeded datasets (default 10,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--files-ratio", type=float, default=0.2, help="datasets with full file reports")
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1,000 datasets, 3 rounds (for a smoke run)")
    parser.add_argument("--force", action="store_true", help="seed even if the bench database holds real datasets")
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds = min(args.n, 1000), 3
    search_bench.DB_NAME = DB_NAME
    url, server = search_bench.database_url()
    try:
        search_bench.create_database(url)
        search_bench.setup_django(url)
        run(args)
    finally:
        if server is not None:
            server.cleanup()


if __name__ == "__main__":
    main()
