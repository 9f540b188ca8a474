"""The query store (catalog.querystore): build time of a sensor table, the engine's page and SQL latencies, the
connection overhead (fresh sandbox vs. the per-process read-only database page() reuses), and the cost of
masking a personal-data column (a DuckDB Python function vs. a Python loop, with and without the SQL prefilter).

    .venv/bin/python bench/querystore.py --rows 2000000 [--mask-rows 1000000] [--repeat 200]

No database or Redis needed (the builder and the engine are given plain inputs). Prints readable figures and ends
with one line of JSON holding the same figures.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

from catalog.ingest.pii import _ANY_SQL, mask_value  # noqa: E402
from catalog.querystore import engine  # noqa: E402
from catalog.querystore.build import StoreBuilder, TableInput  # noqa: E402
from catalog.querystore.engine import Column, Filter, PageSpec, Source  # noqa: E402

FIELDS = [
    {"name": "ts", "type": "datetime", "format": "%Y-%m-%d %H:%M:%S"},
    {"name": "station", "type": "string"},
    *({"name": m, "type": "number"} for m in ("pm10", "pm25", "o3", "no2", "co", "so2")),
    {"name": "lat", "type": "number", "geo": "latitude"},
    {"name": "lon", "type": "number", "geo": "longitude"},
]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def timed(fn, repeat):
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": round(pct(out, 50), 2), "p95_ms": round(pct(out, 95), 2)}


def write_csv(path: Path, rows: int) -> None:
    rnd = random.Random(16)
    stations = [(f"ST{i:03d}", 37.3 + rnd.random() / 5, 126.7 + rnd.random() / 5) for i in range(100)]
    start = dt.datetime(2024, 1, 1)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f["name"] for f in FIELDS])
        for i in range(rows):
            name, lat, lon = stations[i % 100]
            ts = start + dt.timedelta(minutes=(i // 100) * 5)
            w.writerow(
                [ts.strftime("%Y-%m-%d %H:%M:%S"), name]
                + [f"{rnd.random() * 100:.1f}" for _ in range(6)]
                + [f"{lat:.5f}", f"{lon:.5f}"]
            )


def bench_build(rows: int, work: Path) -> tuple[Source, dict]:
    src = work / "sensor.csv"
    t = time.perf_counter()
    write_csv(src, rows)
    gen_s = time.perf_counter() - t
    item = TableInput(1, "sensor.csv", "sensor.csv", "csv", src, "utf-8", ",", FIELDS, [], set(), {})
    t = time.perf_counter()
    builder = StoreBuilder(work / "store.duckdb", work, memory_limit="512MB", threads=2)
    built = builder.load_csv(item, src, delimiter=",", mask=False)
    builder.close()
    build_s = time.perf_counter() - t
    source = Source(
        built.name,
        str(work / "store.duckdb"),
        built.name,
        tuple(Column(c["name"], c["type"]) for c in built.columns),
        built.geometry,
        built.order_key,
    )
    figures = {
        "rows": rows,
        "csv_mb": round(src.stat().st_size / 1e6, 1),
        "store_mb": round((work / "store.duckdb").stat().st_size / 1e6, 1),
        "generate_s": round(gen_s, 1),
        "build_s": round(build_s, 1),
        "build_rows_per_s": int(rows / build_s),
    }
    src.unlink()
    return source, figures


def bench_engine(source: Source, repeat: int) -> dict:
    name = source.name
    out = {}
    page_spec = PageSpec(filters=[Filter("station", "eq", "ST007")], sort=[("ts", True)], limit=100)
    out["page_filtered_sorted_100"] = timed(lambda: engine.page([source], name, page_spec), repeat)
    bbox_spec = PageSpec(bbox=(126.75, 37.35, 126.80, 37.40), limit=100)
    out["page_bbox_100"] = timed(lambda: engine.page([source], name, bbox_spec), repeat)
    first = engine.page([source], name, page_spec)
    deep = PageSpec(page_spec.select, page_spec.filters, None, page_spec.sort, 100, first.next_cursor)
    out["page_next_cursor_100"] = timed(lambda: engine.page([source], name, deep), repeat)

    # Connection overhead: a fresh sandbox (attach + views + lockdown) per call vs. the shared read-only database.
    def fresh():
        con = engine.sandbox([source], memory_limit="256MB", threads=2)
        con.close()

    out["connect_fresh_sandbox"] = timed(fresh, repeat)
    out["connect_shared_cursor"] = timed(
        lambda: engine._shared.cursor(source.store_path, memory_limit="512MB", threads=2).close(), repeat
    )
    sql = f"SELECT * FROM {name} WHERE station = 'ST007' ORDER BY ts DESC LIMIT 100"
    out["sql_page_100"] = timed(
        lambda: engine.run_sql([source], sql, max_rows=1000, timeout=10, memory_limit="512MB"), repeat
    )
    agg = f"SELECT station, date_trunc('day', ts) AS day, avg(pm10), max(pm25), count(*) FROM {name} GROUP BY 1, 2"
    out["sql_aggregate_station_day"] = timed(
        lambda: engine.run_sql([source], agg, max_rows=100000, timeout=60, memory_limit="512MB"), max(3, repeat // 20)
    )
    return out


def bench_mask(rows: int, share: float) -> dict:
    """mask_value over a text column where `share` of the values are phone numbers."""
    import duckdb

    rnd = random.Random(1)
    values = [
        f"010-{rnd.randint(2000, 9999)}-{rnd.randint(1000, 9999)}" if rnd.random() < share else f"민원 {i} 처리"
        for i in range(rows)
    ]
    con = duckdb.connect()
    con.execute("SET threads=2")
    con.execute("CREATE TABLE t AS SELECT unnest(?) AS v", [values])
    con.create_function("m", lambda v: mask_value(v, "연락처"), ["VARCHAR"], "VARCHAR", side_effects=False)
    out = {}
    t = time.perf_counter()
    con.execute("CREATE TABLE a AS SELECT m(v) AS v FROM t")
    out["udf_every_value_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    pattern = "'" + _ANY_SQL.replace("'", "''") + "'"
    con.execute(f"CREATE TABLE b AS SELECT CASE WHEN regexp_matches(v, {pattern}) THEN m(v) ELSE v END AS v FROM t")
    out["regex_prefilter_then_udf_s"] = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    [mask_value(v, "연락처") for v in values]
    out["python_loop_s"] = round(time.perf_counter() - t, 2)
    same = con.execute("SELECT count(*) FROM a, b WHERE a.rowid = b.rowid AND a.v IS DISTINCT FROM b.v").fetchall()
    out["prefilter_differs_rows"] = same[0][0]
    con.close()
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--mask-rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-querystore-"))
    figures = {}
    try:
        source, figures["build"] = bench_build(args.rows, work)
        print("build", figures["build"], flush=True)
        figures["engine"] = bench_engine(source, args.repeat)
        for key, value in figures["engine"].items():
            print(f"{key:32s} p50 {value['p50_ms']:8.2f} ms   p95 {value['p95_ms']:8.2f} ms", flush=True)
        if args.mask_rows:
            for share in (1.0, 0.05):
                figures[f"mask_{int(share * 100)}pct_phones"] = bench_mask(args.mask_rows, share)
                print(
                    f"mask ({int(share * 100)}% phones, {args.mask_rows} rows)",
                    figures[f"mask_{int(share * 100)}pct_phones"],
                    flush=True,
                )
        figures["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print("peak RSS", figures["peak_rss_mb"], "MB")
    finally:
        engine._shared.clear()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
