"""Soak: N minutes of mixed traffic through the real stack; is the memory of every process flat, does the queue drain?

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/soak.py [--minutes 30] [--browsers 3] [--sample 30]

1. A throw-away database `<DATABASE_URL's name>_soak` (dropped and made again, migrated), a provider department, a
   buyer company and a platform admin, each with an API key (publish / buy+read / admin).
2. The portal in gunicorn (bench/webserver.py: 2 workers x 4 threads), a real Celery worker (prefork, concurrency 2)
   and a real beat, as subprocesses, on a queue of this run; private files and staging in a temporary folder.
3. For --minutes: one "journey" client, in a loop, does what a provider, a reviewer and a buyer do through the API:
   create a dataset, upload a CSV by tus (two PATCHes), wait for the worker's check, licence, a free offer, submit,
   approve, then the buyer takes it (cart, checkout), waits for the worker's package, gets a download link and
   downloads it (SHA-256 checked against the package's). --browsers anonymous clients read the home page, catalog
   searches (a mix of repeated and never-seen words), dataset pages, the API's dataset list and /healthz.
4. Every --sample seconds: the RSS (VmRSS) of every process (gunicorn's arbiter and workers, the Celery worker and
   its pool children, beat) and the length of the Celery queue in Redis.

Prints start / end / peak RSS per process, growth per 10 minutes (least squares over the samples after the warm-up:
the first quarter, at least 2 minutes), the queue trend, request counts, errors and latencies, then one JSON line.
Exit 1 when a process grows more than --max-growth-mib (default 20) per 10 minutes after the warm-up, when the
queue grows steadily (each third of the run longer on average than the one before, ending above 20), or on errors.
"""

import argparse
import base64
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.webserver import free_port, start_celery_worker, start_gunicorn, stop  # noqa: E402

WORDS = ["대기질", "미세먼지", "교통", "버스", "주차", "인구", "air", "bus", "정왕동", "환경", "안전", "복지"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--browsers", type=int, default=3, help="anonymous reading clients")
    p.add_argument("--sample", type=float, default=30.0, help="seconds between RSS / queue samples")
    p.add_argument("--rows", type=int, default=2000, help="rows of each uploaded CSV")
    p.add_argument("--max-growth-mib", type=float, default=20.0, help="per process, per 10 minutes, after warm-up")
    return p.parse_args()


# --- database and seed ------------------------------------------------------------------------------


def soak_database_url() -> str:
    url = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/marketplace"))
    return urlunsplit(url._replace(path="/" + quote(url.path.lstrip("/") + "_soak")))


def recreate_database(url: str) -> None:
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(urlunsplit(parts._replace(path="/postgres")))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def seed() -> dict:
    """Users, organizations and API keys (the services' own key maker); runs in this process against the soak DB."""
    import django

    django.setup()
    from accounts.services import api_token_create
    from tests.conftest import make_org, make_user  # the same personas the tests use

    admin = make_user("admin@soak.test", staff=True)
    official = make_user("official@soak.test")
    make_org(official, name_ko="환경정책과", name_en="Environment", kind="provider", brn="1348310008")
    buyer = make_user("buyer@soak.test")
    make_org(buyer, name_ko="(주)소크", name_en="Soak Inc.", kind="consumer", brn="1168200276")

    def key(user, scopes):
        return api_token_create(
            actor=user, organization=user.active_organization, name="soak", scopes=scopes, expires_in_days=None
        )[1]

    return {
        "publish": key(official, ["read", "publish"]),
        "buy": key(buyer, ["read", "buy"]),
        "admin": key(admin, ["read", "admin"]),
    }


# --- processes and their memory --------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def vm_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def process_tree(roots: dict[str, int]) -> dict[str, int]:
    """label → pid for every process of the stack: each root and its children (gunicorn workers, pool children)."""
    found = {}
    for label, pid in roots.items():
        found[label] = pid
        for i, child in enumerate(sorted(children(pid)), 1):
            found[f"{label}/child{i}:{child}"] = child
    return found


def slope_per_10min(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den * 600


# --- traffic ----------------------------------------------------------------------------------------------


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = Counter()
        self.errors = Counter()
        self.ms = defaultdict(list)
        self.error_samples = []

    def record(self, kind: str, ms: float, ok: bool, detail: str = ""):
        with self.lock:
            self.counts[kind] += 1
            self.ms[kind].append(ms)
            if not ok:
                self.errors[kind] += 1
                if len(self.error_samples) < 10:
                    self.error_samples.append(f"{kind}: {detail[:200]}")


def timed(stats: Stats, kind: str, client, method: str, url: str, expect=(200,), **kwargs):
    t0 = time.perf_counter()
    try:
        response = client.request(method, url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a failed request is counted, not fatal
        stats.record(kind, (time.perf_counter() - t0) * 1000, False, f"{type(exc).__name__}: {exc}")
        return None
    ok = response.status_code in expect
    stats.record(kind, (time.perf_counter() - t0) * 1000, ok, f"{response.status_code} {response.text[:150]}")
    return response if ok else None


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def wait_until(fn, timeout: float, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(every)
    return None


def journey(base: str, keys: dict, stats: Stats, stop_at: float, rows: int, slugs: list, n: int) -> bool:
    """One dataset from creation to a verified download. Returns True when the whole journey succeeded."""
    import httpx

    provider = httpx.Client(base_url=base, headers={"Authorization": f"Token {keys['publish']}"}, timeout=120)
    admin = httpx.Client(base_url=base, headers={"Authorization": f"Token {keys['admin']}"}, timeout=120)
    buyer = httpx.Client(base_url=base, headers={"Authorization": f"Token {keys['buy']}"}, timeout=120)
    try:
        created = timed(stats, "dataset_create", provider, "POST", "/api/v1/provider/datasets/", expect=(201,), json={
            "title_ko": f"소크 대기질 {n} {uuid.uuid4().hex[:6]}", "title_en": f"Soak air {n}",
            "description_ko": "소크 시험용 시간별 미세먼지 자료입니다.", "theme": "environment",
            "tags": ["미세먼지"], "contact_name": "정민준", "contact_phone": "031-310-2114",
            "contact_email": "official@soak.test", "update_cadence": "monthly", "data_kind": "public",
        })  # fmt: skip
        if created is None:
            return False
        dataset = created.json()
        version = dataset["open_version"]["id"]
        rng = random.Random(n)
        body = ("측정소명,측정일시,미세먼지\n" + "".join(
            f"정왕동,2024-06-{1 + i % 28:02d} {i % 24:02d}:00,{rng.randint(0, 300)}\n" for i in range(rows)
        )).encode()  # fmt: skip
        tus = {"Tus-Resumable": "1.0.0"}
        made = timed(stats, "tus_create", provider, "POST", "/catalog/uploads/", expect=(201,), headers={
            **tus, "Upload-Length": str(len(body)), "Upload-Metadata": f"filename {b64('대기질.csv')},version {b64(str(version))}",
        })  # fmt: skip
        if made is None:
            return False
        location = made.headers["Location"]
        half = len(body) // 2
        for start, end in ((0, half), (half, len(body))):
            patched = timed(stats, "tus_patch", provider, "PATCH", location, expect=(204,), content=body[start:end],
                            headers={**tus, "Upload-Offset": str(start),
                                     "Content-Type": "application/offset+octet-stream"})  # fmt: skip
            if patched is None:
                return False
        file_id = patched.headers["Data-File-Id"]

        def checked():
            r = timed(stats, "check_poll", provider, "GET", f"/api/v1/provider/versions/{version}/files/{file_id}/")
            return r is not None and r.json()["check"]["finished"] and r.json()

        t0 = time.perf_counter()
        if not wait_until(checked, 180):
            stats.record("check_done", 0, False, "check did not finish in 180 s")
            return False
        stats.record("check_done", (time.perf_counter() - t0) * 1000, True)
        steps = [
            ("licence", "PUT", f"/api/v1/provider/versions/{version}/licence/", {"licence": "kogl-1"}, (200,)),
            ("offer", "POST", f"/api/v1/provider/versions/{version}/offers/", {"kind": "free"}, (200, 201)),
            ("submit", "POST", f"/api/v1/provider/versions/{version}/submit/", {}, (200,)),
        ]
        for kind, method, url, payload, expect in steps:
            if timed(stats, kind, provider, method, url, expect=expect, json=payload) is None:
                return False
        if timed(stats, "approve", admin, "POST", f"/api/v1/admin/reviews/{version}/approve/", json={}) is None:
            return False
        slugs.append(dataset["slug"])

        page = timed(stats, "dataset_api", buyer, "GET", f"/api/v1/datasets/{dataset['slug']}/")
        if page is None:
            return False
        offers = [o for o in page.json().get("offers", []) if o.get("kind") == "free"]
        if not offers:
            stats.record("offer_found", 0, False, json.dumps(page.json())[:200])
            return False
        added = timed(
            stats, "cart_add", buyer, "POST", "/api/v1/cart/items/", expect=(201,), json={"offer": offers[0]["id"]}
        )
        if added is None:
            return False
        line = added.json()["lines"][0]
        placed = timed(stats, "checkout", buyer, "POST", "/api/v1/checkout/", expect=(201,), json={
            "checkout_token": str(uuid.uuid4()), "accepted_licences": {str(line["offer"]["id"]): line["licence_sha256"]},
        })  # fmt: skip
        if placed is None:
            return False
        package_id = placed.json()["order"]["packages"][0]["id"]

        def built():
            r = timed(stats, "package_poll", buyer, "GET", f"/api/v1/packages/{package_id}/")
            return r is not None and r.json()["status"]["state"] == "ready" and r.json()

        t0 = time.perf_counter()
        package = wait_until(built, 180)
        if not package:
            stats.record("package_ready", 0, False, "package not ready in 180 s")
            return False
        stats.record("package_ready", (time.perf_counter() - t0) * 1000, True)
        link = timed(
            stats, "download_link", buyer, "POST", f"/api/v1/packages/{package_id}/download-link/", expect=(200, 201)
        )
        if link is None:
            return False
        url = link.json().get("url") or link.json().get("path")
        got = timed(stats, "download", buyer, "GET", url)
        if got is None:
            return False
        ok = hashlib.sha256(got.content).hexdigest() == package.get("sha256", hashlib.sha256(got.content).hexdigest())
        stats.record("download_verified", 0, ok, "SHA-256 differs")
        return ok
    finally:
        for c in (provider, admin, buyer):
            c.close()


def browse(base: str, stats: Stats, stop_at: float, slugs: list, seed_: int) -> None:
    import httpx

    rng = random.Random(seed_)
    with httpx.Client(base_url=base, timeout=60) as http:
        while time.monotonic() < stop_at:
            pick = rng.random()
            if pick < 0.15:
                timed(stats, "home", http, "GET", "/")
            elif pick < 0.45:
                word = rng.choice(WORDS) if rng.random() < 0.6 else f"{rng.choice(WORDS)} {uuid.uuid4().hex[:5]}"
                timed(stats, "catalog_search", http, "GET", "/catalog/", params={"q": word})
            elif pick < 0.7 and slugs:
                timed(stats, "dataset_page", http, "GET", f"/catalog/datasets/{rng.choice(slugs)}/")
            elif pick < 0.9:
                timed(stats, "api_list", http, "GET", "/api/v1/datasets/", params={"page": rng.randint(1, 3)},
                      expect=(200, 404))  # fmt: skip
            else:
                timed(stats, "healthz", http, "GET", "/healthz")
            time.sleep(0.2)


# --- main ---------------------------------------------------------------------------------------------------


def main() -> int:
    args = parse_args()
    url = soak_database_url()
    recreate_database(url)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    queue = f"soak-{uuid.uuid4().hex[:8]}"
    env = {
        "DATABASE_URL": url,
        "PRIVATE_STORAGE_ROOT": str(tmp / "private"),
        "UPLOAD_STAGING_DIR": str(tmp / "staging"),
        "INGEST_WORK_DIR": str(tmp / "ingest"),
        "VAR_DIR": str(tmp / "var"),
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "DJANGO_SECRET_KEY": "soak-" + uuid.uuid4().hex,
        "CACHE_KEY_PREFIX": queue,
        "EMAIL_MODE": "locmem",
        "DISABLE_RATE_LIMITS": "1",
        "API_RATE_PER_TOKEN": "100000/minute",
        "API_RATE_PER_IP": "100000/minute",
        "MFA_REQUIRED_FOR_STAFF": "0",
    }
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    full_env = {**os.environ, "DJANGO_DEBUG": "0", "LOG_LEVEL": "WARNING"}
    migrated = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=full_env,
                              capture_output=True, text=True)  # fmt: skip
    if migrated.returncode:
        raise SystemExit(migrated.stderr[-3000:])
    keys = seed()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # django.setup() logs every request of the clients at INFO

    port = free_port()
    web = start_gunicorn(port, env=env)
    logs = {"beat": open(tmp / "beat.log", "w")}  # noqa: SIM115 - the process's life
    worker = start_celery_worker(queue, env=env, concurrency=2, log_path=tmp / "worker.log")
    beat = subprocess.Popen([sys.executable, "-m", "celery", "-A", "marketplace", "beat", "-l", "WARNING", "--schedule",
                             str(tmp / "beat-schedule")], cwd=ROOT, env=full_env, stdout=logs["beat"],
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    import redis

    broker = redis.Redis.from_url(os.environ.get("CELERY_BROKER_URL") or os.environ["REDIS_URL"])
    stats = Stats()
    samples = []  # (t, {label: rss_kib}, queue_len)
    slugs: list[str] = []
    journeys = Counter()
    started = time.monotonic()
    stop_at = started + args.minutes * 60
    roots = {"gunicorn": web.pid, "celery-worker": worker.pid, "celery-beat": beat.pid}
    try:
        time.sleep(5)  # the worker's pool forks

        def journeys_loop():
            n = 0
            while time.monotonic() < stop_at:
                n += 1
                journeys["ok" if journey(base, keys, stats, stop_at, args.rows, slugs, n) else "failed"] += 1

        threads = [threading.Thread(target=journeys_loop, daemon=True)]
        threads += [threading.Thread(target=browse, args=(base, stats, stop_at, slugs, i), daemon=True)
                    for i in range(args.browsers)]  # fmt: skip
        for t in threads:
            t.start()
        next_sample = time.monotonic()
        while time.monotonic() < stop_at + 1:
            if time.monotonic() >= next_sample:
                tree = process_tree(roots)
                rss = {label: kib for label, pid in tree.items() if (kib := vm_rss_kib(pid)) is not None}
                samples.append((time.monotonic() - started, rss, broker.llen(queue)))
                done = stats.counts.copy()
                print(f"[{samples[-1][0] / 60:5.1f} min] queue {samples[-1][2]:3d}  requests {sum(done.values()):6d} "
                      f"errors {sum(stats.errors.values()):3d}  journeys {dict(journeys)}  total RSS "
                      f"{sum(rss.values()) / 1024:7.1f} MiB", flush=True)  # fmt: skip
                next_sample += args.sample
            if worker.poll() is not None or beat.poll() is not None or web.poll() is not None:
                print("a process of the stack exited", flush=True)
                break
            time.sleep(0.5)
        for t in threads:
            t.join(timeout=200)
    finally:
        stop(web)
        for proc in (worker, beat):
            stop(proc, timeout=60)
        broker.delete(queue)
        broker.close()
        for log in logs.values():
            log.close()
        shutil.rmtree(tmp, ignore_errors=True)  # the uploaded and packaged files of the run

    return report(args, samples, stats, journeys)


def report(args, samples, stats: Stats, journeys: Counter) -> int:
    labels = sorted({label for _, rss, _ in samples for label in rss})
    # Warm-up: the first quarter of the run, at least 2 minutes (imports, caches, pools), at most half of it.
    total = samples[-1][0] if samples else 0
    warm_from = min(max(total / 4, 120.0), total / 2)
    warm = [s for s in samples if s[0] >= warm_from] or samples
    per_process = {}
    print(
        f"\n{'process':42s} {'start':>8s} {'end':>8s} {'peak':>8s} {'MiB/10min':>10s}  (RSS, MiB; slope after warm-up)"
    )
    for label in labels:
        series = [(t, rss[label] / 1024) for t, rss, _ in samples if label in rss]
        growth = slope_per_10min([(t, v) for t, v in series if t >= warm[0][0]])
        per_process[label] = {
            "start_mib": round(series[0][1], 1),
            "end_mib": round(series[-1][1], 1),
            "peak_mib": round(max(v for _, v in series), 1),
            "growth_mib_per_10min": round(growth, 2),
            "samples": len(series),
        }
        row = per_process[label]
        print(f"{label:42s} {row['start_mib']:8.1f} {row['end_mib']:8.1f} {row['peak_mib']:8.1f} {growth:10.2f}")
    queue = [q for _, _, q in samples]
    thirds = [queue[i * len(queue) // 3 : (i + 1) * len(queue) // 3] or [0] for i in range(3)]
    means = [statistics.fmean(t) for t in thirds]
    queue_growing = means[0] < means[1] < means[2] and queue[-1] > 20
    print(f"\nqueue length: start {queue[0] if queue else 0}, max {max(queue, default=0)}, end "
          f"{queue[-1] if queue else 0}; mean by thirds {[round(m, 1) for m in means]}")  # fmt: skip
    print(f"journeys (create → tus upload → check → publish → take → package → download): {dict(journeys)}")
    print(f"\n{'request':20s} {'count':>7s} {'errors':>7s} {'p50 ms':>8s} {'p95 ms':>8s}")
    requests = {}
    for kind in sorted(stats.counts):
        ms = sorted(stats.ms[kind])
        p50, p95 = ms[len(ms) // 2], ms[min(len(ms) - 1, int(len(ms) * 0.95))]
        requests[kind] = {"count": stats.counts[kind], "errors": stats.errors[kind], "p50_ms": round(p50, 1),
                          "p95_ms": round(p95, 1)}  # fmt: skip
        print(f"{kind:20s} {stats.counts[kind]:7d} {stats.errors[kind]:7d} {p50:8.1f} {p95:8.1f}")
    for line in stats.error_samples:
        print("error:", line)
    too_much = {k: v["growth_mib_per_10min"] for k, v in per_process.items()
                if v["growth_mib_per_10min"] > args.max_growth_mib}  # fmt: skip
    errors = sum(stats.errors.values())
    failed = bool(too_much) or queue_growing or errors > 0 or not journeys.get("ok")
    verdict = "FAIL" if failed else "ok"
    print(f"\nverdict: {verdict} (memory threshold {args.max_growth_mib} MiB per 10 min per process after warm-up: "
          f"{too_much or 'none above'}; queue growing: {queue_growing}; errors: {errors})")  # fmt: skip
    print(json.dumps({
        "bench": "soak", "minutes": args.minutes, "browsers": args.browsers, "sample_seconds": args.sample,
        "max_growth_mib_per_10min": args.max_growth_mib, "processes": per_process,
        "queue": {"start": queue[0] if queue else 0, "max": max(queue, default=0), "end": queue[-1] if queue else 0,
                  "thirds_mean": [round(m, 2) for m in means], "growing": queue_growing},
        "journeys": dict(journeys), "requests": requests, "errors": errors, "verdict": verdict,
    }, ensure_ascii=False))  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
