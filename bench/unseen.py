"""Never-seen catalog searches, in process: the CPU one costs, split into Python and PostgreSQL, query by query.

    .venv/bin/python bench/unseen.py [--n 200] [--seed 1] [--passes 2] [--explain] [--profile 25] [--dump FILE]

Database: bench/search.py's `mkt_bench_search` (a million seeded datasets; never seeded or cleared here: it must
already hold them). Redis: REDIS_URL with bench/search.py's key prefix.

The searches are drawn exactly as bench/load.py's wrk script draws its never-seen ones (one or two Korean words of one
subject of the seeded vocabulary, sometimes a deeper page, the subject's theme, a sort, the free filter), with a
fixed seed, so two runs (before and after a change) ask the same --n URLs. Each pass starts a new catalog generation
(nothing counted or cached: every URL is a page-cache miss and has no exact counts), warms the per-generation key
frequencies once (a server has them after its first search), then asks every URL once through django.test.Client
(the real middleware, view and templates, DEBUG off) and measures per request:

- wall ms; Python CPU ms (time.process_time of this process: Django, templates, the driver's client side);
- PostgreSQL CPU ms (utime + stime of this connection's backend process, from /proc: server-side parse, plan and
  execution, summed over the pass; the kernel counts in ticks of 10 ms, so only sums over many requests mean much);
- SQL statements and their wall ms as the client sees them, grouped by statement kind.

--explain: EXPLAIN (ANALYZE, BUFFERS) of the slowest statement of each kind (planning and execution ms, buffers).
--explain-all: EXPLAIN (ANALYZE) of every statement of the pass, again after it: planning and execution ms summed per
kind (how much of PostgreSQL's part is planning, which a prepared statement would save; the second run reads
warm buffers, so its execution is a lower bound; it runs outside the request's transaction, so a SET LOCAL of the
request, such as the suggestion statement's enable_seqscan, does not hold for it). Plain SELECTs only.
--profile K: a cProfile pass over the URLs; the K functions of most cumulative time (where the Python goes).
The last pass's figures are reported (the first warms the process: imports, templates, reference labels).
Ends with one line of JSON.
"""

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import re
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  the bench database's URL

SORTS = ["", "", "newest", "downloads", "title"]  # bench/load.py's


def draw(subjects, rng: random.Random) -> str:
    """One never-seen search, as bench/load.py's LUA_UNSEEN draws it."""
    subject = subjects[rng.randrange(len(subjects))]
    q = subject[rng.randint(1, len(subject) - 1)]
    if rng.random() < 0.3:
        q = q + "%20" + subject[rng.randint(1, len(subject) - 1)]
    path = "/catalog/?q=" + q
    r = rng.random()
    if r < 0.25:
        path += f"&page={rng.randint(2, 5)}"
    elif r < 0.4:
        path += f"&page={rng.randint(6, 20)}"
    if rng.random() < 0.3:
        path += "&theme=" + subject[0]
    sort = SORTS[rng.randrange(len(SORTS))]
    if sort:
        path += "&sort=" + sort
    if rng.random() < 0.2:
        path += "&price=free"
    return path


def backend_cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


KINDS = [  # (kind, pattern on the statement): what each statement of a catalog request is for
    ("exact figures + page (one statement)", re.compile(r"WITH m AS MATERIALIZED .*UNION ALL\s+SELECT '@'", re.S)),
    ("facet rows (exact)", re.compile(r"WITH m AS MATERIALIZED", re.S)),
    (
        "result lines",
        re.compile(r"SELECT e.dataset_id, d.slug|EXECUTE catalog_result_lines|PREPARE catalog_result_lines"),
    ),
    ("page ids", re.compile(r'^SELECT "catalog_catalogentry"."dataset_id"( AS "pk")? FROM', re.S)),
    ("deep page sample", re.compile(r'^SELECT "catalog_catalogentry"."(download_count|published_at)" FROM', re.S)),
    ("other", re.compile(r".")),
]


def kind_of(sql: str, params) -> str:
    name = next(name for name, pattern in KINDS if pattern.search(sql))
    if name == "facet rows (exact)" and any(isinstance(p, str) and p.startswith("~") for p in params or ()):
        return "sample estimate (facet rows of a sample)"
    if name == "page ids":
        walk = "ts_match_vq" in sql
        return "page ids (walk of a sort index)" if walk else "page ids (through the GIN index)"
    return name


def run_pass(client, urls, backend_pid, capture: bool):
    from django.db import connection

    statements = []

    def wrapper(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements[-1].append((sql, params, (time.perf_counter() - t0) * 1000))

    per_request = []
    collections = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}  # generation: [collections, ms]
    started = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            collections[info["generation"]][0] += 1
            collections[info["generation"]][1] += (time.perf_counter() - started[0]) * 1000

    gc.callbacks.append(on_gc)
    cpu_pg0 = backend_cpu_ms(backend_pid)
    with connection.execute_wrapper(wrapper):
        for url in urls:
            statements.append([])
            w0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url, secure=True)
            cpu = (time.process_time() - c0) * 1000
            wall = (time.perf_counter() - w0) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            if response.headers.get("X-Page-Cache") == "hit":
                raise SystemExit(f"{url} came from the page cache: not a never-seen search")
            sql_ms = sum(ms for _sql, _p, ms in statements[-1])
            per_request.append({"url": url, "wall": wall, "cpu": cpu, "sql": sql_ms, "queries": len(statements[-1])})
    pg_ms = backend_cpu_ms(backend_pid) - cpu_pg0
    gc.callbacks.remove(on_gc)
    return per_request, pg_ms, statements if capture else None, collections


def mean(values):
    return statistics.fmean(values) if values else 0.0


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p / 100))] if values else 0.0


def _explainable(sql: str) -> bool:
    """A plain read, safe to run again for EXPLAIN ANALYZE (a locking or data-changing statement is not)."""
    text = sql.lstrip().upper()
    return text.startswith("SELECT") and " FOR UPDATE" not in text and " FOR SHARE" not in text


def explain(sql, params):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
    top = plan["Plan"]
    return {
        "planning_ms": plan.get("Planning Time", 0.0),
        "execution_ms": plan.get("Execution Time", 0.0),
        "shared_hit": top.get("Shared Hit Blocks", 0),
        "shared_read": top.get("Shared Read Blocks", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="never-seen searches per pass (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--passes", type=int, default=2, help="the last one is reported (default 2)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) the slowest of each kind")
    parser.add_argument(
        "--explain-all", action="store_true", help="planning and execution ms per kind (EXPLAIN ANALYZE of each)"
    )
    parser.add_argument("--dump", help="write each request's URL, figures and statements (kind, ms) to this file")
    parser.add_argument("--profile", type=int, default=0, help="a cProfile pass: the K most expensive functions")
    parser.add_argument(
        "--lexeme-counts",
        choices=["on", "off"],
        default="on",
        help="on: the daily lexeme counts (catalog.lexemes) are there, counted first when missing; off: none (the "
        "samples from the coarsest, as before them)",
    )
    args = parser.parse_args()

    url, embedded = search_bench.database_url()
    if embedded:
        raise SystemExit("needs DATABASE_URL's server with mkt_bench_search (bench/search.py seeds it)")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.pop("DEVTOOLS", None)  # the portal as gunicorn runs it in bench/load.py
    os.environ["CACHE_KEY_PREFIX"] = "mkt-bench-search"
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = "bench-search"
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from load import vocabulary  # bench/load.py's subjects (needs Django: devtools.seed.vocab)

    from catalog import discovery
    from catalog.models import CatalogEntry

    entries = CatalogEntry.objects.count()
    rng = random.Random(args.seed)
    subjects = vocabulary()
    urls = list(dict.fromkeys(draw(subjects, rng) for _ in range(args.n * 2)))[: args.n]
    client = Client()
    connection.ensure_connection()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend_pid = cursor.fetchone()[0]
        cursor.execute("SELECT current_setting('shared_buffers')")
        shared_buffers = cursor.fetchone()[0]
    load = os.getloadavg()
    print(
        f"{entries:,} catalog entries; {len(urls)} never-seen searches (seed {args.seed}), {args.passes} passes; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; shared_buffers {shared_buffers}"
    )

    print(search_bench.lexeme_counts(args.lexeme_counts))

    def fresh():
        discovery.catalog_changed()  # nothing counted, nothing in the page cache
        discovery._key_frequencies()  # a server computes these once per generation

    for p in range(args.passes):
        fresh()
        per_request, pg_ms, statements, collections = run_pass(client, urls, backend_pid, capture=p == args.passes - 1)
    n = len(per_request)
    wall = [r["wall"] for r in per_request]
    cpu = [r["cpu"] for r in per_request]
    sql = [r["sql"] for r in per_request]
    queries = [r["queries"] for r in per_request]
    by_kind: dict[str, list] = {}
    for request_statements in statements:
        for sql_text, params, ms in request_statements:
            by_kind.setdefault(kind_of(sql_text, params), []).append((ms, sql_text, params))
    print(
        f"\nper request (mean over {n}): wall {mean(wall):.1f} ms (p50 {pct(wall, 50):.1f}, p95 {pct(wall, 95):.1f})"
        f"\n  Python CPU   {mean(cpu):6.1f} ms   (this process: Django, templates, driver)"
        f"\n  PostgreSQL   {pg_ms / n:6.1f} ms   CPU of the backend (summed over the pass / {n})"
        f"\n  SQL wall     {mean(sql):6.1f} ms   in {mean(queries):.2f} statements (as the client waits)"
        f"\n  GC             {sum(ms for _n, ms in collections.values()) / n:6.1f} ms   (Python's garbage collector: "
        + ", ".join(f"gen {g} {c} × {ms:.0f} ms" for g, (c, ms) in collections.items())
        + f"; frozen objects {gc.get_freeze_count():,})"
        f"\n  CPU total    {mean(cpu) + pg_ms / n:6.1f} ms   → at most {2000 / (mean(cpu) + pg_ms / n):.0f} req/s on 2 "
        f"idle cores"
    )
    print("\nstatements by kind (per request: mean count, mean ms; slowest):")
    kinds = {}
    for name, rows in sorted(by_kind.items(), key=lambda kv: -sum(r[0] for r in kv[1])):
        ms = [r[0] for r in rows]
        kinds[name] = {"per_request": len(rows) / n, "ms_per_request": sum(ms) / n, "max_ms": max(ms)}
        print(f"  {name:42} {len(rows) / n:5.2f} × → {sum(ms) / n:6.2f} ms/request   slowest {max(ms):7.1f} ms")
    if args.explain:
        print("\nEXPLAIN (ANALYZE, BUFFERS) of the slowest of each kind:")
        for name, rows in by_kind.items():
            ms, sql_text, params = max(rows, key=lambda r: r[0])
            if name == "other":
                continue
            e = explain(sql_text, params)
            kinds[name]["explain"] = e
            print(
                f"  {name:42} planning {e['planning_ms']:6.2f} ms  execution {e['execution_ms']:7.2f} ms  "
                f"buffers hit {e['shared_hit']} read {e['shared_read']}"
            )
    if args.explain_all:
        print("\nplanning and execution, every statement explained again after the pass (ms per request):")
        split = {}
        for name, rows in by_kind.items():
            plans = [explain(sql_text, params) for _ms, sql_text, params in rows if _explainable(sql_text)]
            planning = sum(e["planning_ms"] for e in plans) / n
            execution = sum(e["execution_ms"] for e in plans) / n
            split[name] = {"planning_ms": round(planning, 3), "execution_ms": round(execution, 3)}
            print(f"  {name:42} planning {planning:6.2f}  execution {execution:6.2f}")
        planning = sum(v["planning_ms"] for v in split.values())
        execution = sum(v["execution_ms"] for v in split.values())
        print(f"  {'all':42} planning {planning:6.2f}  execution {execution:6.2f}")
        kinds["_planning_execution"] = split
    if args.dump:
        with open(args.dump, "w") as out:
            for r, request_statements in zip(per_request, statements):
                kinds_ms = [(kind_of(sql_text, params), round(ms, 2)) for sql_text, params, ms in request_statements]
                out.write(json.dumps({**r, "statements": kinds_ms}, ensure_ascii=False) + "\n")
    slow = sorted(per_request, key=lambda r: -r["wall"])[:5]
    print("\nslowest requests:")
    for r in slow:
        print(
            f"  {r['wall']:7.1f} ms (cpu {r['cpu']:5.1f}, sql {r['sql']:6.1f} in {r['queries']})  {unquote(r['url'])}"
        )
    if args.profile:
        fresh()
        profiler = cProfile.Profile()
        profiler.enable()
        for url in urls:
            client.get(url, secure=True)
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):  # the whole profile, for pstats or snakeviz
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(args.profile)
        if os.environ.get("PROFILE_CALLERS"):
            stats.print_callers(os.environ["PROFILE_CALLERS"])
        print("\ncProfile, cumulative (all requests of one pass):")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-6000:])
    print(
        json.dumps(
            {
                "bench": "unseen",
                "entries": entries,
                "shared_buffers": shared_buffers,
                "requests": n,
                "seed": args.seed,
                "load1": round(load[0], 2),
                "wall_ms": round(mean(wall), 2),
                "wall_p95_ms": round(pct(wall, 95), 2),
                "python_cpu_ms": round(mean(cpu), 2),
                "pg_cpu_ms": round(pg_ms / n, 2),
                "gc_ms": round(sum(ms for _n, ms in collections.values()) / n, 2),
                "sql_wall_ms": round(mean(sql), 2),
                "statements": round(mean(queries), 2),
                "kinds": {
                    k: {kk: (round(vv, 2) if isinstance(vv, float) else vv) for kk, vv in v.items()}
                    for k, v in kinds.items()
                },
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
