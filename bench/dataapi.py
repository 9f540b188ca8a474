"""The data API over a 10,000,000-row sensor table: the query store, SQL, live appends and metering, in process and
over HTTP, beside a naive baseline measured in the same run.

    .venv/bin/python bench/dataapi.py [--rows 10000000] [--rounds 30] [--append-seconds 10] [--no-http] [--no-baseline]

What it does, in its own database (`mkt_bench_dataapi` on the server of DATABASE_URL, or BENCH_DATABASE_URL; made afresh
each run):

1. Generates a sensor CSV with DuckDB (timestamp, station, 6 measures, latitude, longitude; `--rows` rows, ~75 bytes
   a row), and takes it through the portal's real path: upload (streamed), the automatic checks (in process),
   offer, submission, approval. The query stores are then built by `query_stores_build` in a child process (as the
   Celery worker runs it), whose peak RSS is the worker's figure.
2. In process (the engine as the API calls it): a filtered, sorted page of 100 rows (`station = X ORDER BY ts DESC`),
   its next page by cursor, a bounding-box page, SQL on the sample, and an aggregation over the whole table by
   station and day through SQL. Baseline: the same filter and sort by reading the CSV with Python's csv module.
3. Metering: admit() + finish() on the real Redis per call, against the same request without them.
4. Over HTTP (unless --no-http): the portal in gunicorn (bench/webserver.py), an API key with the `data` scope, the
   same requests as 2 through `/api/v1/data/…`, then sustained live appends (`POST …/live/<table>/rows`, batches of
   100 rows from 4 threads for --append-seconds) while a reader polls `?since=` and records how long each appended
   row took to become visible. Peak RSS of gunicorn (arbiter + workers).

Ends with one line of JSON.
"""

import argparse
import csv
import heapq
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  (bench/search.py: database helpers, percentiles)
import webserver  # noqa: E402  (bench/webserver.py: gunicorn and a timing client)

DB_NAME = "mkt_bench_dataapi"
STATIONS = 50
TARGET = "ST007"
BBOX = (126.74, 37.36, 126.76, 37.37)  # minLon, minLat, maxLon, maxLat
OFFICIAL = "bench-data@siheung.test"
ADMIN = "bench-data-admin@siheung.test"
QUOTA = "1000000000"  # the bench measures speed, not the allowance: lift it (it still counts every call)


def summary(ms):
    return {k: round(v, 2) for k, v in search_bench.summary(ms).items() if k != "n"}


def line(label, ms, extra=""):
    s = search_bench.summary(ms)
    print(f"  {label:46s} p50 {s['p50']:8.1f}  p95 {s['p95']:8.1f}  max {s['max']:8.1f} ms{extra}")


# --- data ------------------------------------------------------------------------------------------------------


def generate_csv(path: Path, rows: int) -> float:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads={os.cpu_count() or 2}")
    con.execute(
        f"""COPY (
          SELECT strftime(TIMESTAMP '2024-01-01' + to_minutes(((i // {STATIONS}) * 5)::BIGINT), '%Y-%m-%d %H:%M') AS 측정일시,
                 'ST' || lpad((i % {STATIONS})::VARCHAR, 3, '0') AS 측정소,
                 round(10 + random() * 140, 1) AS PM10, round(5 + random() * 75, 1) AS PM25,
                 round(random() * 0.1, 3) AS O3, round(random() * 0.06, 3) AS NO2,
                 round(random() * 1.5, 2) AS CO, round(random() * 0.02, 4) AS SO2,
                 round(37.33 + (i % {STATIONS}) * 0.001, 6) AS 위도, round(126.70 + (i % {STATIONS}) * 0.002, 6) AS 경도
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()
    return time.perf_counter() - t0


def naive_filter(path: Path, station: str, limit: int = 100) -> tuple[float, int]:
    """The baseline: Python's csv module over the whole file, the same filter, the latest `limit` by time."""
    t0 = time.perf_counter()
    top: list = []
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            if row[1] == station:
                if len(top) < limit:
                    heapq.heappush(top, (row[0], row))
                elif row[0] > top[0][0]:
                    heapq.heapreplace(top, (row[0], row))
    return (time.perf_counter() - t0) * 1000, len(top)


def publish(path: Path) -> dict:
    """The CSV through the real services: upload (streamed), checks, offer, submit, approve."""
    from catalog import services as catalog_services
    from catalog.models import DataFile, Licence, Theme
    from catalog.reference_data import ensure_reference_data
    from catalog.tasks import datafile_check_task
    from tests.conftest import make_org, make_user

    ensure_reference_data()
    official = make_user(OFFICIAL, name="벤치 담당자")
    make_org(official, name_ko="벤치환경과", name_en="Bench Environment", kind="provider", brn="1348310008")
    admin = make_user(ADMIN, name="벤치 관리자", staff=True)
    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="벤치 대기질 측정 자료",
        title_en="Bench air quality",
        description_ko="벤치마크용 센서 자료",
        theme=Theme.objects.get(code="environment"),
        contact_name="b",
        contact_phone="031-000-0000",
        contact_email=OFFICIAL,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    figures = {}
    t0 = time.perf_counter()
    size = path.stat().st_size
    up = catalog_services.upload_create(actor=official, version=version, filename="sensors.csv", length=size)
    with open(path, "rb") as fh:
        catalog_services.upload_append(actor=official, upload=up, offset=0, stream=fh)
    figures["upload_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    figures["checks_s"] = round(time.perf_counter() - t0, 1)
    catalog_services.offer_create(actor=official, dataset=version.dataset, kind="free")
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin, version=version)
    figures["version_id"] = version.pk
    figures["slug"] = version.dataset.slug
    return figures


def build_in_child(version_id: int) -> dict:
    """query_stores_build in a child process, as the worker runs it: wall time and the child's peak RSS."""
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'marketplace.settings'); django.setup();"
        "from catalog.querystore.services import query_stores_build;"
        f"print(query_stores_build(version_id={version_id}))"
    )
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=os.environ, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit("store build failed: " + out.stderr[-3000:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"build_s": round(wall, 1), "worker_rss_mb": round(max(peak, before) / 1024), "result": out.stdout.strip()}


# --- in process ------------------------------------------------------------------------------------------------


def in_process(version_id: int, rounds: int) -> dict:
    from django.conf import settings
    from django.http import QueryDict

    from catalog.models import DatasetVersion
    from catalog.querystore import engine, selectors
    from catalog.querystore.params import parse_page_params

    version = DatasetVersion.objects.get(pk=version_id)
    full = selectors.sources_for_version(version, "full")
    sample = selectors.sources_for_version(version, "sample")
    table = full[0]
    names = [c.name for c in table.columns]
    ts_col, station_col, pm_col, lat_col, lon_col = names[0], names[1], names[2], names[8], names[9]

    def spec(query: str):
        return parse_page_params(QueryDict(query), table.columns, table.geometry)

    filtered = spec(f"{station_col}={TARGET}&order=-{ts_col}&limit=100")
    bbox = spec("bbox=" + ",".join(str(x) for x in BBOX) + f"&order={ts_col}&limit=100")
    results = {"page": [], "next_page": [], "bbox": [], "sql_sample": [], "aggregate": []}
    first = engine.page(full, table.name, filtered)  # warm (the shared read-only database opens)
    assert len(first.rows) == 100, len(first.rows)
    cursor_spec = spec(f"{station_col}={TARGET}&order=-{ts_col}&limit=100&cursor={first.next_cursor}")
    sql_sample = f'SELECT "{station_col}", avg("{pm_col}") FROM {table.name} GROUP BY 1 ORDER BY 2 DESC'
    aggregate = (
        f'SELECT "{station_col}", date_trunc(\'day\', "{ts_col}") AS day, avg("{pm_col}") AS pm10, count(*) AS n '
        f"FROM {table.name} GROUP BY ALL"
    )
    kw = {
        "max_rows": settings.DATA_SQL_MAX_ROWS,
        "timeout": settings.DATA_SQL_TIMEOUT_SECONDS,
        "memory_limit": settings.DATA_SQL_MEMORY_LIMIT,
    }
    agg_rows = 0
    for i in range(rounds):
        for key, fn in (
            ("page", lambda: engine.page(full, table.name, filtered)),
            ("next_page", lambda: engine.page(full, table.name, cursor_spec)),
            ("bbox", lambda: engine.page(full, table.name, bbox)),
            ("sql_sample", lambda: engine.run_sql(sample, sql_sample, **kw)),
        ):
            t0 = time.perf_counter()
            fn()
            results[key].append((time.perf_counter() - t0) * 1000)
        if i < max(3, rounds // 5):
            t0 = time.perf_counter()
            result = engine.run_sql(full, aggregate, **{**kw, "max_rows": 1_000_000})
            results["aggregate"].append((time.perf_counter() - t0) * 1000)
            agg_rows = result.row_count
    return {
        "records": results,
        "aggregate_rows": agg_rows,
        "columns": (ts_col, station_col, pm_col, lat_col, lon_col),
        "table": table.name,
    }


def metering_overhead(rounds: int) -> dict:
    """admit() + finish() per call on the real Redis, for an anonymous caller and for an organization."""
    from django.test import RequestFactory

    from accounts.models import Organization
    from catalog.models import Dataset
    from transactions.dataapi import access, metering

    dataset = Dataset.objects.order_by("pk").first()
    org = Organization.objects.order_by("pk").first()
    request = RequestFactory().get("/api/v1/data/x/latest/t", REMOTE_ADDR="10.1.2.3")
    anon = access.DataAccess(full=False, live=False, organization=None, entitlement=None, plan=None, why_not="")
    member = access.DataAccess(full=True, live=True, organization=org, entitlement=None, plan=None, why_not="")
    out = {}
    for label, acc in (("anonymous", anon), ("organization", member)):
        ms = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            grant = metering.admit(request=request, access=acc, dataset=dataset)
            metering.finish(grant, dataset_id=dataset.pk, table="t", status=200, nbytes=1234)
            metering.rate_headers(grant)
            ms.append((time.perf_counter() - t0) * 1000)
        out[label] = ms
    return out


# --- over HTTP -------------------------------------------------------------------------------------------------


def make_key(email: str, scopes) -> str:
    from accounts.models import User
    from accounts.services import api_token_create

    user = User.objects.get(email=email)
    _token, key = api_token_create(
        actor=user, organization=user.active_organization, name=f"bench {uuid.uuid4().hex[:6]}", scopes=scopes
    )
    return key


def over_http(figures: dict, proc: dict, rounds: int, append_seconds: float) -> dict:
    from urllib.parse import quote

    from accounts.models import User
    from catalog.live import services as live_services
    from catalog.models import DataFile, Dataset

    slug, table = figures["slug"], proc["table"]
    ts_col, station_col, pm_col, _lat, _lon = proc["columns"]
    key = make_key(OFFICIAL, ["data", "publish", "read"])
    base = f"/api/v1/data/{slug}/latest/{table}"
    q = quote
    urls = {
        "page": f"{base}?{q(station_col)}={TARGET}&order=-{q(ts_col)}&limit=100",
        "bbox": f"{base}?bbox={','.join(str(x) for x in BBOX)}&order={q(ts_col)}&limit=100",
        "page_csv": f"{base}?{q(station_col)}={TARGET}&order=-{q(ts_col)}&limit=100&format=csv",
    }
    port = webserver.free_port()
    web = webserver.start_gunicorn(
        port,
        env={
            "DATA_API_DEFAULT_DAILY_QUOTA": QUOTA,
            "API_RATE_PER_IP": "100000000/minute",
            "API_RATE_PER_TOKEN": "100000000/minute",
        },
    )
    out = {"records": {k: [] for k in (*urls, "sql_sample", "aggregate")}}
    try:
        client = webserver.Http(port, headers={"Authorization": f"Token {key}"})
        for url in urls.values():
            client.get(url)
            client.get(url)
        sql_body = lambda sql, sample: json.dumps({"sql": sql, "sample": sample}).encode()  # noqa: E731
        sql_sample = f'SELECT "{station_col}", avg("{pm_col}") FROM {table} GROUP BY 1 ORDER BY 2 DESC'
        aggregate = (
            f'SELECT "{station_col}", date_trunc(\'day\', "{ts_col}") AS day, avg("{pm_col}") AS pm10, count(*) AS n '
            f"FROM {table} GROUP BY ALL"
        )
        jh = {"Content-Type": "application/json"}
        for i in range(rounds):
            for label, url in urls.items():
                out["records"][label].append(client.get(url))
            out["records"]["sql_sample"].append(
                client.request("POST", f"/api/v1/data/{slug}/sql", body=sql_body(sql_sample, True), headers=jh)
            )
            if i < max(3, rounds // 5):
                out["records"]["aggregate"].append(
                    client.request("POST", f"/api/v1/data/{slug}/sql", body=sql_body(aggregate, False), headers=jh)
                )
        out["rate_headers"] = {k: v for k, v in client.last_headers.items() if k.lower().startswith("x-ratelimit")}
        # Live: make the table live, then append while a reader polls since=.
        official = User.objects.get(email=OFFICIAL)
        dataset = Dataset.objects.get(slug=slug)
        datafile = DataFile.objects.filter(version_id=figures["version_id"]).order_by("pk").first()
        live = live_services.live_table_enable(actor=official, dataset=dataset, datafile=datafile, cadence="daily")
        out["live"] = live_appends(port, key, slug, live.name, proc["columns"], append_seconds)
        out["web_rss_mb"] = round(webserver.rss_kb(web.pid) / 1024)
    finally:
        webserver.stop(web)
    return out


def live_appends(port: int, key: str, slug: str, name: str, columns, seconds: float) -> dict:
    """4 writer threads post batches of 100 rows for `seconds`; a reader polls ?since= every 50 ms and notes, for
    each batch, the time from the writer's 2xx to the reader seeing its last row."""
    ts_col, station_col, *_ = columns
    acked: dict[int, float] = {}  # batch number → time acknowledged
    seen_at: dict[int, float] = {}
    stop = threading.Event()
    lock = threading.Lock()
    counter = iter(range(10**9))
    sent_rows = [0]
    errors = []

    def row(batch: int, i: int) -> dict:
        return {
            ts_col: f"2030-01-01 00:{i % 60:02d}",
            station_col: f"B{batch:07d}",
            "PM10": 42.0,
            "PM25": 21.0,
            "O3": 0.03,
            "NO2": 0.02,
            "CO": 0.4,
            "SO2": 0.003,
            "위도": 37.34,
            "경도": 126.73,
        }

    def writer():
        client = webserver.Http(port, headers={"Authorization": f"Token {key}", "Content-Type": "application/json"})
        while not stop.is_set():
            with lock:
                batch = next(counter)
            body = json.dumps({"rows": [row(batch, i) for i in range(100)]}).encode()
            try:
                client.request(
                    "POST",
                    f"/api/v1/provider/datasets/{slug}/live/{name}/rows",
                    body=body,
                    headers={"Idempotency-Key": f"bench-{batch}"},
                    expect=None,
                )
            except Exception as exc:  # noqa: BLE001 (reported, not raised: the reader must stop too)
                errors.append(repr(exc))
                return
            if client.last_status not in (200, 201):
                errors.append(f"{client.last_status}: {client.last_body[:200]!r}")
                return
            with lock:
                acked[batch] = time.perf_counter()
                sent_rows[0] += 100

    def reader():
        client = webserver.Http(port, headers={"Authorization": f"Token {key}"})
        since = 0
        while not stop.is_set() or len(seen_at) < len(acked):
            client.get(f"/api/v1/data/{slug}/live/{name}?since={since}&limit=1000")
            now = time.perf_counter()
            data = json.loads(client.last_body)
            for r in data["rows"]:
                station = r.get(station_col) or ""
                if station.startswith("B"):
                    seen_at.setdefault(int(station[1:]), now)
            since = data["next_since"]
            if stop.is_set() and time.perf_counter() - stop_time[0] > 10:
                break
            time.sleep(0.05)

    stop_time = [0.0]
    threads = [threading.Thread(target=writer) for _ in range(4)]
    read = threading.Thread(target=reader)
    t0 = time.perf_counter()
    read.start()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    stop_time[0] = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    read.join(30)
    lags = [(seen_at[b] - acked[b]) * 1000 for b in acked if b in seen_at]
    return {
        "rows": sent_rows[0],
        "rows_per_s": round(sent_rows[0] / elapsed),
        "batches": len(acked),
        "seen": len(lags),
        "lag_ms": lags,
        "errors": errors[:3],
    }


# --- main ------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--append-seconds", type=float, default=10.0)
    parser.add_argument("--no-http", action="store_true")
    parser.add_argument("--no-baseline", action="store_true", help="skip the csv-module baseline")
    args = parser.parse_args()

    url, server = search_bench.database_url()
    if not os.environ.get("BENCH_DATABASE_URL"):
        from urllib.parse import urlsplit, urlunsplit

        url = urlunsplit(urlsplit(url)._replace(path="/" + DB_NAME))
    _recreate(url)
    settings = search_bench.setup_django(url)
    os.environ["DATA_API_DEFAULT_DAILY_QUOTA"] = QUOTA
    settings.DATA_API_DEFAULT_DAILY_QUOTA = int(QUOTA)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    load0 = os.getloadavg()[0]
    out: dict = {"bench": "dataapi", "rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="bench-dataapi-") as tmp:
        path = Path(tmp) / "sensors.csv"
        gen_s = generate_csv(path, args.rows)
        out["csv_mb"] = round(path.stat().st_size / 1e6)
        print(f"generated {args.rows:,} rows, {out['csv_mb']:,} MB of CSV in {gen_s:.1f} s")
        figures = publish(path)
        print(f"upload {figures['upload_s']} s, automatic checks {figures['checks_s']} s")
        built = build_in_child(figures["version_id"])
        out.update(
            {k: figures[k] for k in ("upload_s", "checks_s")}, **{k: built[k] for k in ("build_s", "worker_rss_mb")}
        )
        print(
            f"query stores built in {built['build_s']} s ({args.rows / built['build_s']:,.0f} rows/s), "
            f"worker peak RSS {built['worker_rss_mb']} MB: {built['result']}"
        )
        if not args.no_baseline:
            naive_ms, found = naive_filter(path, TARGET)
            out["naive_csv_ms"] = round(naive_ms)
            print(f"baseline: Python csv module, same filter and sort over the CSV: {naive_ms:,.0f} ms ({found} rows)")
    proc = in_process(figures["version_id"], args.rounds)
    print("\nin process (the engine as the API calls it), ms:")
    for key, ms in proc["records"].items():
        line(key, ms)
        out[f"inproc_{key}"] = summary(ms)
    print(f"  (the aggregation returns {proc['aggregate_rows']:,} station-days)")
    meter = metering_overhead(max(200, args.rounds * 10))
    print("\nmetering, admit() + finish() on the real Redis per call:")
    for label, ms in meter.items():
        line(label, ms)
        out[f"metering_{label}"] = summary(ms)
    if not args.no_http:
        http = over_http(figures, proc, args.rounds, args.append_seconds)
        print("\nover HTTP (gunicorn 2 workers × 4 threads, one keep-alive connection, an API key), ms:")
        for key, ms in http["records"].items():
            line(key, ms)
            out[f"http_{key}"] = summary(ms)
        print(f"  rate headers: {http.get('rate_headers')}")
        live = http["live"]
        print(
            f"\nlive appends: {live['rows']:,} rows in batches of 100 from 4 threads, {live['rows_per_s']:,} rows/s; "
            f"{live['seen']}/{live['batches']} batches seen by a since= reader"
        )
        if live["lag_ms"]:
            line("append → visible to a reader", live["lag_ms"])
        if live["errors"]:
            print("  errors:", live["errors"])
        out["live_rows_per_s"] = live["rows_per_s"]
        out["live_lag"] = summary(live["lag_ms"]) if live["lag_ms"] else None
        out["web_rss_mb"] = http["web_rss_mb"]
        print(f"web (gunicorn arbiter + workers) peak RSS {http['web_rss_mb']} MB")
    load1 = os.getloadavg()[0]
    out["load_avg"] = round(load1, 1)
    checks = {
        "page_p95_under_50ms": out["inproc_page"]["p95"] < 50,
        "sql_sample_p95_under_100ms": out["inproc_sql_sample"]["p95"] < 100,
        "aggregate_under_2s": out["inproc_aggregate"]["max"] < 2000,
        "metering_under_2ms": out["metering_organization"]["p50"] < 2,
    }
    if "http_page" in out:
        checks["http_page_p95_under_50ms"] = out["http_page"]["p95"] < 50
    if out.get("live_lag"):
        checks["appends_1000_rows_s"] = out["live_rows_per_s"] >= 1000
        checks["append_visible_p95_under_2s"] = out["live_lag"]["p95"] < 2000
    print(f"\nmachine load average {load0:.1f} → {load1:.1f} on {os.cpu_count()} CPUs while measuring")
    for name, ok in checks.items():
        print(f"  {'✓' if ok else '✗'} {name}")
    out["checks"] = checks
    print(json.dumps(out, ensure_ascii=False))


def _recreate(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    import psycopg2
    from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    conn.close()


if __name__ == "__main__":
    main()
