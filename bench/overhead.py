"""What a never-seen catalog search costs outside its view and templates: each middleware, the request handling,
logging, Redis round trips, SQL outside the view, the garbage collector. In process, through Django's real WSGIHandler
(as gunicorn calls it: request_started/request_finished and their connection handling run, which the test Client of
bench/unseen.py skips), on bench/search.py's million-dataset database.

    .venv/bin/python bench/overhead.py [--n 200] [--passes 3] [--log-level WARNING] [--gc default|freeze|...]
                                       [--hits] [--profile 30]

A probe middleware stands before each middleware of settings.MIDDLEWARE and one after the last: the process CPU
(time.process_time) between two probes is that middleware's own (its work before and after the inner ones). The view's
part is split further: URL resolving, each middleware's process_view, and the rest (the view and its templates).
"outside" is what WSGIHandler does around the outermost middleware (the request object, the signals and their
receivers: close_old_connections, the cache's close, structlog's context) plus reading and closing the response.

Redis commands and round trips (a pipeline is one) and SQL statements are counted inside and outside the view;
health checks (CONN_HEALTH_CHECKS' query before a request's first statement) separately. --log-level INFO: as
production runs (django-structlog's request lines), with the log written to /dev/null. --gc: "freeze-early" calls
gc.freeze() once the app is loaded, before any request (as gunicorn.conf.py's post_worker_init does in the servers),
"freeze" once it is warmed up by a pass, "t=N" sets the gen-0 threshold to N; they combine ("freeze-early,t=50000"). --hits also measures page-cache hits of the same URLs.
Each pass starts a new catalog generation (every URL a miss); the last pass is reported. Ends with one line of JSON.
"""

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import search as search_bench  # noqa: E402  the bench database's URL
from unseen import draw  # noqa: E402  bench/load.py's never-seen searches

process_time = time.process_time
INCLUSIVE: dict[int, float] = defaultdict(float)  # probe index → CPU s inside it, summed over a pass
COUNTS: dict[str, int] = defaultdict(int)  # what was counted over a pass
IN_VIEW = [False]


class _Probe:
    index = 0

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        t0 = process_time()
        try:
            return self.get_response(request)
        finally:
            INCLUSIVE[self.index] += process_time() - t0


def probe_class(index: int) -> str:
    """The import path of probe number `index` (a class of this module, made on demand)."""
    name = f"Probe{index}"
    globals()[name] = type(name, (_Probe,), {"index": index})
    return f"{__name__}.{name}"


def instrument(handler) -> dict[str, float]:
    """Time the handler's URL resolving and each process_view (their CPU s over a pass, by name)."""
    spent: dict[str, float] = defaultdict(float)

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            t0 = process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += process_time() - t0

        return wrapper

    handler.resolve_request = timed("resolve", handler.resolve_request)
    handler._view_middleware = [timed(f"process_view {type(m.__self__).__name__}", m) for m in handler._view_middleware]
    return spent


def count_io():
    """Count Redis commands and round trips, SQL statements and health checks, inside and outside the view."""
    import redis.client
    from django.db import connection, connections

    def where():
        return "view" if IN_VIEW[0] else "outside"

    execute_command = redis.client.Redis.execute_command

    def counted_command(self, *args, **options):
        COUNTS[f"redis round trips ({where()})"] += 1
        COUNTS[f"redis commands ({where()})"] += 1
        COUNTS[f"redis {args[0]} ({where()})"] += 1
        return execute_command(self, *args, **options)

    redis.client.Redis.execute_command = counted_command
    pipeline_execute = redis.client.Pipeline.execute

    def counted_pipeline(self, *args, **kwargs):
        COUNTS[f"redis round trips ({where()})"] += 1
        COUNTS[f"redis commands ({where()})"] += len(self.command_stack)
        for command in self.command_stack:
            COUNTS[f"redis {command.args[0]} ({where()})"] += 1
        return pipeline_execute(self, *args, **kwargs)

    redis.client.Pipeline.execute = counted_pipeline
    wrapper_class = type(connections["default"])
    is_usable = wrapper_class.is_usable

    def counted_is_usable(self):
        COUNTS["health checks"] += 1
        return is_usable(self)

    wrapper_class.is_usable = counted_is_usable

    def sql(execute, sql_text, params, many, context):
        COUNTS[f"SQL statements ({where()})"] += 1
        return execute(sql_text, params, many, context)

    connection.execute_wrappers.append(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--passes", type=int, default=3, help="the last one is reported (default 3)")
    parser.add_argument("--log-level", default="WARNING", help="WARNING (the benches) or INFO (production)")
    parser.add_argument("--gc", default="default", help="default, freeze, t=N (gen-0 threshold), or both")
    parser.add_argument("--hits", action="store_true", help="also measure page-cache hits of the same URLs")
    parser.add_argument("--profile", type=int, default=0, help="a cProfile pass: the K most expensive functions")
    args = parser.parse_args()
    if args.passes < 2:
        parser.error("--passes must be at least 2 (the first warms the process and is not reported)")

    url, embedded = search_bench.database_url()
    if embedded:
        raise SystemExit("needs DATABASE_URL's server with mkt_bench_search (bench/search.py seeds it)")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ["LOG_LEVEL"] = args.log_level
    os.environ["LOG_FORMAT"] = "json"  # production's
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ.pop("DEVTOOLS", None)
    os.environ["CACHE_KEY_PREFIX"] = "mkt-bench-overhead"  # not bench/unseen.py's: runs of both may overlap
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = "bench-overhead"
    import logging
    import warnings

    import django

    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    for handler in logging.getLogger().handlers:  # production writes to a pipe; here the lines go nowhere
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  (for the process's life)

    settings.ALLOWED_HOSTS = ["*"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    names = list(settings.MIDDLEWARE)
    settings.MIDDLEWARE = [part for i, name in enumerate(names) for part in (probe_class(i), name)]
    settings.MIDDLEWARE.append(probe_class(len(names)))
    from load import vocabulary  # bench/load.py's subjects (needs Django: devtools.seed.vocab)

    from catalog import discovery

    rng = random.Random(args.seed)
    subjects = vocabulary()
    urls = list(dict.fromkeys(draw(subjects, rng) for _ in range(args.n * 2)))[: args.n]
    handler = WSGIHandler()
    handler.load_middleware()
    if "freeze-early" in args.gc:  # as gunicorn.conf.py's post_worker_init: the app loaded, no request served yet
        gc.collect()
        gc.freeze()
    view_parts = instrument(handler)
    count_io()
    factory = RequestFactory()

    # The innermost probe marks the view's part (for the counts).
    innermost = globals()[f"Probe{len(names)}"]
    inner_call = innermost.__call__

    def marking_call(self, request):
        IN_VIEW[0] = True
        try:
            return inner_call(self, request)
        finally:
            IN_VIEW[0] = False

    innermost.__call__ = marking_call

    def environ(path):
        env = factory._base_environ(PATH_INFO=path.split("?")[0], QUERY_STRING=path.partition("?")[2])
        env["wsgi.url_scheme"] = "https"
        env["SERVER_PORT"] = "443"
        env["HTTP_ACCEPT"] = "text/html,application/xhtml+xml"
        env["HTTP_USER_AGENT"] = "Mozilla/5.0 (bench)"
        env["HTTP_ACCEPT_LANGUAGE"] = "ko-KR,ko;q=0.9"
        return env

    def get(path, expect):
        started = []

        def start_response(status, headers):
            started.append(status)

        response = handler(environ(path), start_response)
        b"".join(response)
        response.close()  # as gunicorn does: request_finished fires here
        served = response.headers.get("X-Page-Cache")
        if not started[0].startswith("200") or (expect == "miss" and served != "miss"):
            raise SystemExit(f"{path}: {started[0]} {served} (expected {expect})")
        COUNTS[f"page cache {served}"] += 1

    def fresh():
        discovery.catalog_changed()  # nothing counted, nothing in the page cache
        discovery._key_frequencies()

    collections = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}  # this pass's: generation → [collections, ms]
    all_passes = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}  # every measured pass's (a full collection is rare)
    gc_started = [0.0]

    def on_gc(phase, info):
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - gc_started[0]) * 1000
            for counted in (collections, all_passes):
                counted[info["generation"]][0] += 1
                counted[info["generation"]][1] += ms

    def run(expect="miss", bump=True):
        if bump:
            fresh()
        INCLUSIVE.clear()
        COUNTS.clear()
        view_parts.clear()
        for c in collections.values():
            c[:] = [0, 0.0]
        gc.callbacks.append(on_gc)
        t0 = process_time()
        for path in urls:
            get(path, expect)
        total = process_time() - t0
        gc.callbacks.remove(on_gc)
        return total

    # Warm up (imports, templates, reference labels), then the GC setting a server would have after loading.
    run()
    if "freeze" in args.gc.split(","):  # once warmed up by a pass
        gc.collect()
        gc.freeze()
    for part in args.gc.split(","):
        if part.startswith("t="):
            gc.set_threshold(int(part[2:]), *gc.get_threshold()[1:])
    for c in all_passes.values():
        c[:] = [0, 0.0]
    for _ in range(args.passes - 1):
        total = run()
    gc_all = (all_passes, len(urls) * (args.passes - 1))
    n = len(urls)
    rows = []
    outside = total - INCLUSIVE[0]
    rows.append(("outside the middleware (WSGIHandler, signals, response)", outside))
    for i, name in enumerate(names):
        rows.append((name, INCLUSIVE[i] - INCLUSIVE[i + 1]))
    view = INCLUSIVE[len(names)]
    for name, spent in sorted(view_parts.items()):
        rows.append((name, spent))
    rows.append(("view + templates (the rest)", view - sum(view_parts.values())))
    not_view = total - view + sum(view_parts.values())
    print(
        f"{n} never-seen searches, LOG_LEVEL {args.log_level}, gc {args.gc} (thresholds {gc.get_threshold()}, "
        f"frozen {gc.get_freeze_count():,}); load average {os.getloadavg()[0]:.1f}"
    )
    print(f"\nPython CPU per request: {total / n * 1000:.2f} ms, of it outside the view {not_view / n * 1000:.2f} ms")
    for name, spent in rows:
        print(f"  {spent / n * 1000:7.3f} ms  {name}")
    gc_ms = sum(ms for _c, ms in collections.values()) / n
    print(
        f"  GC (within the above): {gc_ms:.3f} ms/request ("
        + ", ".join(f"gen {g} {c} × {ms:.0f} ms" for g, (c, ms) in collections.items())
        + ")"
    )
    print(
        f"  GC over all {gc_all[1]} measured requests: "
        + ", ".join(f"gen {g} {c} × {ms:.0f} ms" for g, (c, ms) in gc_all[0].items())
        + f" = {sum(ms for _c, ms in gc_all[0].values()) / gc_all[1]:.3f} ms/request"
    )
    print("\nper request:")
    for name, count in sorted(COUNTS.items()):
        print(f"  {count / n:6.2f}  {name}")
    result = {
        "bench": "overhead",
        "log_level": args.log_level,
        "gc": args.gc,
        "requests": n,
        "python_cpu_ms": round(total / n * 1000, 3),
        "outside_view_ms": round(not_view / n * 1000, 3),
        "gc_ms": round(gc_ms, 3),
        "rows": {name: round(spent / n * 1000, 3) for name, spent in rows},
        "counts": {name: round(count / n, 2) for name, count in COUNTS.items()},
    }
    if args.hits:
        run(bump=False)  # the second ask of each URL stores it (the first left a marker)
        total = run(expect="hit", bump=False)
        outside = total - INCLUSIVE[0]
        print(f"\npage-cache hits: Python CPU per request {total / n * 1000:.2f} ms")
        hit_rows = [("outside the middleware", outside)]
        hit_rows += [(name, INCLUSIVE[i] - INCLUSIVE[i + 1]) for i, name in enumerate(names)]
        for name, spent in hit_rows:
            if spent:
                print(f"  {spent / n * 1000:7.3f} ms  {name}")
        for name, count in sorted(COUNTS.items()):
            print(f"  {count / n:6.2f}  {name}")
        result["hit_python_cpu_ms"] = round(total / n * 1000, 3)
        result["hit_rows"] = {name: round(spent / n * 1000, 3) for name, spent in hit_rows}
    if args.profile:
        fresh()
        profiler = cProfile.Profile()
        profiler.enable()
        for path in urls:
            get(path, "miss")
        profiler.disable()
        if os.environ.get("PROFILE_DUMP"):
            profiler.dump_stats(os.environ["PROFILE_DUMP"])
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(args.profile)
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-8000:])
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
