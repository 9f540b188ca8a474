"""The large-file journey on local disk and on S3: upload (tus) → checks → copies → package → download, per stage
seconds, MB/s and the peak RSS of each of OUR processes, the same journey run once per storage.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/storage.py [--rows 2000000] [--only local|s3]

--rows 10000000 is the full run: a ~1 GB CSV (bench/csvdata.py: 12 Korean-headed columns, UTF-8). The default,
2,000,000 rows (~225 MB), keeps a routine run short; memory is flat in the file's size either way. Measured on
the shared 2-core machine (other jobs running), 225 MB: local upload 10.1 s, checks 25.4 s, copies 5.4 s, package
7.5 s, download 0.7 s; S3 (moto) 10.3 / 28.1 / 8.5 / 12.0 / 0.9 s. Peak RSS: checks 269 → 282 MB, copies and
package 311 → 331 MB (boto3 loaded), gunicorn 201 → 319 MB (boto3 and the multipart parts in flight, bounded by
MULTIPART_CONCURRENCY × 8 MiB in marketplace/storage_config.py, not by the file).

Per storage (local: FileSystemStorage in a temporary folder; s3: django-storages' S3Storage on a bucket of moto's
standalone S3 server, started here on loopback as tests/s3.py starts it):
1. upload: a real gunicorn (bench/webserver.py; 1 worker, gthread) receives the file through the tus endpoint in
   50 MiB PATCH requests streamed from disk by http.client; the upload stores it (on S3: multipart).
2. checks: a child process runs the check task's code (catalog.tasks.datafile_check_task), as the worker does.
3. copies: a child process runs the publication's task (catalog.tasks.version_derived_files_task): the Excel copy.
4. package: a child process runs transactions.tasks.build_package for a free order placed through the services.
5. download: the signed link through the same gunicorn; on local disk it streams the ZIP (200), on S3 it answers
   302 to a presigned URL, which this process follows to moto; the bytes are saved to a file in 1 MiB blocks and
   their SHA-256 must be the package's.
Baseline in the same run: a plain copy of the CSV on the same disk.

Peak RSS: gunicorn's VmHWM (arbiter + worker), each child's getrusage and this process's own. A child's peak is
reached while Django and the task's libraries load ("before"): a task that stays under it used no memory of its
own worth the name; one that grew with the file would show above it. moto's server keeps
small objects in memory and spools larger ones to temporary files; it stands in for S3 and is NOT one of our
processes, so its memory is not measured. Uses a throwaway database (`--db`, default bench_storage) and a temporary
folder, both removed at the end; ends with one JSON line.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.csvdata import generate_csv  # noqa: E402
from bench.ingest import _Window  # noqa: E402
from bench.webserver import free_port, rss_kb, start_gunicorn, stop  # noqa: E402

CHILD = """
import os, sys, json, time, resource
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
import django
django.setup()
from django.conf import settings
settings.DATABASES["default"]["NAME"] = {db!r}
from {module} import {task}
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t0 = time.perf_counter()
result = {task}.apply(args=[{arg}]).get()
print(json.dumps({{"seconds": time.perf_counter() - t0, "result": result, "rss_before_mb": before,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_child(env: dict, db: str, module: str, task: str, arg: int) -> dict:
    code = CHILD.format(root=str(ROOT), db=db, module=module, task=task, arg=arg)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-4000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def start_moto():
    from tests.s3 import _free_port, _wait_listening

    port = _free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    _wait_listening(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def tus_upload(port: int, session: str, version_id: int, source: Path) -> float:
    csrf = "b" * 32
    headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf, "Tus-Resumable": "1.0.0"}
    size = source.stat().st_size
    meta = f"filename {base64.b64encode(b'bench.csv').decode()},version {base64.b64encode(str(version_id).encode()).decode()}"
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)
    conn.request("POST", "/catalog/uploads/", headers={**headers, "Upload-Length": str(size), "Upload-Metadata": meta})
    response = conn.getresponse()
    response.read()
    assert response.status == 201, response.status
    location = response.getheader("Location")
    offset, chunk = 0, 50 * 1024 * 1024
    with open(source, "rb") as fh:
        while offset < size:
            length = min(chunk, size - offset)
            fh.seek(offset)
            conn.request(
                "PATCH",
                location,
                body=_Window(fh, length),
                headers={
                    **headers,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(length),
                },
            )
            response = conn.getresponse()
            body = response.read()
            assert response.status == 204, (response.status, offset, body[:300])
            offset = int(response.getheader("Upload-Offset"))
    conn.close()
    return time.perf_counter() - t0


def fetch(url: str, target: Path, headers: dict | None = None) -> tuple[int, dict, str]:
    """GET `url` into `target` in 1 MiB blocks (fsync'd); (status, headers, SHA-256). A redirect is not followed."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=900)
    conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers or {})
    response = conn.getresponse()
    sha = hashlib.sha256()
    with open(target, "wb") as out:
        while block := response.read(1 << 20):
            sha.update(block)
            out.write(block)
        out.flush()
        os.fsync(out.fileno())
    conn.close()
    return response.status, dict(response.getheaders()), sha.hexdigest()


def journey(name: str, storage_env: dict, source: Path, work: Path, db: str, settings) -> dict:
    """One upload → checks → copies → package → download on the storage that `storage_env` configures."""
    from django.test import Client, override_settings

    from catalog import services
    from catalog.models import DataFile, Licence, Theme
    from marketplace.storage_config import default_storage_config
    from tests.conftest import make_org, make_user
    from tests.transactions.conftest import offer_of, place_order
    from transactions.delivery import services as delivery
    from transactions.models import Package

    url = urlsplit(os.environ["DATABASE_URL"])
    env = dict(os.environ, DATABASE_URL=urlunsplit(url._replace(path="/" + db)), **storage_env)
    storages = dict(settings.STORAGES, default=default_storage_config(storage_env, private_root=work / "unused"))
    figures: dict = {}
    brns = {"local": ("1348310008", "1168200276"), "s3": ("2208162517", "1208147521")}[name]  # unique per organization
    with override_settings(STORAGES=storages):
        user = make_user(f"bench-{name}@siheung.test")
        org = make_org(user, name_ko=f"벤치마크과 {name}", name_en="Bench", kind="provider", brn=brns[0])
        buyer = make_user(f"buyer-{name}@company.test")
        make_org(buyer, name_ko=f"벤치 구매 {name}", name_en="Buyer", kind="consumer", brn=brns[1])
        version = services.dataset_create(
            actor=user,
            organization=org,
            title_ko=f"벤치마크 {name}",
            title_en="Bench",
            description_ko="벤치마크",
            theme=Theme.objects.first(),
            contact_name="b",
            contact_phone="031-000-0000",
            contact_email=user.email,
            update_cadence="none",
            data_kind="public",
            licence=Licence.objects.get(code="kogl-1"),
        )
        client = Client()
        client.force_login(user)
        port = free_port()
        web = start_gunicorn(port, timeout=900, env={**storage_env, "DATABASE_URL": env["DATABASE_URL"]}, workers=1)
        try:
            figures["upload"] = {"seconds": tus_upload(port, client.cookies["sessionid"].value, version.pk, source)}
            datafile = DataFile.objects.get(version=version)
            chk = run_child(env, db, "catalog.tasks", "datafile_check_task", datafile.pk)
            datafile.refresh_from_db()
            assert datafile.check_state == "passed", (datafile.check_state, datafile.check_messages)
            figures["checks"] = chk
            services.offer_create(actor=user, dataset=version.dataset, kind="free")
            version.refresh_from_db()
            services.version_submit(actor=user, version=version, pii_justification="-")
            admin = make_user(f"admin-{name}@test.example", staff=True)
            services.version_approve(actor=admin, version=version)
            figures["copies"] = run_child(env, db, "catalog.tasks", "version_derived_files_task", version.pk)
            order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
            package = Package.objects.get(entitlement__order_item__order=order)
            figures["package"] = run_child(env, db, "transactions.tasks", "build_package", package.pk)
            assert figures["package"]["result"] == "ready", figures["package"]
            package.refresh_from_db()
            link = f"http://127.0.0.1:{port}" + delivery.download_link(user=buyer, package=package)
            target = work / f"download-{name}.zip"
            t0 = time.perf_counter()
            status, headers, digest = fetch(link, target)
            if status == 302:  # S3: the presigned URL, fetched from the object storage itself
                status, headers, digest = fetch(headers["Location"], target)
            figures["download"] = {"seconds": time.perf_counter() - t0, "status": status}
            assert status == 200 and digest == package.sha256, (status, digest, package.sha256)
            figures["package_mb"] = package.size / 1e6
            target.unlink()
            figures["web_peak_rss_mb"] = rss_kb(web.pid) / 1024
        finally:
            stop(web)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000, help="10000000 for the full ~1 GB run")
    parser.add_argument("--only", choices=["local", "s3"], help="run one storage only")
    parser.add_argument("--db", default="bench_storage", help="name of the throwaway database")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["DJANGO_DEBUG"] = "0"
    os.environ["MFA_REQUIRED_FOR_STAFF"] = "0"
    work = Path(tempfile.mkdtemp(prefix="mkt-bench-storage-"))
    for var, folder in (
        ("UPLOAD_STAGING_DIR", "staging"),
        ("INGEST_WORK_DIR", "ingest"),
        ("PACKAGE_WORK_DIR", "packages"),
        ("QUERYSTORE_WORK_DIR", "qs"),
    ):
        os.environ[var] = str(work / folder)

    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    moto = None
    results: dict = {}
    try:
        source = work / "bench.csv"
        t0 = time.perf_counter()
        generate_csv(source, args.rows, "utf-8")
        size = source.stat().st_size
        print(f"generated {args.rows:,} rows, {size / 1e6:,.0f} MB UTF-8 in {time.perf_counter() - t0:.1f}s")
        t0 = time.perf_counter()
        shutil.copyfile(source, work / "copy.csv")
        copy_s = time.perf_counter() - t0
        (work / "copy.csv").unlink()

        settings.DATABASES["default"]["TEST"]["NAME"] = args.db
        old = setup_databases(verbosity=0, interactive=False)
        try:
            db = settings.DATABASES["default"]["NAME"]
            if args.only in (None, "local"):
                local_env = {"STORAGE_BACKEND": "filesystem", "PRIVATE_STORAGE_ROOT": str(work / "private")}
                results["local"] = journey("local", local_env, source, work, db, settings)
            if args.only in (None, "s3"):
                from tests.s3 import make_bucket, s3_env

                moto, endpoint = start_moto()
                results["s3"] = journey("s3", s3_env(endpoint, make_bucket(endpoint)), source, work, db, settings)
        finally:
            teardown_databases(old, verbosity=0)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(30)
        shutil.rmtree(work, ignore_errors=True)
        # What the upload and the approval queued for a worker (this bench ran those tasks itself).
        from marketplace.celery import app

        app.control.purge()

    mb = size / 1e6
    bench_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"baseline file copy: {copy_s:7.2f} s  {mb / copy_s:8.1f} MB/s   (CSV {mb:,.0f} MB)")
    summary = {"bench": "storage", "rows": args.rows, "mb": round(mb, 1), "copy_s": round(copy_s, 2)}
    for name, f in results.items():
        print(f"--- {name} (package {f['package_mb']:,.0f} MB)")
        for stage in ("upload", "checks", "copies", "package", "download"):
            s = f[stage]
            stage_mb = f["package_mb"] if stage == "download" else mb
            rss = (
                f"  peak RSS {s['peak_rss_mb']:.0f} MB (before {s['rss_before_mb']:.0f})" if "peak_rss_mb" in s else ""
            )
            print(f"{stage:9s} {s['seconds']:7.2f} s  {stage_mb / s['seconds']:8.1f} MB/s{rss}")
            summary[f"{name}_{stage}_s"] = round(s["seconds"], 2)
            summary[f"{name}_{stage}_mb_s"] = round(stage_mb / s["seconds"], 1)
            if "peak_rss_mb" in s:
                summary[f"{name}_{stage}_peak_rss_mb"] = round(s["peak_rss_mb"])
        print(f"web (gunicorn, arbiter + worker) peak RSS {f['web_peak_rss_mb']:.0f} MB")
        summary[f"{name}_web_peak_rss_mb"] = round(f["web_peak_rss_mb"])
        summary[f"{name}_package_mb"] = round(f["package_mb"], 1)
    print(
        f"this process (client, services) peak RSS {bench_peak:.0f} MB; moto's server is not measured (it stands in for S3)"
    )
    summary["bench_peak_rss_mb"] = round(bench_peak)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
