"""Upload + automatic checks of a large CSV (CP949 or UTF-8): wall time, MB/s and peak RSS.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/ingest.py [--rows 10000000] [--encoding utf-8]

1. Generates a CSV with 12 Korean-headed columns (DuckDB writes UTF-8, Python transcodes to CP949
   in a stream unless --encoding utf-8), ~1 GB at 10 M rows, ~5 GB at 50 M.
2. Baseline in the same run: a plain file copy of it (disk speed on this machine now).
3. Upload: a real gunicorn web process receives it through the tus endpoint (http.client streams
   the file from disk in 50 MiB PATCH requests); its peak RSS is the worker's VmHWM.
4. Checks: a second child process runs the check task's code (datafile_check_task) on it,
   as the Celery worker would.
Each child reports its own peak RSS (getrusage). Uses a throwaway database (`--db`, default
`bench_ingest`).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.csvdata import generate_csv  # noqa: E402

CHILD_SETUP = """
import os, sys, json, time, resource
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
import django
django.setup()
from django.conf import settings
settings.DATABASES["default"]["NAME"] = {db!r}
settings.ALLOWED_HOSTS = ["*"]
"""

CHECK_CHILD = (
    CHILD_SETUP
    + """
from catalog.tasks import datafile_check_task
from catalog.models import DataFile
t0 = time.perf_counter()
state = datafile_check_task.apply(args=[{datafile_id}]).get()
elapsed = time.perf_counter() - t0
f = DataFile.objects.get(pk={datafile_id})
print(json.dumps({{"seconds": elapsed, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "state": state, "rows": f.row_count, "encoding": f.encoding, "columns": f.column_count,
                   "pii": [(p["kind"], p["column"], p["count"]) for p in f.pii_findings]}}))
"""
)


def upload_through_gunicorn(user, version, source: Path, db: str, port: int = 8799) -> dict:
    import base64
    import http.client
    import socket
    from urllib.parse import urlsplit, urlunsplit

    import psutil
    from django.test import Client

    from catalog.models import DataFile

    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    csrf = "b" * 32
    url = urlsplit(os.environ["DATABASE_URL"])
    env = dict(os.environ, DATABASE_URL=urlunsplit(url._replace(path="/" + db)), DJANGO_ALLOWED_HOSTS="127.0.0.1")
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
            "--worker-class",
            "gthread",
            "--threads",
            "2",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf, "Tus-Resumable": "1.0.0"}
        size = source.stat().st_size
        meta = f"filename {base64.b64encode(b'bench.csv').decode()},version {base64.b64encode(str(version.pk).encode()).decode()}"
        t0 = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        conn.request(
            "POST", "/catalog/uploads/", headers={**headers, "Upload-Length": str(size), "Upload-Metadata": meta}
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 201, response.status
        location = response.getheader("Location")
        offset, chunk = 0, 50 * 1024 * 1024
        with open(source, "rb") as fh:
            while offset < size:
                length = min(chunk, size - offset)
                fh.seek(offset)
                body = _Window(fh, length)
                conn.request(
                    "PATCH",
                    location,
                    body=body,
                    headers={
                        **headers,
                        "Upload-Offset": str(offset),
                        "Content-Type": "application/offset+octet-stream",
                        "Content-Length": str(length),
                    },
                )
                response = conn.getresponse()
                response.read()
                assert response.status == 204, (response.status, offset)
                offset = int(response.getheader("Upload-Offset"))
        elapsed = time.perf_counter() - t0
        peak = 0
        for proc in psutil.Process(web.pid).children(recursive=True) + [psutil.Process(web.pid)]:
            with open(f"/proc/{proc.pid}/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
    finally:
        web.terminate()
        web.wait(30)
    datafile = DataFile.objects.get(version=version)
    return {"seconds": elapsed, "peak_rss_mb": peak, "datafile_id": datafile.pk, "sha256": datafile.sha256}


class _Window:
    """A file-like view of `length` bytes from the current position: http.client streams it in blocks."""

    def __init__(self, fh, length):
        self.fh, self.left = fh, length

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data


def run_child(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _run(work, rows, encoding, db_name, settings, setup_databases, teardown_databases):
    source = work / "bench.csv"
    t0 = time.perf_counter()
    generate_csv(source, rows, encoding)
    size = source.stat().st_size
    print(f"generated {rows:,} rows, {size / 1e6:,.0f} MB {encoding} in {time.perf_counter() - t0:.1f}s")

    t0 = time.perf_counter()
    shutil.copyfile(source, work / "copy.csv")
    copy_s = time.perf_counter() - t0
    (work / "copy.csv").unlink()

    # A database of its own, so a test run on the same server cannot collide with it.
    settings.DATABASES["default"]["TEST"]["NAME"] = db_name
    old = setup_databases(verbosity=0, interactive=False)
    try:
        from catalog import services
        from catalog.models import Theme
        from tests.conftest import make_org, make_user

        user = make_user("bench@siheung.test")
        org = make_org(user, name_ko="벤치마크과", name_en="Bench", kind="provider", brn="1348310008")
        version = services.dataset_create(
            actor=user,
            organization=org,
            title_ko="벤치마크",
            description_ko="벤치마크",
            theme=Theme.objects.first(),
            contact_name="b",
            contact_phone="031-000-0000",
            contact_email="b@siheung.test",
            update_cadence="none",
            data_kind="public",
        )
        db = settings.DATABASES["default"]["NAME"]
        up = upload_through_gunicorn(user, version, source, db)
        chk = run_child(CHECK_CHILD.format(root=str(ROOT), db=db, datafile_id=up["datafile_id"]))
    finally:
        teardown_databases(old, verbosity=0)

    return size, copy_s, up, chk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--encoding", default="cp949", choices=["cp949", "utf-8"])
    parser.add_argument("--db", default="bench_ingest", help="name of the throwaway database")
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    work = Path(tempfile.mkdtemp(prefix="mkt-bench-ingest-"))
    os.environ["PRIVATE_STORAGE_ROOT"] = str(work / "private")
    os.environ["UPLOAD_STAGING_DIR"] = str(work / "staging")
    os.environ["INGEST_WORK_DIR"] = str(work / "ingest")

    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    try:
        size, copy_s, up, chk = _run(
            work, args.rows, args.encoding, args.db, settings, setup_databases, teardown_databases
        )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    mb = size / 1e6
    print(f"baseline file copy:   {copy_s:7.2f} s  {mb / copy_s:8.1f} MB/s")
    print(
        f"upload (tus, web):    {up['seconds']:7.2f} s  {mb / up['seconds']:8.1f} MB/s  peak RSS {up['peak_rss_mb']:.0f} MB"
    )
    print(
        f"checks (worker):      {chk['seconds']:7.2f} s  {mb / chk['seconds']:8.1f} MB/s  peak RSS {chk['peak_rss_mb']:.0f} MB"
        f"  → {chk['state']}, {chk['rows']:,} rows, {chk['columns']} columns, {chk['encoding']}"
    )
    print(f"upload + checks:      {up['seconds'] + chk['seconds']:7.2f} s")
    print(
        json.dumps(
            {
                "bench": "ingest",
                "rows": args.rows,
                "encoding": args.encoding,
                "mb": round(mb, 1),
                "copy_s": round(copy_s, 2),
                "upload_s": round(up["seconds"], 2),
                "upload_mb_s": round(mb / up["seconds"], 1),
                "upload_peak_rss_mb": round(up["peak_rss_mb"]),
                "checks_s": round(chk["seconds"], 2),
                "checks_mb_s": round(mb / chk["seconds"], 1),
                "checks_peak_rss_mb": round(chk["peak_rss_mb"]),
                "total_s": round(up["seconds"] + chk["seconds"], 2),
                "state": chk["state"],
                "rows_found": chk["rows"],
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
