"""Packaging a 1 GB dataset and downloading it over loopback: wall time, MB/s against a plain file
copy on the same disk, and peak RSS of the worker and the web process.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/delivery.py [--rows 9250000] [--encoding utf-8|cp949]

1. Generates a CSV with 12 Korean-headed columns (DuckDB; ~1 GB UTF-8 at 9.25 M rows) straight into
   the private storage of this run, and records it as the DataFile of a published version (no checks:
   the Table Schema is written here). Order, entitlement and package rows are created directly.
2. The copies for Excel (catalog.derived), made once per data file and version: a child process runs
   the publication's task (catalog.tasks.version_derived_files_task), timed on its own with its peak RSS.
   Packaging: a child process runs the worker's task code (transactions.tasks.build_package) and
   reports its own peak RSS (getrusage). Twice: text DEFLATE level 1 (what the portal ships) and
   ZIP_STORED for the originals, to show the trade-off the packaging module chose (the Excel copy is
   written as its stored DEFLATE stream either way). BENCH_DB names the throwaway database (default
   mkt_bench_delivery), so that two runs on one server do not collide.
3. Baseline in the same run: a plain copy of each package ZIP on the same disk, read and written in
   1 MiB blocks (what a download client does with the bytes it receives), timed until the copy is on
   disk (fsync), best of two; also shutil.copyfile (an in-kernel copy no client can match).
4. Download: a real gunicorn (gthread, as scripts/stack.py starts it) serves the signed link in the
   default "stream" mode; Python's http.client saves it in 1 MiB blocks to a file on the same disk,
   timed until it is on disk (fsync), best of two; the SHA-256 of what arrived is checked. Also
   printed: both again into the page cache only (no fsync: the copy is then an in-kernel memcpy), the
   download to /dev/null (the Python streaming path alone) and curl into a file. The web process's
   peak RSS is its VmHWM. Where nginx is installed, the same download through nginx with
   X-Accel-Redirect (the production path of deploy/nginx.conf) is measured too.
Uses a throwaway database (`mkt_bench_delivery`, or BENCH_DB) and a temporary folder; both are removed at the end.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.csvdata import generate_csv  # noqa: E402

SCHEMA = {
    "fields": [
        {"name": "측정소명", "type": "string"},
        {"name": "측정일시", "type": "datetime", "format": "%Y-%m-%d %H:%M:%S"},
        {"name": "미세먼지", "type": "integer"},
        {"name": "초미세먼지", "type": "integer"},
        {"name": "오존", "type": "number"},
        {"name": "이산화질소", "type": "number"},
        {"name": "기온", "type": "number"},
        {"name": "습도", "type": "integer"},
        {"name": "위도", "type": "number"},
        {"name": "경도", "type": "number"},
        {"name": "비고", "type": "string"},
        {"name": "주소", "type": "string"},
    ],
    "missingValues": [""],
}


CHILD_SETUP = """
import os, sys, json, time, resource
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
import django
django.setup()
from django.conf import settings
settings.DATABASES["default"]["NAME"] = {db!r}
"""

PREPARE_CHILD = (
    CHILD_SETUP
    + """
from catalog.tasks import version_derived_files_task
from frictionless import Schema
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0, c0 = time.perf_counter(), time.process_time()
count = version_derived_files_task.apply(args=[{version_id}]).get()
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"seconds": elapsed, "cpu_s": cpu, "rss_before_mb": before, "copies": count,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
)

BUILD_CHILD = (
    CHILD_SETUP
    + """
import zipfile
from transactions.delivery import packaging
from transactions.models import Package
from transactions.tasks import build_package
packaging.TEXT_COMPRESSION = zipfile.{compression}
# A worker is long-lived: load frictionless's plugins (~0.5 s, once per process) before timing.
from frictionless import Schema
Schema.from_descriptor({{"fields": [{{"name": "a", "type": "integer"}}]}})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0, c0 = time.perf_counter(), time.process_time()
state = build_package.apply(args=[{package_id}]).get()
elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
p = Package.objects.get(pk={package_id})
print(json.dumps({{"seconds": elapsed, "cpu_s": cpu, "rss_before_mb": before, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "state": state, "error": p.error, "size": p.size, "sha256": p.sha256, "name": p.file.name}}))
"""
)


def run_child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_rows(source: Path, storage_root: Path, size: int, sha256: str, encoding: str):
    """A published version whose only file is `source` (already in storage), and two paid orders of
    it, each with its entitlement and queued package."""
    from django.utils import timezone

    from accounts.models import Membership
    from catalog import services
    from catalog.models import DataFile, DatasetVersion, Licence, Theme
    from tests.conftest import make_org, make_user
    from transactions.models import Entitlement, Order, OrderItem, Package

    official = make_user("bench@siheung.test")
    provider = make_org(official, name_ko="벤치마크과", name_en="Bench", kind="provider", brn="1348310008")
    buyer = make_user("bench-buyer@company.test")
    company = make_org(
        buyer, name_ko="(주)벤치", name_en="Bench Co", kind="consumer", brn="1168200276", role=Membership.Role.OWNER
    )
    version = services.dataset_create(
        actor=official,
        organization=provider,
        title_ko="벤치마크 대기질 1GB",
        title_en="Bench air quality",
        description_ko="벤치마크용 자료",
        theme=Theme.objects.first(),
        contact_name="b",
        contact_phone="031-000-0000",
        contact_email="b@siheung.test",
        update_cadence="none",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    DataFile.objects.create(
        version=version,
        file=str(source.relative_to(storage_root)),
        original_name="대기질.csv",
        format="csv",
        size=size,
        sha256=sha256,
        check_state=DataFile.Check.PASSED,
        encoding=encoding,
        delimiter=",",
        row_count=None,
        column_count=len(SCHEMA["fields"]),
        table_schema=SCHEMA,
    )
    DatasetVersion.objects.filter(pk=version.pk).update(state="published", published_at=timezone.now())
    packages = []
    for n in range(2):
        order = Order.objects.create(
            number=f"BENCH-{n}",
            buyer=company,
            placed_by=buyer,
            state=Order.State.PAID,
            method=Order.Method.FREE,
            billing_name="(주)벤치",
            billing_email=buyer.email,
            paid_at=timezone.now(),
        )
        item = OrderItem.objects.create(
            order=order,
            dataset=version.dataset,
            version=version,
            seller=provider,
            kind="free",
            title=version.title_ko,
            supply_krw=0,
            vat_krw=0,
            total_krw=0,
            licence=version.licence,
        )
        entitlement = Entitlement.objects.create(
            organization=company,
            dataset=version.dataset,
            order_item=item,
            kind="free",
            version=version,
            valid_from=timezone.now(),
        )
        packages.append(Package.objects.create(entitlement=entitlement, version=version))
    return buyer, packages


def serve(db: str, storage_root: Path, port: int, backend: str = "stream"):
    from urllib.parse import urlsplit, urlunsplit

    url = urlsplit(os.environ["DATABASE_URL"])
    env = dict(
        os.environ,
        DATABASE_URL=urlunsplit(url._replace(path="/" + db)),
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        PRIVATE_STORAGE_ROOT=str(storage_root),
        DOWNLOAD_BACKEND=backend,
        LOG_LEVEL="WARNING",
    )
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "marketplace.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "--timeout",
            "120",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            # One request first: the worker loads URLs, middleware and templates lazily.
            subprocess.run(["curl", "-sS", "-o", "/dev/null", f"http://127.0.0.1:{port}/healthz"], check=False)
            return web
        except OSError:
            time.sleep(0.1)
    web.kill()
    raise SystemExit("gunicorn did not start")


NGINX_CONF = """
user root;
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {work}/nginx-tmp/body;
    proxy_temp_path {work}/nginx-tmp/proxy;
    fastcgi_temp_path {work}/nginx-tmp/fastcgi;
    uwsgi_temp_path {work}/nginx-tmp/uwsgi;
    scgi_temp_path {work}/nginx-tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        # As deploy/nginx.conf: Django authorizes, nginx sends the file from the private storage.
        location /protected/ {{
            internal;
            alias {storage_root}/;
        }}
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
        }}
    }}
}}
"""


def serve_nginx(work: Path, storage_root: Path, app_port: int, port: int):
    """nginx in front of a gunicorn answering with X-Accel-Redirect (DOWNLOAD_BACKEND=x-accel), if
    nginx is installed (apt-get install nginx-light): the production path, for comparison."""
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        return None
    (work / "nginx-tmp").mkdir(exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(work=work, port=port, storage_root=storage_root, app_port=app_port))
    proc = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    return None


def peak_rss_mb(pid: int) -> float:
    import psutil

    peak = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        with open(f"/proc/{proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def download(url: str, target: Path, *, durable: bool = False) -> float:
    """Seconds for Python's http.client to fetch `url` into `target` in 1 MiB blocks (and, if
    durable, until it is on disk)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    os.sync()
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=600)
    conn.request("GET", parts.path)
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"download answered {response.status}")
    buffer = memoryview(bytearray(1 << 20))
    with open(target, "wb") as fh:
        while n := response.readinto(buffer):
            fh.write(buffer[:n])
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    elapsed = time.perf_counter() - t0
    conn.close()
    return elapsed


def curl(url: str, target: Path) -> float:
    os.sync()
    t0 = time.perf_counter()
    out = subprocess.run(["curl", "-sS", "-f", "-o", str(target), url], capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"curl failed: {out.stderr}")
    return elapsed


def copy_seconds(src: Path, dst: Path, *, durable: bool = False, kernel: bool = False) -> float:
    """Seconds for a plain copy on the same disk: read and write in 1 MiB blocks (what any download
    client does with what it receives), or `kernel`: shutil.copyfile (copy_file_range/sendfile, no
    bytes through user space). If durable, until the copy is on disk."""
    os.sync()
    t0 = time.perf_counter()
    if kernel:
        shutil.copyfile(src, dst)
    else:
        buffer = memoryview(bytearray(1 << 20))
        with open(src, "rb", buffering=0) as fin, open(dst, "wb", buffering=0) as fout:
            while n := fin.readinto(buffer):
                fout.write(buffer[:n])
    if durable:
        _fsync(dst)
    elapsed = time.perf_counter() - t0
    dst.unlink()
    return elapsed


def best(measure, runs: int = 2) -> float:
    return min(measure() for _ in range(runs))


def _run(work: Path, args, settings, setup_databases, teardown_databases) -> dict:
    storage_root = work / "private"
    source = storage_root / "datasets" / "bench" / "v1" / "bench.csv"
    t0 = time.perf_counter()
    generate_csv(source, args.rows, args.encoding)
    size = source.stat().st_size
    print(f"generated {args.rows:,} rows, {size / 1e6:,.0f} MB {args.encoding} in {time.perf_counter() - t0:.1f}s")
    with open(source, "rb") as fh:
        sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
    os.sync()  # every timed step starts with nothing dirty in the page cache (no writeback of earlier steps)

    settings.DATABASES["default"]["TEST"]["NAME"] = os.environ.get("BENCH_DB", "mkt_bench_delivery")
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from transactions.delivery import downloads

        buyer, packages = make_rows(source, storage_root, size, sha256, args.encoding)
        db = settings.DATABASES["default"]["NAME"]
        results = {}
        # Once per data file and version (at publication, or by the first package that needs it): the Excel
        # copy, kept compressed; each package then copies it. Measured on its own, before the packages.
        os.sync()
        prepare = run_child(PREPARE_CHILD.format(root=str(ROOT), db=db, version_id=packages[0].version_id))
        for package, compression in zip(packages, ("ZIP_DEFLATED", "ZIP_STORED")):
            os.sync()
            build = run_child(BUILD_CHILD.format(root=str(ROOT), db=db, package_id=package.pk, compression=compression))
            if build["state"] != "ready":
                raise SystemExit(f"package {compression} failed: {build['error']}")
            results[compression] = {"build": build, "package": package}

        web = serve(db, storage_root, args.port)
        accel = serve(db, storage_root, args.port + 1, backend="x-accel")
        nginx = serve_nginx(work, storage_root, args.port + 1, args.port + 2)
        try:
            for _compression, result in results.items():
                build = result["build"]
                zip_path = storage_root / build["name"]
                package = result["package"]
                token = downloads.sign(
                    package_id=package.pk, user_id=buyer.pk, organization_id=package.entitlement.organization_id
                )
                url = f"http://127.0.0.1:{args.port}/orders/delivery/download/{token}/"
                target = work / "downloaded.zip"
                # Until the bytes are on disk (copy + fsync, download + fsync): what "as fast as a copy" means.
                result["copy_s"] = best(lambda: copy_seconds(zip_path, work / "copy.zip", durable=True))
                result["kcopy_s"] = best(lambda: copy_seconds(zip_path, work / "copy.zip", durable=True, kernel=True))
                result["download_s"] = best(lambda: download(url, target, durable=True))
                with open(target, "rb") as fh:
                    result["verified"] = hashlib.file_digest(fh, "sha256").hexdigest() == build["sha256"]
                target.unlink()
                # Into the page cache only (no fsync): the copy is then a kernel memcpy.
                result["copy_cache_s"] = best(lambda: copy_seconds(zip_path, work / "copy.zip"))
                result["kcopy_cache_s"] = best(lambda: copy_seconds(zip_path, work / "copy.zip", kernel=True))
                result["download_cache_s"] = best(lambda: download(url, target))
                target.unlink()
                # The Python streaming path alone (no disk on the client side), against reading the file;
                # and curl into a file (its 16 KiB writes make it slower than the server).
                result["null_s"] = best(lambda: download(url, Path(os.devnull)))
                result["curl_s"] = best(lambda: curl(url, target))
                target.unlink()
                t0 = time.perf_counter()
                with open(zip_path, "rb") as fh:
                    while fh.read(1 << 20):
                        pass
                result["read_s"] = time.perf_counter() - t0
                if nginx:
                    nginx_url = f"http://127.0.0.1:{args.port + 2}/orders/delivery/download/{token}/"
                    result["nginx_s"] = best(lambda: download(nginx_url, target, durable=True))
                    with open(target, "rb") as fh:
                        result["nginx_verified"] = hashlib.file_digest(fh, "sha256").hexdigest() == build["sha256"]
                    target.unlink()
            web_peak = peak_rss_mb(web.pid)
        finally:
            for proc in (web, accel, nginx):
                if proc:
                    proc.terminate()
                    proc.wait(30)
    finally:
        teardown_databases(old, verbosity=0)
    return {"size": size, "results": results, "web_peak_rss_mb": web_peak, "prepare": prepare}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=9_250_000, help="9.25 M rows ≈ 1 GB of UTF-8")
    parser.add_argument(
        "--encoding",
        choices=["utf-8", "cp949"],
        default="utf-8",
        help="cp949: the stored file is CP949 (shipped as is; its Excel copy transcoded to UTF-8)",
    )
    parser.add_argument("--port", type=int, default=8798)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    work = Path(tempfile.mkdtemp(prefix="mkt-bench-delivery-"))
    os.environ["PRIVATE_STORAGE_ROOT"] = str(work / "private")
    os.environ["PACKAGE_WORK_DIR"] = str(work / "packages")

    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    try:
        out = _run(work, args, settings, setup_databases, teardown_databases)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mb = out["size"] / 1e6
    figures = {
        "bench": "delivery",
        "rows": args.rows,
        "encoding": args.encoding,
        "mb": round(mb, 1),
        "web_peak_rss_mb": round(out["web_peak_rss_mb"]),
    }
    prepare = out["prepare"]
    print(
        f"copies for Excel, once per file and version: {prepare['seconds']:7.2f} s ({mb / prepare['seconds']:.1f} MB/s, "
        f"CPU {prepare['cpu_s']:.1f} s), peak RSS {prepare['peak_rss_mb']:.0f} MB"
    )
    figures["excel_copy_once_s"] = round(prepare["seconds"], 2)
    figures["excel_copy_once_peak_rss_mb"] = round(prepare["peak_rss_mb"])
    for compression, r in out["results"].items():
        b = r["build"]
        zip_mb = b["size"] / 1e6
        copy_rate, download_rate = zip_mb / r["copy_s"], zip_mb / r["download_s"]
        label = "deflate-1" if compression == "ZIP_DEFLATED" else "stored"
        print(
            f"packaging ({label:9}):  {b['seconds']:7.2f} s  {mb / b['seconds']:8.1f} MB/s of data  "
            f"→ {zip_mb:,.0f} MB ZIP  (CPU {b['cpu_s']:.1f} s)  worker peak RSS {b['peak_rss_mb']:.0f} MB "
            f"({b['rss_before_mb']:.0f} MB before the build)"
        )
        kcopy_rate = zip_mb / r["kcopy_s"]
        cache_copy, cache_download = zip_mb / r["copy_cache_s"], zip_mb / r["download_cache_s"]
        cache_kcopy = zip_mb / r["kcopy_cache_s"]
        null_rate, read_rate = zip_mb / r["null_s"], zip_mb / r["read_s"]
        print(
            f"  on disk (fsync):  copy {copy_rate:,.0f} MB/s (kernel copy {kcopy_rate:,.0f}), "
            f"download {download_rate:,.0f} MB/s = {download_rate / copy_rate:.0%} of the copy rate "
            f"({download_rate / kcopy_rate:.0%} of the kernel copy)  sha256 {'ok' if r['verified'] else 'MISMATCH'}"
        )
        print(
            f"  page cache only:  copy {cache_copy:,.0f} MB/s (kernel copy {cache_kcopy:,.0f}), "
            f"download {cache_download:,.0f} MB/s = {cache_download / cache_copy:.0%} ({cache_download / cache_kcopy:.0%})"
        )
        print(
            f"  download to /dev/null {null_rate:,.0f} MB/s (reading the ZIP: {read_rate:,.0f} MB/s); "
            f"curl into a file {zip_mb / r['curl_s']:,.0f} MB/s"
        )
        if r.get("nginx_s"):
            nginx_rate = zip_mb / r["nginx_s"]
            print(
                f"  nginx X-Accel-Redirect (DOWNLOAD_BACKEND=x-accel), on disk: {nginx_rate:,.0f} MB/s "
                f"= {nginx_rate / copy_rate:.0%} of the copy rate  sha256 {'ok' if r['nginx_verified'] else 'MISMATCH'}"
            )
        figures[label] = {
            "package_s": round(b["seconds"], 2),
            "package_cpu_s": round(b["cpu_s"], 2),
            "package_mb_s": round(mb / b["seconds"], 1),
            "zip_mb": round(zip_mb, 1),
            "worker_peak_rss_mb": round(b["peak_rss_mb"]),
            "worker_rss_before_mb": round(b["rss_before_mb"]),
            "copy_mb_s": round(copy_rate, 1),
            "download_mb_s": round(download_rate, 1),
            "download_vs_copy": round(download_rate / copy_rate, 2),
            "kernel_copy_mb_s": round(kcopy_rate, 1),
            "download_vs_kernel_copy": round(download_rate / kcopy_rate, 2),
            "cache_copy_mb_s": round(cache_copy, 1),
            "cache_kernel_copy_mb_s": round(cache_kcopy, 1),
            "cache_download_mb_s": round(cache_download, 1),
            "cache_download_vs_copy": round(cache_download / cache_copy, 2),
            "download_null_mb_s": round(null_rate, 1),
            "read_mb_s": round(read_rate, 1),
            "curl_mb_s": round(zip_mb / r["curl_s"], 1),
            "nginx_x_accel_mb_s": round(zip_mb / r["nginx_s"], 1) if r.get("nginx_s") else None,
            "verified": r["verified"],
        }
    print(f"web peak RSS (whole run): {out['web_peak_rss_mb']:.0f} MB")
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
