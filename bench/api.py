"""The catalog API beside the catalog page, over N seeded datasets: server time, SQL per request, real HTTP, a token.

    .venv/bin/python bench/api.py [--sizes 100000,1000000] [--rounds 20] [--no-http] [--quick]

For each size, the database is prepared exactly as bench/search.py prepares its own (migrated, and seeded with
`devtools.seed.catalog` unless it already holds exactly N seeded datasets), in a database of this bench
(`mkt_bench_api` on the server of DATABASE_URL, or BENCH_DATABASE_URL). Then, in the same run:

1. In process (django.test.Client, DEBUG off, the real middleware, URL stack, views and renderers): the dataset list
   with Korean queries, alone and with filters (facets always come with it), as the HTML catalog page
   (/catalog/?…) and as the API (/api/v1/datasets/?…), interleaved in a shuffled order after one warm-up pass:
   p50/p95 server time and SQL queries per request.
2. Token authentication: the same API request with and without `Authorization: Token …`, interleaved in pairs;
   the difference of the medians (and the median of the paired differences), on the list and on a cheap endpoint
   (/api/v1/themes/) where little else varies.
3. Over HTTP (unless --no-http): the portal in gunicorn as scripts/stack.py runs it (2 workers × 4 threads), the
   same requests over one keep-alive connection: p50/p95 seen by the client, page beside API, and the token again.

No Celery worker runs: searches above CATALOG_EXACT_CAP are served with estimated counts (the first-visit path, as
bench/search.py's cold rounds), for the page and the API alike. Request limits are lifted for the run (they still
run, they just never refuse). Ends with one line of JSON.
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  (bench/search.py: database, seeding, percentiles)
import webserver  # noqa: E402  (bench/webserver.py: gunicorn and a timing client)

DB_NAME = "mkt_bench_api"
RATE = "100000000/minute"

# (kind, GET parameters): the dataset list with a Korean query and facets, as a buyer uses it.
MIX = [
    ("word", {"q": "미세먼지"}),
    ("word+theme", {"q": "미세먼지", "theme": "environment"}),
    ("word+free+csv", {"q": "미세먼지", "price": "free", "format": "csv"}),
    ("two words", {"q": "에너지 사용량"}),
    ("generic", {"q": "현황"}),
    ("generic+area", {"q": "현황", "area": "경기도 시흥시"}),
    ("fragment p=3", {"q": "세먼", "page": 3}),
    ("word sort=newest", {"q": "미세먼지", "sort": "newest"}),
]


def urls(params: dict) -> tuple[str, str]:
    query = urlencode(params, doseq=True)
    return f"/catalog/?{query}", f"/api/v1/datasets/?{query}"


summary, percentile = search_bench.summary, search_bench.percentile


def median(values):
    return percentile(values, 50)


# --- in process ------------------------------------------------------------------------------------------------


def timed(client, url, **headers):
    t0 = time.perf_counter()
    response = client.get(url, **headers)
    ms = (time.perf_counter() - t0) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    return ms, response


def queries_of(client, url, **headers) -> tuple[int, object]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        _ms, response = timed(client, url, **headers)
    return len(ctx.captured_queries), response


def page_result(page_url: str):
    """What the catalog page shows for its URL, asked of its selector (not timed)."""
    from django.http import QueryDict

    from catalog import selectors

    params = QueryDict(urlsplit(page_url).query)
    return selectors.catalog_search(params, page=params.get("page"))


def in_process(client, rounds: int, seed: int) -> dict:
    """{kind: {"page": [ms], "api": [ms], "page_sql", "api_sql", "total"}} over shuffled, interleaved rounds."""
    records = {}
    for kind, params in MIX:
        page_url, api_url = urls(params)
        timed(client, page_url), timed(client, api_url)  # warm-up (per-process label caches, counts in Redis)
        page_sql, page = queries_of(client, page_url)
        api_sql, api = queries_of(client, api_url)
        data = api.json()
        shown = page_result(page_url)
        if data["count"] != shown.total or [r["slug"] for r in data["results"]] != [e.slug for e in shown.entries]:
            raise SystemExit(f"{kind}: the API and the page disagree ({data['count']} vs {shown.total})")
        records[kind] = {
            "page": [],
            "api": [],
            "page_sql": page_sql,
            "api_sql": api_sql,
            "total": f"{data['count']:,}{'' if data['exact'] else '~'}",
            "api_bytes": len(api.content),
        }
    order = [(kind, which, url) for kind, params in MIX for which, url in zip(("page", "api"), urls(params))]
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for kind, which, url in order:
            records[kind][which].append(timed(client, url)[0])
    return records


def token_pairs(get, url: str, key: str, pairs: int) -> dict:
    """The same request without and with the key, interleaved (alternating which goes first)."""
    plain, keyed, deltas = [], [], []
    for i in range(pairs):
        first_keyed = i % 2 == 1
        a = get(url, key if first_keyed else None)
        b = get(url, None if first_keyed else key)
        without, with_key = (b, a) if first_keyed else (a, b)
        plain.append(without)
        keyed.append(with_key)
        deltas.append(with_key - without)
    return {
        "without_p50": median(plain),
        "with_p50": median(keyed),
        "diff_of_medians": median(keyed) - median(plain),
        "median_paired_diff": median(deltas),
        "n": pairs,
    }


def make_key() -> str:
    """A `read` key of a buyer in a verified company (the bench's own rows, kept between runs)."""
    from accounts.models import Membership, Organization, User
    from accounts.services import api_token_create

    user, _created = User.objects.get_or_create(email="bench-api@bench.invalid", defaults={"name": "bench api"})
    company, _created = Organization.objects.get_or_create(
        slug="bench-api-company",
        defaults={
            "name_ko": "(주)벤치",
            "name_en": "Bench Inc.",
            "kind": Organization.Kind.CONSUMER,
            "org_type": Organization.OrgType.COMPANY,
            "brn": "0000000000",
            "verification": Organization.Verification.VERIFIED,
        },
    )
    Membership.objects.get_or_create(user=user, organization=company, defaults={"role": Membership.Role.BUYER})
    _token, key = api_token_create(actor=user, organization=company, name="bench api", scopes=["read"])
    return key


# --- over HTTP ---------------------------------------------------------------------------------------------------


class Http(webserver.Http):
    def get(self, url: str, key: str | None = None) -> float:
        return super().get(url, **({"Authorization": f"Token {key}"} if key else {}))


def over_http(rounds: int, seed: int, key: str, pairs: int) -> dict:
    port = webserver.free_port()
    web = webserver.start_gunicorn(port, env={"API_RATE_PER_IP": RATE, "API_RATE_PER_TOKEN": RATE})
    try:
        client = Http(port)
        records = {kind: {"page": [], "api": []} for kind, _ in MIX}
        order = [(kind, which, url) for kind, params in MIX for which, url in zip(("page", "api"), urls(params))]
        for _kind, _which, url in order * 2:  # warm both workers (imports, connections, caches)
            client.get(url)
        rng = random.Random(seed)
        for _ in range(rounds):
            rng.shuffle(order)
            for kind, which, url in order:
                records[kind][which].append(client.get(url))
        token = {
            "list": token_pairs(client.get, urls(MIX[0][1])[1], key, pairs),
            "themes": token_pairs(client.get, "/api/v1/themes/", key, pairs),
        }
        return {"records": records, "token": token}
    finally:
        webserver.stop(web)


# --- report ------------------------------------------------------------------------------------------------------


def print_records(title, records, with_sql=True):
    print(f"\n{title}")
    head = f"  {'request':<18} {'page p50':>9} {'page p95':>9} {'API p50':>8} {'API p95':>8}"
    if with_sql:
        head += f" {'page SQL':>8} {'API SQL':>8} {'total':>9}"
    print(head)
    for kind, _params in MIX:
        r = records[kind]
        page, api = summary(r["page"]), summary(r["api"])
        line = f"  {kind:<18} {page['p50']:9.1f} {page['p95']:9.1f} {api['p50']:8.1f} {api['p95']:8.1f}"
        if with_sql:
            line += f" {r['page_sql']:8d} {r['api_sql']:8d} {r['total']:>9}"
        print(line)
    page_all = summary([ms for r in records.values() for ms in r["page"]])
    api_all = summary([ms for r in records.values() for ms in r["api"]])
    print(
        f"  {'all':<18} {page_all['p50']:9.1f} {page_all['p95']:9.1f} {api_all['p50']:8.1f} {api_all['p95']:8.1f}"
        f"   ({api_all['n']} requests each)"
    )
    return page_all, api_all


def print_token(title, token):
    print(f"\n{title}")
    for name, t in token.items():
        print(
            f"  {name:<8} without key p50 {t['without_p50']:6.2f} ms, with key p50 {t['with_p50']:6.2f} ms: "
            f"+{t['diff_of_medians']:.2f} ms (median of {t['n']} paired differences {t['median_paired_diff']:+.2f} ms)"
        )


def measure_size(n: int, args) -> dict:
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from catalog.models import CatalogEntry

    out = {"n": n}
    out.update(search_bench.prepare(n, args.seed, args.files_ratio, args.force))
    search_bench.new_catalog_generation()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('shared_buffers'), current_setting('server_version'), "
            "pg_size_pretty(pg_total_relation_size(%s))",
            [CatalogEntry._meta.db_table],
        )
        shared_buffers, version, size = cursor.fetchone()
    print(f"\n=== {n:,} datasets · PostgreSQL {version}, shared_buffers {shared_buffers}, catalog index table {size}")
    client = Client()
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    records = in_process(client, args.rounds, args.seed)
    page_all, api_all = print_records(
        f"in process (django.test.Client), {args.rounds} rounds, exact cap {settings.CATALOG_EXACT_CAP}, ms:", records
    )
    key = make_key()

    def local_get(url, key_or_none):
        headers = {"HTTP_AUTHORIZATION": f"Token {key_or_none}"} if key_or_none else {}
        return timed(client, url, **headers)[0]

    api_url = urls(MIX[0][1])[1]
    timed(client, api_url, HTTP_AUTHORIZATION=f"Token {key}")  # its first use records when (a write a minute)
    token_sql, _response = queries_of(client, api_url, HTTP_AUTHORIZATION=f"Token {key}")
    token = {
        "list": token_pairs(local_get, api_url, key, args.pairs),
        "themes": token_pairs(local_get, "/api/v1/themes/", key, args.pairs),
    }
    print_token(
        f"token authentication in process ({token_sql} SQL with the key vs {records['word']['api_sql']} without):",
        token,
    )
    out.update(
        {
            "page_p50_ms": round(page_all["p50"], 1),
            "page_p95_ms": round(page_all["p95"], 1),
            "api_p50_ms": round(api_all["p50"], 1),
            "api_p95_ms": round(api_all["p95"], 1),
            "page_sql_max": max(r["page_sql"] for r in records.values()),
            "api_sql_max": max(r["api_sql"] for r in records.values()),
            "api_sql_with_token": token_sql,
            "token_ms": round(token["list"]["diff_of_medians"], 2),
            "token_paired_ms": round(token["list"]["median_paired_diff"], 2),
            "token_themes_ms": round(token["themes"]["diff_of_medians"], 2),
            "per_kind": {
                kind: {
                    "page_p95": round(summary(r["page"])["p95"], 1),
                    "api_p95": round(summary(r["api"])["p95"], 1),
                    "page_sql": r["page_sql"],
                    "api_sql": r["api_sql"],
                    "total": r["total"],
                }
                for kind, r in records.items()
            },
        }
    )
    if not args.no_http:
        result = over_http(args.rounds, args.seed, key, args.pairs)
        page_http, api_http = print_records(
            "over HTTP (gunicorn, 2 workers × 4 threads; one keep-alive connection), ms seen by the client:",
            result["records"],
            with_sql=False,
        )
        print_token("token authentication over HTTP:", result["token"])
        out.update(
            {
                "http_page_p50_ms": round(page_http["p50"], 1),
                "http_page_p95_ms": round(page_http["p95"], 1),
                "http_api_p50_ms": round(api_http["p50"], 1),
                "http_api_p95_ms": round(api_http["p95"], 1),
                "http_token_ms": round(result["token"]["list"]["diff_of_medians"], 2),
                "http_token_themes_ms": round(result["token"]["themes"]["diff_of_medians"], 2),
            }
        )
    load1 = os.getloadavg()[0]
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["load_avg"] = round(max(load0, load1), 1)
    print(
        f"\nmachine load average {load0:.1f} → {load1:.1f} on {os.cpu_count()} CPUs while measuring "
        "(other work on the machine inflates every figure)"
    )
    verdict = [
        ("API not slower than the page (p95)", out["api_p95_ms"] <= out["page_p95_ms"]),
        # Both estimates of the added cost (difference of the medians, median of the paired differences) under 2 ms.
        ("token authentication < 2 ms", max(out["token_ms"], out["token_paired_ms"]) < 2),
    ]
    if n >= 1_000_000:
        verdict.append(("API p95 < 50 ms at 1M", out["api_p95_ms"] < 50))
    for text, ok in verdict:
        print(f"  {'✓' if ok else '✗'} {text}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated numbers of seeded datasets")
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per kind and side (after a warm-up)")
    parser.add_argument("--pairs", type=int, default=200, help="request pairs (without / with the key) per endpoint")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--files-ratio", type=float, default=0.05, help="datasets with full file reports")
    parser.add_argument("--no-http", action="store_true", help="skip the gunicorn measurements")
    parser.add_argument("--quick", action="store_true", help="few rounds and pairs (a smoke run)")
    parser.add_argument("--force", action="store_true", help="seed even if the bench database holds real datasets")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.pairs = 3, 20
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    search_bench.DB_NAME = DB_NAME
    os.environ["API_RATE_PER_IP"] = os.environ["API_RATE_PER_TOKEN"] = RATE
    url, server = search_bench.database_url()
    try:
        search_bench.create_database(url)
        search_bench.setup_django(url)
        os.environ["DATABASE_URL"] = url  # gunicorn serves the same database
        os.environ["CACHE_KEY_PREFIX"] = "mkt-bench-search"  # and shares the in-process cache's keys
        results = [measure_size(n, args) for n in sizes]
    finally:
        if server is not None:
            server.cleanup()
    biggest = results[-1]
    print(
        json.dumps(
            {
                "bench": "api",
                "sizes": {str(r["n"]): {k: v for k, v in r.items() if k != "n"} for r in results},
                "api_not_slower": all(r["api_p95_ms"] <= r["page_p95_ms"] for r in results),
                "token_under_2ms": all(max(r["token_ms"], r["token_paired_ms"]) < 2 for r in results),
                "api_p95_at_largest_ms": biggest["api_p95_ms"],
                "largest": biggest["n"],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
