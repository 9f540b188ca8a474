"""Many users at once: wrk on loopback against the portal in gunicorn, with the anonymous page cache on and off.

    .venv/bin/python bench/load.py [--n 1000000] [--duration 10] [--connections 10,50,200] [--quick]
                                   [--scenarios a,b] [--no-baseline] [--warm-seconds 120] [--workers 2] [--threads 4]

Database: `mkt_bench_search` for a million datasets (`mkt_bench_load_<n>` for another --n), seeded as bench/search.py
does (devtools.seed.catalog; kept between runs; a million datasets take ~25 minutes on 2 cores), and for the download a
small database of its own, `mkt_bench_load_download` (made anew each run: migrated, one published dataset with a small
CSV, a buyer's paid order and its built package).

Processes, as production runs them: the portal in gunicorn (bench/webserver.py: gthread, 2 workers × 4 threads), and
for the whole run a real Celery worker (prefork, concurrency 1) on a queue of the run's own, with the same database,
Redis and settings as the gunicorn. A large search (catalog, /api/v1/datasets/, CKAN package_search) first answers
with estimated counts and asks a worker to count it exactly; the page cache never stores an answer of estimates, so
without a worker those URLs would never be cached. The download's gunicorn (another database) sends its tasks to a
queue no worker reads. The worker and the gunicorns are stopped at the end, on Ctrl-C and on SIGTERM too; what is left
in the run's queues is dropped.

Per mode (page cache on; then the baseline, PAGE_CACHE=0), after a new catalog generation (nothing cached or counted
before), a warm-up of the fixed URLs (all but the never-seen searches and the download), bounded by --warm-seconds:
cache on, each is asked round after round until it answers `X-Page-Cache: hit` (with wrk's Host header: the cache's key
holds the host); a URL that never does is printed with why (its last answer, exact counts still pending in the worker,
…). Cache off, each is asked, the worker's counts are waited for, each is asked again.

Scenarios, each at every connection count for --duration seconds (wrk, 2 threads, keep-alive):
- home: `/`
- catalog-repeat: 20 catalog searches asked over and over (what many visitors ask: hits after the warm-up)
- catalog-unseen: a catalog search never asked before at each request (a wrk Lua script draws one or two Korean
  words of one subject of the seeded vocabulary, often page 1 and sometimes a deeper one, sometimes the subject's
  theme, a sort, sometimes the free filter: a miss nearly every time, and mostly with results). Each large one asks
  the worker for an exact count: the worker's cores in these cells are that work. What it has not counted by the end
  of the scenario is dropped from its queue (printed), so the next scenarios are measured without that backlog.
- dataset: one dataset page
- api-list: /api/v1/datasets/ without a key
- ckan: /api/3/action/package_search?q=미세먼지
- download: a purchased package (a few kB) through its signed download link (never cached; cache-on mode only)
Per cell: requests/s, p50/p95/p99 latency, errors (non-2xx/3xx answers and socket errors: connect, read, write,
timeout), 5xx, cache hits and their share of the requests (`X-Page-Cache: hit`, counted in wrk's response()), the
cores the gunicorn processes, the Celery worker (with its pool child) and wrk used, and the worker's queue length at
the end of the cell. The API's per-address budget (API_RATE_PER_IP) is raised for the run: every request comes from
127.0.0.1. Ends with one line of JSON (per cell as above, with the 4xx among the errors and the bytes per answer;
`warm_up` and `unseen_counts_dropped` per mode).
"""

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  the seeded database and Django set-up
import webserver  # noqa: E402  gunicorn as scripts/stack.py runs it

DOWNLOAD_DB = "mkt_bench_load_download"
REPEATED = [
    {"q": "미세먼지"},
    {"q": "주차장"},
    {"q": "교통량"},
    {"q": "에너지 사용량"},
    {"q": "현황"},
    {"q": "parking"},
    {"theme": "transport"},
    {"theme": "environment", "price": "free"},
    {"q": "미세먼지", "theme": "environment"},
    {"q": "버스"},
    {"sort": "newest"},
    {"sort": "downloads"},
    {"q": "CCTV"},
    {"q": "인구"},
    {"q": "관광"},
    {"q": "미세먼지", "page": 2},
    {"format": "csv"},
    {"q": "소음"},
    {"q": "상수도"},
    {"q": "공공와이파이"},
]
SORTS = ["", "", "newest", "downloads", "title"]

LUA_COMMON = r"""
local threads = {}
function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  n5xx, n4xx, nhit = 0, 0, 0
  math.randomseed(os.time() * 1000 + id * 7919 + math.floor(os.clock() * 1e6))
end
function response(status, headers, body)
  if status >= 500 then n5xx = n5xx + 1 elseif status >= 400 then n4xx = n4xx + 1 end
  if headers["X-Page-Cache"] == "hit" then nhit = nhit + 1 end
end
function done(summary, latency, requests)
  local s5, s4, hits = 0, 0, 0
  for _, t in ipairs(threads) do s5 = s5 + t:get("n5xx"); s4 = s4 + t:get("n4xx"); hits = hits + t:get("nhit") end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,' ..
    '"timeout":%d,"n5xx":%d,"n4xx":%d,"hits":%d,"p50":%.0f,"p95":%.0f,"p99":%.0f,"max":%.0f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    s5, s4, hits, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""

LUA_LIST = r"""
local paths = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""

LUA_UNSEEN = r"""
-- subjects[i] = {theme, word, word, ...}: words of one subject of the seeded vocabulary (URL-encoded)
local subjects = {%s}
local sorts = {%s}
request = function()
  local subject = subjects[math.random(#subjects)]
  local q = subject[math.random(2, #subject)]
  if math.random() < 0.3 then q = q .. "%%20" .. subject[math.random(2, #subject)] end
  local path = "/catalog/?q=" .. q
  local r = math.random()
  if r < 0.25 then path = path .. "&page=" .. math.random(2, 5) elseif r < 0.4 then path = path .. "&page=" .. math.random(6, 20) end
  if math.random() < 0.3 then path = path .. "&theme=" .. subject[1] end
  local sort = sorts[math.random(#sorts)]
  if sort ~= "" then path = path .. "&sort=" .. sort end
  if math.random() < 0.2 then path = path .. "&price=free" end
  return wrk.format("GET", path)
end
"""


def lua_strings(values) -> str:
    return ", ".join(json.dumps(v) for v in values)


def vocabulary() -> list[list[str]]:
    """[theme, word, word, …] per subject of the seeded catalog: its Korean tags and the first word of its title
    (URL-encoded), so that a drawn search is one a visitor would type and mostly finds something."""
    from devtools.seed import vocab

    subjects = []
    for subject in vocab.SUBJECTS:
        words = {tag for tag in subject[4] if any("가" <= ch <= "힣" for ch in tag)}
        words.add(subject[0][0].split()[0])
        subjects.append([subject[2], *(quote(w) for w in sorted(words))])
    return subjects


# --- the download's own small database ----------------------------------------------------------------------------

DOWNLOAD_CHILD = r"""
import json, os, sys
sys.path.insert(0, {root!r})
os.environ["DJANGO_SETTINGS_MODULE"] = "marketplace.settings"
import django
django.setup()
from django.core.management import call_command
from django.core.files.base import ContentFile
call_command("migrate", verbosity=0, interactive=False)
from transactions.models import Package
package = Package.objects.filter(state="ready", entitlement__order_item__order__number="LOAD-1").first()
if package is None or not package.file or not package.file.storage.exists(package.file.name):
    from django.utils import timezone
    from accounts.models import Membership, User
    from catalog.models import DataFile, DatasetVersion, Licence, Theme
    from catalog import services
    from tests.conftest import make_org, make_user
    from transactions.models import Entitlement, Order, OrderItem
    from transactions.tasks import build_package
    from django.core.files.storage import default_storage
    official = User.objects.filter(email="load@siheung.test").first() or make_user("load@siheung.test")
    provider = official.memberships.first().organization if official.memberships.exists() else make_org(
        official, name_ko="부하시험과", name_en="Load", kind="provider", brn="1348310008")
    buyer = User.objects.filter(email="load-buyer@company.test").first() or make_user("load-buyer@company.test")
    company = buyer.memberships.first().organization if buyer.memberships.exists() else make_org(
        buyer, name_ko="(주)부하", name_en="Load Co", kind="consumer", brn="1168200276", role=Membership.Role.OWNER)
    version = services.dataset_create(
        actor=official, organization=provider, title_ko="부하시험 대기질", title_en="Load air quality",
        description_ko="부하시험용 자료", theme=Theme.objects.first(), contact_name="b",
        contact_phone="031-000-0000", contact_email="b@siheung.test", update_cadence="none", data_kind="public",
        licence=Licence.objects.get(code="kogl-1"))
    csv = ("측정소명,미세먼지\n" + "".join(f"정왕동,{{i % 90}}\n" for i in range(200))).encode()
    name = default_storage.save(f"datasets/load/v{{version.pk}}/load.csv", ContentFile(csv))
    import hashlib
    DataFile.objects.create(
        version=version, file=name, original_name="대기질.csv", format="csv", size=len(csv),
        sha256=hashlib.sha256(csv).hexdigest(), check_state=DataFile.Check.PASSED, encoding="utf-8", delimiter=",",
        row_count=200, column_count=2,
        table_schema={{"fields": [{{"name": "측정소명", "type": "string"}}, {{"name": "미세먼지", "type": "integer"}}]}})
    DatasetVersion.objects.filter(pk=version.pk).update(state="published", published_at=timezone.now())
    Order.objects.filter(number="LOAD-1").delete()
    order = Order.objects.create(
        number="LOAD-1", buyer=company, placed_by=buyer, state=Order.State.PAID, method=Order.Method.FREE,
        billing_name="(주)부하", billing_email=buyer.email, paid_at=timezone.now())
    item = OrderItem.objects.create(
        order=order, dataset=version.dataset, version=version, seller=provider, kind="free", title=version.title_ko,
        supply_krw=0, vat_krw=0, total_krw=0, licence=version.licence)
    entitlement = Entitlement.objects.create(
        organization=company, dataset=version.dataset, order_item=item, kind="free", version=version,
        valid_from=timezone.now())
    package = Package.objects.create(entitlement=entitlement, version=version)
    build_package.apply(args=[package.pk]).get()
    package.refresh_from_db()
print(json.dumps({{"package": package.pk, "state": package.state, "size": package.size,
                  "user": package.entitlement.order_item.order.placed_by_id,
                  "organization": package.entitlement.organization_id}}))
"""


def _drop_database(url: str) -> None:
    import psycopg2
    from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

    parts = urlsplit(url)
    conn = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')
    conn.close()


def download_fixture(env: dict) -> dict:
    url = search_bench.database_url(DOWNLOAD_DB)[0]
    _drop_database(url)  # made anew each run: the fixture's orders cannot be deleted (protected by their items)
    search_bench.create_database(url)
    result = subprocess.run(
        [sys.executable, "-c", DOWNLOAD_CHILD.format(root=str(ROOT))],
        env={**env, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if result.returncode:
        raise SystemExit("download fixture failed:\n" + result.stderr[-3000:])
    fixture = json.loads(result.stdout.strip().splitlines()[-1])
    if fixture["state"] != "ready":
        raise SystemExit(f"the download's package is {fixture['state']}")
    fixture["database_url"] = url
    return fixture


# --- measuring ----------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its children (gunicorn's arbiter and workers; Celery's worker and its pool
    children), from /proc: utime + stime of each live one, and the process's cutime + cstime (children it has reaped,
    e.g. a worker gunicorn or the pool replaced)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            if p == pid:
                total += (int(fields[13]) + int(fields[14])) / tick
        except (OSError, IndexError):
            pass
    return total


def postgres_cpu_seconds() -> float:
    """CPU seconds of every process named `postgres` on this machine (the server and its backends: the bench's
    database server runs here; another cluster on the machine would be counted too), from /proc: utime + stime of
    each, and cutime + cstime (the postmaster's: backends it has reaped, e.g. connections closed during a cell)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, rest = (entry / "stat").read_text().partition(") ")
            if head.endswith("(postgres"):
                fields = rest.split()
                total += (int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def idle_seconds() -> float:
    """The machine's idle CPU seconds so far (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return (int(fields[3]) + int(fields[4])) / os.sysconf("SC_CLK_TCK")


def run_wrk(port: int, script: Path, path: str, connections: int, duration: int, threads: int) -> dict:
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(threads, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((li for li in out.stdout.splitlines() if li.startswith("RESULT ")), None)
    if line is None:
        raise SystemExit(f"wrk said: {out.stdout}\n{out.stderr}")
    r = json.loads(line[len("RESULT ") :])
    seconds = r["duration_us"] / 1e6
    socket_errors = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {
        "rps": r["requests"] / seconds,
        "p50_ms": r["p50"] / 1000,
        "p95_ms": r["p95"] / 1000,
        "p99_ms": r["p99"] / 1000,
        "max_ms": r["max"] / 1000,
        "requests": r["requests"],
        "errors": r["status"] + socket_errors,
        "socket_errors": socket_errors,
        "n5xx": r["n5xx"],
        "n4xx": r["n4xx"],  # among the errors: e.g. a 403/404/429 that would otherwise look like a fast answer
        "bytes_per_request": r["bytes"] / max(r["requests"], 1),  # a 302 to a sign-in page is small, not an error
        "hits": r["hits"],
        "hit_share": r["hits"] / max(r["requests"], 1),
        "wrk_cores": (
            after_children.ru_utime + after_children.ru_stime - before_children.ru_utime - before_children.ru_stime
        )
        / wall,
    }


def write_scripts(folder: Path, dataset_path: str, download_path: str | None) -> dict:
    """name → (lua script, path wrk is given)."""
    repeated = ["/catalog/?" + urlencode(p) for p in REPEATED]
    scenarios = {
        "home": [],
        "catalog-repeat": repeated,
        "catalog-unseen": None,
        "dataset": [],
        "api-list": [],
        "ckan": [],
    }
    paths = {
        "home": "/",
        "catalog-repeat": "/catalog/",
        "catalog-unseen": "/catalog/",
        "dataset": dataset_path,
        "api-list": "/api/v1/datasets/",
        "ckan": "/api/3/action/package_search?" + urlencode({"q": "미세먼지"}),
    }
    if download_path:
        scenarios["download"] = []
        paths["download"] = download_path
    scripts = {}
    for name, listed in scenarios.items():
        body = LUA_COMMON
        if listed:
            body += LUA_LIST % lua_strings(listed)
        elif listed is None:
            subjects = ", ".join("{" + lua_strings(words) + "}" for words in vocabulary())
            body += LUA_UNSEEN % (subjects, lua_strings(SORTS))
        script = folder / f"{name}.lua"
        script.write_text(body)
        scripts[name] = (script, paths[name], listed)
    return scripts


# --- the Celery worker's queue and counts -------------------------------------------------------------------------


def queue_length(queue: str) -> int:
    """Tasks waiting in `queue` on the broker (every priority's list)."""
    from marketplace.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel._size(queue)


def purge_queue(queue: str) -> int:
    """Drop the tasks waiting in `queue`; how many there were."""
    from marketplace.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_purge(queue) or 0


def counts_pending() -> int:
    """Exact counts of the current catalog generation that a page asked a worker for (catalog.discovery's
    `<counts key>:queued` mark) and that are not in the cache yet. Best effort: it reads discovery's key names."""
    import redis
    from django.conf import settings
    from django.core.cache import cache

    from catalog.discovery import catalog_generation

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        marks = list(client.scan_iter(cache.make_key(f"catalog:counts:{catalog_generation()}:*:queued"), count=1000))
        return sum(1 for mark in marks if not client.exists(mark[: -len(b":queued")]))
    finally:
        client.close()


def warm_up(port: int, scripts: dict, *, cached: bool, timeout: float, worker, queue: str) -> dict:
    """Bring the fixed URLs (every scenario's but the never-seen searches and the download) to the state visitors
    who ask them over and over find them in, within `timeout` seconds overall.

    Page cache on: ask each, round after round, until it answers `X-Page-Cache: hit`. A large search first answers
    with estimated counts and asks the worker to count it exactly; such an answer is never stored, so a URL becomes
    a hit a few requests after the worker has counted it (one request leaves the cache's marker, the next is stored).
    Page cache off: ask each once, wait until the worker has counted what they asked for, ask each once more.
    Returns what it did and, per URL that never became a hit (or whose counts were not made), why."""
    from django.conf import settings

    # The Host wrk sends (the port too): the page cache's key holds the host, so another Host warms other entries.
    http = webserver.Http(port, headers={"Host": f"127.0.0.1:{port}"}, timeout=300)
    urls = [
        url
        for name, (_script, path, listed) in scripts.items()
        if name not in ("catalog-unseen", "download")
        for url in (listed or [path])
    ]
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = {}
    times = dict.fromkeys(urls, 0)

    def ask(url: str) -> str | None:
        http.request("GET", url, expect=None)
        times[url] += 1
        last[url] = (http.last_status, http.last_headers, len(http.last_body))
        return http.last_headers.get("X-Page-Cache")

    if cached:
        pending = list(urls)
        while pending:
            pending = [url for url in pending if ask(url) != "hit"]
            if not pending or time.monotonic() >= deadline:
                break
            time.sleep(0.25)
    else:
        for url in urls:
            ask(url)
        while (counts_pending() or queue_length(queue)) and time.monotonic() < deadline:
            time.sleep(0.5)
        for url in urls:
            ask(url)
        pending = []
    waiting, queued = counts_pending(), queue_length(queue)
    why = {}
    for url in pending:
        status, headers, size = last[url]
        state = headers.get("X-Page-Cache", "absent")
        if worker.poll() is not None:
            reason = "the Celery worker has exited"
        elif status != 200:
            reason = "only a 200 is stored"
        elif state == "absent":
            reason = "not a page the cache serves or stores (no X-Page-Cache header)"
        elif waiting or queued:
            reason = (
                f"exact counts not made yet ({waiting} asked of the worker and not in the cache, {queued} tasks in "
                "its queue): an answer of estimates is never stored"
            )
        elif times[url] < 3:
            reason = (
                f"asked only {times[url]} times within the bound (a page is stored at its second request made of "
                "exact counts and served from the next)"
            )
        elif size > settings.PAGE_CACHE_MAX_BYTES:
            reason = f"larger than PAGE_CACHE_MAX_BYTES ({settings.PAGE_CACHE_MAX_BYTES:,})"
        else:
            reason = (
                "not stored although no count is pending (a cookie, Cache-Control or the byte budget: "
                "marketplace.page_cache.storable)"
            )
        why[url] = f"last answer {status}, X-Page-Cache {state}, {size:,} bytes: {reason}"
    return {
        "seconds": round(time.monotonic() - t0, 1),
        "requests": sum(times.values()),
        "urls": len(urls),
        "hits": len(urls) - len(pending) if cached else None,
        "counts_pending": waiting,
        "queue": queued,
        "not_hit": why,
    }


def measure(mode: str, scripts: dict, names, connections, duration, wrk_threads, web, dl_web, worker) -> tuple:
    """Every scenario at every connection count; per cell wrk's figures and the cores gunicorn, the Celery worker and
    wrk used. The exact counts the never-seen searches asked for and the worker has not made by the end of that
    scenario are dropped from its queue (nobody asks those searches again), so the next scenarios are measured
    without that backlog. Returns (results, tasks dropped)."""
    results = {}
    dropped = 0
    for name in names:
        script, path, _listed = scripts[name]
        server = dl_web if name == "download" else web
        results[name] = {}
        for c in connections:
            cpu0, worker0 = cpu_seconds(server.pid), cpu_seconds(worker.pid)
            pg0, idle0 = postgres_cpu_seconds(), idle_seconds()
            t0 = time.perf_counter()
            r = run_wrk(server.port, script, path, c, duration, wrk_threads)
            wall = time.perf_counter() - t0
            r["gunicorn_cores"] = (cpu_seconds(server.pid) - cpu0) / wall
            r["worker_cores"] = (cpu_seconds(worker.pid) - worker0) / wall
            r["postgres_cores"] = (postgres_cpu_seconds() - pg0) / wall
            r["idle_cores"] = (idle_seconds() - idle0) / wall
            r["queue"] = queue_length(worker.queue)
            r["load1"] = os.getloadavg()[0]
            results[name][c] = r
            print(
                f"  {mode:9} {name:15} c={c:<4} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:7.1f}  p95 {r['p95_ms']:7.1f}"
                f"  p99 {r['p99_ms']:7.1f} ms  errors {r['errors']:<5} 5xx {r['n5xx']:<4} hits {r['hit_share']:4.0%}"
                f"  cpu gunicorn {r['gunicorn_cores']:.2f} postgres {r['postgres_cores']:.2f} worker {r['worker_cores']:.2f}"
                f" wrk {r['wrk_cores']:.2f} idle {r['idle_cores']:.2f}"
                f"  queue {r['queue']:<4} load {r['load1']:.1f}",
                flush=True,
            )
            if worker.poll() is not None:
                raise SystemExit(
                    "the Celery worker stopped: " + Path(worker.log_file).read_text(errors="replace")[-2000:]
                )
        if name == "catalog-unseen":
            dropped = purge_queue(worker.queue)
            print(f"  (dropped {dropped} exact counts of never-seen searches still queued for the worker)")
    return results, dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="seeded datasets (default 1,000,000)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per scenario and connection count")
    parser.add_argument("--connections", default="10,50,200")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (scripts/stack.py: WEB_WORKERS=2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (scripts/stack.py: 4)")
    parser.add_argument("--scenarios", default="", help="comma-separated subset (default: all)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run with the page cache off")
    parser.add_argument("--quick", action="store_true", help="10,000 datasets, 3 s, 10 and 50 connections")
    parser.add_argument(
        "--lexeme-counts",
        choices=["on", "off"],
        default="on",
        help="on: the daily lexeme counts (catalog.lexemes) are there, counted first when missing; off: none",
    )
    parser.add_argument(
        "--warm-seconds", type=float, default=120, help="the warm-up's bound per mode (until every fixed URL is a hit)"
    )
    args = parser.parse_args()
    if args.quick:
        args.n, args.duration, args.connections = min(args.n, 10_000), 3, "10,50"
    connections = [int(c) for c in args.connections.split(",")]

    # A million: bench/search.py's database (bench/ckan.py seeds the same); another size gets its own, so a quick run
    # never clears the million.
    url, embedded = search_bench.database_url(
        search_bench.DB_NAME if args.n == 1_000_000 else f"mkt_bench_load_{args.n}"
    )
    search_bench.create_database(url)
    search_bench.setup_django(url)
    seeding = search_bench.prepare(args.n, 1, 0.05, False)
    from catalog.discovery import catalog_changed
    from catalog.models import CatalogEntry
    from transactions.delivery import downloads

    entry = CatalogEntry.objects.filter(search_vector__isnull=False).order_by("-download_count").first()
    dataset_path = f"/catalog/datasets/{entry.dataset.slug}/"

    storage = ROOT / "var" / "bench-load" / "private"
    storage.mkdir(parents=True, exist_ok=True)
    queue = f"bench-load-{uuid.uuid4().hex[:8]}"  # the run's own queue: its worker counts for its gunicorn alone
    env = {
        "PRIVATE_STORAGE_ROOT": str(storage),
        "API_RATE_PER_IP": "100000000/minute",  # one client address makes every request
        "DISABLE_RATE_LIMITS": "1",
        "DOWNLOAD_LINK_TTL_SECONDS": "86400",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    # The download's database is another: its tasks go to a queue no worker reads (dropped at the end), never to the
    # worker of the seeded catalog.
    download_env = {**env, "CELERY_TASK_DEFAULT_QUEUE": f"{queue}-download"}
    names = (args.scenarios.split(",") if args.scenarios else []) or [
        "home",
        "catalog-repeat",
        "catalog-unseen",
        "dataset",
        "api-list",
        "ckan",
        "download",
    ]
    download_path = None
    if "download" in names:
        fixture = download_fixture({**os.environ, **download_env})
        token = downloads.sign(
            package_id=fixture["package"], user_id=fixture["user"], organization_id=fixture["organization"], ttl=86400
        )
        download_path = f"/orders/delivery/download/{token}/"
        print(f"download: package {fixture['package']} of {fixture['size']:,} bytes through its signed link")

    gunicorn = f"gunicorn gthread, {args.workers} workers × {args.threads} threads, keep-alive 2 s (gunicorn default)"
    from django.db import connection

    with connection.cursor() as cursor:  # what the database server runs with decides much of a search's cost
        cursor.execute("SELECT current_setting('shared_buffers'), current_setting('server_version')")
        shared_buffers, server_version = cursor.fetchone()
    print(
        f"{args.n:,} datasets; {gunicorn}; wrk {args.wrk_threads} threads, {args.duration} s per run; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; PostgreSQL {server_version}, "
        f"shared_buffers {shared_buffers} (docker-compose.yml: 1GB)"
    )
    print(search_bench.lexeme_counts(args.lexeme_counts))
    modes = [("cache", "1")] + ([] if args.no_baseline else [("no-cache", "0")])
    results, warmed, dropped = {}, {}, {}
    worker = webserver.start_celery_worker(queue, env=env, concurrency=1)
    try:
        ready = webserver.wait_celery_worker(worker)
        print(f"celery worker: prefork, concurrency 1, queue {queue}, pid {worker.pid}, answered after {ready:.1f} s")
        with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
            scripts = write_scripts(Path(folder), dataset_path, download_path)
            for mode, flag in modes:
                catalog_changed()  # a new generation: nothing cached or counted by an earlier run
                mode_env = {**env, "PAGE_CACHE": flag}
                web = webserver.start_gunicorn(
                    webserver.free_port(), env=mode_env, workers=args.workers, threads=args.threads
                )
                dl_web = None
                try:
                    if download_path:
                        dl_web = webserver.start_gunicorn(
                            webserver.free_port(),
                            env={**download_env, "PAGE_CACHE": flag, "DATABASE_URL": fixture["database_url"]},
                            workers=args.workers,
                            threads=args.threads,
                        )
                    print(f"\n{mode}:")
                    warmed[mode] = warm = warm_up(
                        web.port, scripts, cached=flag == "1", timeout=args.warm_seconds, worker=worker, queue=queue
                    )
                    if flag == "1":
                        print(
                            f"  warm-up: {warm['hits']} of {warm['urls']} fixed URLs answer from the page cache after "
                            f"{warm['requests']} requests in {warm['seconds']} s"
                        )
                    else:
                        print(
                            f"  warm-up: {warm['urls']} fixed URLs asked twice, {warm['requests']} requests in "
                            f"{warm['seconds']} s; exact counts still pending: {warm['counts_pending']}"
                        )
                    for url, why in warm["not_hit"].items():
                        print(f"  NOT A HIT: {url}: {why}")
                    if dl_web:
                        webserver.Http(dl_web.port).get(download_path)
                    run_names = [n for n in names if not (mode == "no-cache" and n == "download")]
                    results[mode], dropped[mode] = measure(
                        mode, scripts, run_names, connections, args.duration, args.wrk_threads, web, dl_web, worker
                    )
                finally:
                    webserver.stop(web)
                    if dl_web:
                        webserver.stop(dl_web)
    finally:
        webserver.stop(worker, timeout=60)  # a count it is making is finished first
        left = purge_queue(queue) + purge_queue(f"{queue}-download")
        if left:
            print(f"(dropped {left} tasks left in the run's queues)")
        if embedded:
            embedded.cleanup()

    print("\nsummary (requests/s; p95 ms; errors; share of cache hits; cores of gunicorn / the Celery worker):")
    header = f"  {'scenario':15} {'conns':>5} " + "".join(f"{m:>46}" for m, _ in modes)
    print(header)
    for name in names:
        for c in connections:
            cells = ""
            for mode, _ in modes:
                r = results.get(mode, {}).get(name, {}).get(c)
                cells += (
                    f"{r['rps']:>10.1f} {r['p95_ms']:>9.1f} {r['errors']:>6} {r['hit_share']:>5.0%}"
                    f" {r['gunicorn_cores']:>6.2f} / {r['worker_cores']:<4.2f}"
                    if r
                    else f"{'—':>46}"
                )
            print(f"  {name:15} {c:>5} {cells}")
    if "cache" in results and "no-cache" in results:
        for name in ("home", "catalog-repeat", "dataset", "api-list", "ckan"):
            if name in results["cache"] and name in results["no-cache"]:
                c = 50 if 50 in connections else connections[-1]
                gain = results["cache"][name][c]["rps"] / max(results["no-cache"][name][c]["rps"], 0.001)
                print(f"  gain at {c} connections, {name}: ×{gain:.1f}")
    print(
        json.dumps(
            {
                "bench": "load",
                "n": args.n,
                "duration_s": args.duration,
                "gunicorn": {"workers": args.workers, "threads": args.threads, "worker_class": "gthread"},
                "celery_worker": {"pool": "prefork", "concurrency": 1, "queue": queue},
                "postgres": {"version": server_version, "shared_buffers": shared_buffers},
                "seeding": seeding,
                "warm_up": warmed,
                "unseen_counts_dropped": dropped,
                "results": {
                    mode: {
                        name: {
                            str(c): {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()}
                            for c, r in per.items()
                        }
                        for name, per in by.items()
                    }
                    for mode, by in results.items()
                },
            },
            ensure_ascii=False,
        )
    )


def _terminated(signum, frame):
    raise SystemExit(128 + signum)  # SIGTERM as Ctrl-C: the finally blocks stop gunicorn and the worker


if __name__ == "__main__":
    random.seed(1)
    signal.signal(signal.SIGTERM, _terminated)
    main()
