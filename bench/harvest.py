"""Harvesting (catalog.harvest): a generated CKAN portal of 1,000 and 10,000 datasets, harvested by the real task
code in a fresh worker-like process each, with its time, records/s and peak RSS, to show that memory stays flat as
the source grows (pages are read one at a time; nothing accumulates per record).

    . <env file>; .venv/bin/python bench/harvest.py [--sizes 1000,10000] [--rows 100]

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL): it makes a throw-away database (<name>_bench_harvest, dropped at
the end). The portal is a stdlib HTTP server in its own process, generating package_search pages on the fly in
CKAN's exact shape (Korean titles, tags, a group, two resources each). Per size, in a new process: the baseline
(reading every page with the reader alone, no database), the first harvest (every record added), and a second
harvest of the same source (every record unchanged). Prints readable figures and one line of JSON.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

THEMES = ["hwangyeong", "gyotong", "anjeon", "bokji", "munhwa"]
WORDS = ["미세먼지", "버스", "주차장", "공원", "도서관", "인구", "CCTV", "가로등", "하천", "수질", "소음", "전기차"]


def package(i: int, base: str) -> dict:
    """The i-th package of the generated portal (CKAN's package dict)."""
    pid = f"00000000-0000-4000-8000-{i:012d}"
    word = WORDS[i % len(WORDS)]
    name = f"gen-{i:06d}"
    resources = [
        {
            "id": f"10000000-0000-4000-8000-{i * 2 + k:012d}",
            "package_id": pid,
            "url": f"{base}/dataset/{name}/resource/{k}/download/{name}-{k}.{'csv' if k == 0 else 'json'}",
            "name": f"{word} 자료 {k + 1}",
            "description": f"{word} 원자료",
            "format": "CSV" if k == 0 else "JSON",
            "mimetype": "text/csv" if k == 0 else "application/json",
            "mimetype_inner": None,
            "size": 1000 + i,
            "hash": "",
            "created": "2025-01-01T00:00:00.000000",
            "last_modified": "2026-11-01T00:00:00.000000",
            "metadata_modified": "2026-11-01T00:00:00.000000",
            "position": k,
            "resource_type": None,
            "url_type": None,
            "cache_url": None,
            "cache_last_updated": None,
            "state": "active",
        }
        for k in range(2)
    ]
    return {
        "id": pid,
        "name": name,
        "title": f"가상시 {word} 현황 {i:06d}",
        "notes": f"가상시의 {word} 관련 공공데이터입니다. 번호 {i}.",
        "license_id": "kogl-type1" if i % 3 else "cc-by",
        "license_title": "",
        "license_url": "",
        "isopen": True,
        "type": "dataset",
        "private": False,
        "state": "active",
        "author": "가상시 정보통신과",
        "author_email": "data@city.example.kr",
        "maintainer": "담당자",
        "maintainer_email": "owner@city.example.kr",
        "metadata_created": "2025-01-01T00:00:00.000000",
        "metadata_modified": "2026-11-01T00:00:00.000000",
        "num_resources": 2,
        "num_tags": 2,
        "extras": [{"key": "update_cadence", "value": "monthly"}, {"key": "spatial_area", "value": "경기도 가상시"}],
        "tags": [{"name": word, "display_name": word}, {"name": "가상시", "display_name": "가상시"}],
        "groups": [{"name": THEMES[i % len(THEMES)], "title": THEMES[i % len(THEMES)]}],
        "organization": {"id": "org-1", "name": "virtual-city", "title": "가상시"},
        "resources": resources,
    }


def serve(port_queue, sizes_by_path):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            split = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(split.query).items()}
            size = sizes_by_path.get(split.path.split("/api/")[0])
            start, rows = int(query.get("start", 0)), int(query.get("rows", 10))
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            results = [package(i, base) for i in range(start, min(start + rows, size or 0))]
            body = json.dumps(
                {"help": "", "success": True, "result": {"count": size, "results": results, "facets": {}}},
                ensure_ascii=False,
            ).encode()
            self.send_response(200 if size else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port_queue.put(server.server_address[1])
    server.serve_forever()


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def worker(kind: str, source_id: int, rows: int, out):
    """In a fresh process (as a Celery worker's pool child would be): one harvest, or the reader alone."""
    from django.db import connections

    connections.close_all()  # the parent's connection is not ours to use
    settings.HARVEST_CKAN_ROWS = rows
    from catalog.harvest.models import HarvestRun, HarvestSource
    from catalog.harvest.readers import read_source
    from catalog.harvest.tasks import harvest_run

    source = HarvestSource.objects.get(pk=source_id)
    samples = []
    started = time.perf_counter()
    if kind == "read":
        records = 0
        for page in read_source(source):
            records += len(page.items)
            samples.append((records, rss_mb()))
        result = {"records": records}
    else:
        run = HarvestRun.objects.create(source=source)
        from catalog.harvest import importer

        original = importer.harvest_run_advance

        def advance(*, run, **kwargs):  # sample memory as pages commit
            original(run=run, **kwargs)
            samples.append((HarvestRun.objects.values_list("seen", flat=True).get(pk=run.pk), rss_mb()))

        importer.harvest_run_advance = advance
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        with connections["default"].execute_wrapper(count):
            state = harvest_run.apply(args=[run.pk]).get()
        run.refresh_from_db()
        result = {
            "state": state,
            "records": run.seen,
            "queries_per_record": round(queries[0] / max(run.seen, 1), 1),  # the samples' own reads included
            **{k: getattr(run, k) for k in ("added", "updated", "unchanged", "failed", "removed")},
        }
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.send({**result, "seconds": seconds, "peak_rss_mb": peak, "samples": samples})


def in_child(kind, source_id, rows):
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe()
    process = context.Process(target=worker, args=(kind, source_id, rows, child))
    process.start()
    result = parent.recv()
    process.join()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    setup_test_environment()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    # A database of its own (not test_<name>, which the test suite of the same checkout uses).
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_bench_harvest"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    manager = multiprocessing.Manager()
    sizes_by_path = manager.dict({f"/portal-{n}": n for n in sizes})
    port_queue = multiprocessing.get_context("spawn").Queue()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(port_queue, sizes_by_path), daemon=True)
    server.start()
    try:
        port = port_queue.get(timeout=30)
        figures = run(sizes, args.rows, port)
    finally:
        server.terminate()
        connection.close()
        connection.creation.destroy_test_db(old_name, verbosity=0)
    for key, value in figures.items():
        print(f"{key:>40}: {value}")
    print(json.dumps(figures))


def run(sizes, rows, port):
    from catalog.harvest.models import HarvestSource
    from catalog.reference_data import ensure_reference_data
    from tests.conftest import make_org, make_user

    ensure_reference_data()
    admin = make_user("admin@bench.test", staff=True)
    official = make_user("official@bench.test")
    org = make_org(official, name_ko="가상시", name_en="Virtual City", kind="provider", brn="1348310008")
    mapping = {
        "themes": {"hwangyeong": "environment", "gyotong": "transport", "anjeon": "safety", "bokji": "welfare"},
        "default_theme": "culture-tourism",
    }
    figures = {"rows_per_page": rows}
    connection.close()  # the children open their own
    for n in sizes:
        source = HarvestSource.objects.create(
            name=f"가상시 포털 {n}",
            kind="ckan",
            url=f"http://127.0.0.1:{port}/portal-{n}",
            organization=org,
            schedule="manual",
            mapping=mapping,
            created_by=admin,
        )
        connection.close()
        read = in_child("read", source.pk, rows)
        first = in_child("harvest", source.pk, rows)
        again = in_child("harvest", source.pk, rows)
        assert first["added"] == n and again["unchanged"] == n, (first, again)
        mid = [mb for seen, mb in first["samples"] if seen >= n // 10]
        figures.update(
            {
                f"read_only_{n}_s": round(read["seconds"], 2),
                f"read_only_{n}_records_per_s": round(n / read["seconds"]),
                f"first_harvest_{n}_s": round(first["seconds"], 1),
                f"first_harvest_{n}_records_per_s": round(n / first["seconds"]),
                f"second_harvest_{n}_s": round(again["seconds"], 1),
                f"second_harvest_{n}_records_per_s": round(n / again["seconds"]),
                f"first_harvest_{n}_queries_per_record": first["queries_per_record"],
                f"second_harvest_{n}_queries_per_record": again["queries_per_record"],
                f"peak_rss_{n}_mb": round(first["peak_rss_mb"], 1),
                # RSS after 10 % of the records and at the end: flat memory means these are about equal.
                f"rss_after_10pct_{n}_mb": round(mid[0], 1) if mid else None,
                f"rss_at_end_{n}_mb": round(first["samples"][-1][1], 1),
            }
        )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        figures["peak_rss_growth_mb"] = round(figures[f"peak_rss_{large}_mb"] - figures[f"peak_rss_{small}_mb"], 1)
        figures["time_ratio_large_to_small"] = round(
            figures[f"first_harvest_{large}_s"] / figures[f"first_harvest_{small}_s"], 2
        )
    return figures


if __name__ == "__main__":
    main()
