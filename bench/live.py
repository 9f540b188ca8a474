"""Live tables (catalog.live): sustained appends and how soon a reader sees them, compaction, and a `since=` page
over the store file + tail.

    . <env file>; .venv/bin/python bench/live.py [--seconds 10] [--writers 4] [--batch 100]

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): it makes a throw-away test database (test_<name>, dropped at
the end) with a published dataset and a live table, through the real services. Writers append batches from threads;
a reader woken by Redis pub/sub (as the SSE stream is) records when each batch became visible. Prints readable
figures and one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()

    setup_test_environment()
    settings.STORAGES = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": "/tmp/live-bench"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.CELERY_TASK_ALWAYS_EAGER = False
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(args):
    from catalog.live import notify, selectors
    from catalog.live import services as live
    from catalog.querystore import engine
    from catalog.reference_data import ensure_reference_data
    from marketplace.celery import app
    from tests.catalog.live_fixtures import make_live_table, row
    from tests.conftest import make_org, make_user

    app.conf.task_default_queue = f"bench-parked-{uuid.uuid4().hex[:6]}"  # nothing consumes what is queued
    ensure_reference_data()
    admin = make_user("admin@bench.test", staff=True)
    official = make_user("official@bench.test")
    make_org(official, name_ko="환경정책과", name_en="Env", kind="provider", brn="1348310008")
    table = make_live_table(official, admin)

    seen: dict[int, float] = {}  # last seq of a batch → when the reader saw it
    committed: dict[int, float] = {}
    stop = threading.Event()
    stop_reader = threading.Event()

    def reader():
        pubsub = notify.client().pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(notify.channel(table.pk))
        since = 0
        try:
            while not stop_reader.is_set():
                rows = selectors.rows_after(table, since, limit=5000)
                now = time.monotonic()
                for seq, _data in rows:
                    seen[seq] = now
                if rows:
                    since = rows[-1][0]
                    continue
                pubsub.get_message(timeout=0.2)
        finally:
            pubsub.close()
            connection.close()

    def writer(n):
        k = 0
        try:
            while not stop.is_set():
                asked = time.monotonic()  # the batch's latency counts from before the call (an upper bound)
                batch, _created = live.live_rows_append(
                    actor=official,
                    table=table,
                    idempotency_key=f"w{n}-{k}",
                    rows=[row(station="정왕동", pm=(k + i) % 150) for i in range(args.batch)],
                )
                committed[batch.last_seq] = asked
                k += 1
        finally:
            connection.close()

    r = threading.Thread(target=reader)
    r.start()
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(args.writers)]
    started = time.monotonic()
    for w in writers:
        w.start()
    time.sleep(args.seconds)
    stop.set()
    for w in writers:
        w.join()
    elapsed = time.monotonic() - started
    last = max(committed)
    deadline = time.monotonic() + 5
    while last not in seen and time.monotonic() < deadline:
        time.sleep(0.01)
    stop_reader.set()
    r.join()
    table.refresh_from_db()
    rows_total = table.last_seq
    latencies = [seen[s] - t for s, t in committed.items() if s in seen]
    figures = {
        "writers": args.writers,
        "batch_rows": args.batch,
        "rows": rows_total,
        "rows_per_s": round(rows_total / elapsed),
        "batches": len(committed),
        "append_to_visible_p50_ms": round(pct(latencies, 50) * 1000, 1),
        "append_to_visible_p95_ms": round(pct(latencies, 95) * 1000, 1),
        "append_to_visible_max_ms": round(max(latencies) * 1000, 1),
        "unseen_batches": len(committed) - len(latencies),
    }

    def page_ms(**spec):
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            engine.page([selectors.live_source(table)], table.name, engine.PageSpec(**spec))
            times.append(time.perf_counter() - t0)
        return round(statistics.median(times) * 1000, 1)

    figures["since_page_ms_tail_only"] = page_ms(since=rows_total - 100, limit=100)
    t0 = time.perf_counter()
    folded = live.live_table_compact(table_id=table.pk, min_rows=1)
    figures["compaction_s"] = round(time.perf_counter() - t0, 2)
    figures["compacted_rows"] = folded
    live.live_rows_append(actor=official, table=table, idempotency_key="after", rows=[row()] * 50)
    table.refresh_from_db()
    figures["since_page_ms_store_plus_tail"] = page_ms(since=rows_total - 50, limit=100)
    figures["filtered_sorted_page_ms"] = page_ms(
        filters=[engine.Filter("미세먼지", "gte", 100)], sort=[("미세먼지", True)], limit=100
    )
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
