"""A resumable (tus) upload of a large file through gunicorn, as tus-js-client sends it: MB/s and the web's peak RSS.

    DATABASE_URL=... REDIS_URL=... .venv/bin/python bench/upload.py [--mb 1024] [--chunk-mb 50] [--s3] [--root DIR]

The file (random bytes: the upload does not read them) goes in PATCH requests of --chunk-mb (static/js/upload.js
sends 50 MiB) to one gunicorn web process (1 worker, 2 threads), http.client streaming it from disk; the last PATCH
completes it (the stored DataFile, its SHA-256). Baseline in the same run: a plain copy of the file (this disk now).
Storage: a local folder (filesystem storage), or with --s3 moto's S3 server (tests/s3.py) on loopback.
--root runs another checkout's code (e.g. `git archive <commit> | tar -x -C /tmp/old` for a before/after: its web,
database schema and services; this script stays the same). Uses a throwaway database (`--db`, default
bench_upload). Ends with one JSON line.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent.parent


class _Window:
    """A file-like view of `length` bytes from the current position: http.client streams it in blocks."""

    def __init__(self, fh, length):
        self.fh, self.left = fh, length

    def read(self, n=-1):
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _peak_rss_mb(pid: int) -> float:
    import psutil

    peak = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        with open(f"/proc/{proc.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
    return peak


def upload(root: Path, env: dict, session: str, version_id: int, source: Path, chunk: int) -> dict:
    port = _free_port()
    with open(env["VAR_DIR"] + "/web.log", "wb") as log:  # the child keeps its own descriptor
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
            ],  # fmt: skip
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if web.poll() is not None:
                    raise SystemExit(Path(env["VAR_DIR"] + "/web.log").read_text()[-3000:]) from None
                time.sleep(0.1)
        csrf = "b" * 32
        headers = {"Cookie": f"sessionid={session}; csrftoken={csrf}", "X-CSRFToken": csrf, "Tus-Resumable": "1.0.0"}
        size = source.stat().st_size
        meta = f"filename {base64.b64encode(b'bench.csv').decode()},version {base64.b64encode(str(version_id).encode()).decode()}"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t0 = time.perf_counter()
        conn.request(
            "POST", "/catalog/uploads/", headers={**headers, "Upload-Length": str(size), "Upload-Metadata": meta}
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 201, response.status
        location = response.getheader("Location")
        offset, last_patch = 0, 0.0
        with open(source, "rb") as fh:
            while offset < size:
                length = min(chunk, size - offset)
                fh.seek(offset)
                started = time.perf_counter()
                conn.request(
                    "PATCH",
                    location,
                    body=_Window(fh, length),
                    headers={**headers, "Upload-Offset": str(offset),
                             "Content-Type": "application/offset+octet-stream", "Content-Length": str(length)},
                )  # fmt: skip
                response = conn.getresponse()
                response.read()
                assert response.status == 204, (response.status, offset)
                offset = int(response.getheader("Upload-Offset"))
                last_patch = time.perf_counter() - started
        elapsed = time.perf_counter() - t0
        return {"seconds": elapsed, "last_patch_s": last_patch, "peak_rss_mb": _peak_rss_mb(web.pid)}
    finally:
        os.killpg(web.pid, 15)
        web.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--chunk-mb", type=int, default=50, help="PATCH size in MiB (upload.js: 50)")
    parser.add_argument("--s3", action="store_true", help="moto's S3 server as the storage")
    parser.add_argument("--root", default=str(HERE), help="the checkout whose code runs (default: this one)")
    parser.add_argument("--db", default="bench_upload", help="name of the throwaway database")
    args = parser.parse_args()
    root = Path(args.root).resolve()
    sys.path.insert(0, str(root))

    work = Path(tempfile.mkdtemp(prefix="mkt-bench-upload-"))
    queue = f"bench-upload-{uuid.uuid4().hex[:8]}"  # the check task it queues goes nowhere a worker listens
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="marketplace.settings",
        DJANGO_SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or "bench",
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
        LOG_LEVEL="WARNING",
        MFA_REQUIRED_FOR_STAFF="0",
        STATICFILES_STORAGE_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        CELERY_TASK_DEFAULT_QUEUE=queue,
        VAR_DIR=str(work / "var"),
        PRIVATE_STORAGE_ROOT=str(work / "private"),
        UPLOAD_STAGING_DIR=str(work / "staging"),
    )
    (work / "var").mkdir()
    moto = None
    try:
        if args.s3:
            sys.path.insert(0, str(HERE))
            from tests.s3 import _free_port as s3_port
            from tests.s3 import _wait_listening, make_bucket, s3_env

            port = s3_port()
            moto = subprocess.Popen(
                [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _wait_listening(port, moto)
            endpoint = f"http://127.0.0.1:{port}"
            env.update(s3_env(endpoint, make_bucket(endpoint)))
        os.environ.update(env)
        source = work / "bench.bin"
        with open(source, "wb") as fh:
            block = os.urandom(1 << 20)
            for i in range(args.mb):
                fh.write(block[i % 251 :] + block[: i % 251])  # each MiB differs, cheaply
        size = source.stat().st_size
        t0 = time.perf_counter()
        shutil.copyfile(source, work / "copy.bin")
        copy_s = time.perf_counter() - t0
        (work / "copy.bin").unlink()
        with open(source, "rb") as fh:
            expected = hashlib.file_digest(fh, "sha256").hexdigest()

        import django

        django.setup()
        from django.conf import settings
        from django.test import Client
        from django.test.utils import setup_databases, teardown_databases

        settings.DATABASES["default"]["TEST"]["NAME"] = args.db
        old = setup_databases(verbosity=0, interactive=False)
        try:
            from catalog import services
            from catalog.models import DataFile, Theme
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
            client = Client()
            client.force_login(user)
            url = urlsplit(os.environ["DATABASE_URL"])
            env["DATABASE_URL"] = urlunsplit(url._replace(path="/" + settings.DATABASES["default"]["NAME"]))
            result = upload(root, env, client.cookies["sessionid"].value, version.pk, source, args.chunk_mb << 20)
            datafile = DataFile.objects.get(version=version)
            assert datafile.sha256 == expected and datafile.size == size, "the stored file differs from the one sent"
        finally:
            teardown_databases(old, verbosity=0)
            import redis

            redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)
    finally:
        if moto is not None:
            moto.terminate()
            moto.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    mb = size / 1e6
    storage = "s3 (moto)" if args.s3 else "filesystem"
    print(f"code: {root}  storage: {storage}  file {mb:,.0f} MB in {args.chunk_mb} MiB PATCHes")
    print(f"baseline file copy:  {copy_s:7.2f} s  {mb / copy_s:8.1f} MB/s")
    print(
        f"tus upload (web):    {result['seconds']:7.2f} s  {mb / result['seconds']:8.1f} MB/s"
        f"  peak RSS {result['peak_rss_mb']:.0f} MB  (last PATCH, with completion: {result['last_patch_s']:.2f} s)"
    )
    print(
        json.dumps(
            {
                "bench": "upload",
                "root": str(root),
                "storage": "s3" if args.s3 else "filesystem",
                "mb": round(mb, 1),
                "chunk_mb": args.chunk_mb,
                "copy_s": round(copy_s, 2),
                "copy_mb_s": round(mb / copy_s, 1),
                "upload_s": round(result["seconds"], 2),
                "upload_mb_s": round(mb / result["seconds"], 1),
                "last_patch_s": round(result["last_patch_s"], 2),
                "web_peak_rss_mb": round(result["peak_rss_mb"]),
            }
        )
    )


if __name__ == "__main__":
    main()
