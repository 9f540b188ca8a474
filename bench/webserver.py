"""The portal in gunicorn for a bench's over-HTTP rounds, and a keep-alive client that times requests.

Shared by the benches that measure through the real HTTP stack (bench/api.py, bench/money.py, bench/dataapi.py):
gunicorn as scripts/stack.py runs it (2 workers × 4 threads, gthread), DEBUG off, static files by their plain names
(no collectstatic manifest needed), its log in a file (a pipe nobody reads fills up and stops the server), in its
own process group so stop() ends the arbiter and its workers."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(port: int, *, timeout: int = 120, env: dict | None = None, workers: int = 2, threads: int = 4):
    """Start the portal on 127.0.0.1:`port` and wait until it accepts connections. `env` adds to os.environ."""
    full_env = dict(
        os.environ,
        DJANGO_DEBUG="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        STATICFILES_STORAGE_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        **(env or {}),
    )
    full_env.pop("DEVTOOLS", None)  # the portal as it runs in production
    full_env.setdefault("MFA_REQUIRED_FOR_STAFF", "0")  # the benches' owners sign in with a password alone
    with tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False) as log:
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "marketplace.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--worker-class",
                "gthread",
                "--threads",
                str(threads),
                "--timeout",
                str(timeout),
            ],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    web.log_path = log.name
    web.port = port
    for _ in range(300):
        if web.poll() is not None:
            raise SystemExit("gunicorn stopped: " + Path(log.name).read_text(errors="replace")[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return web
        except OSError:
            time.sleep(0.1)
    stop(web)
    raise SystemExit("gunicorn did not start")


def stop(web) -> None:
    """Stop the gunicorn start_gunicorn() started (its process group: the arbiter and its workers)."""
    try:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(web.pid, signal.SIGKILL)
        web.wait(10)
    except ProcessLookupError:
        pass
    Path(web.log_path).unlink(missing_ok=True)


def rss_kb(pid: int) -> int:
    """Resident memory of a process and its children (VmHWM, the peak, of each), in KiB, from /proc."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


class Http:
    """One keep-alive connection; each request is timed as the client sees it (ms). A dropped keep-alive connection
    is reopened once. A status other than `expect` ends the bench with the answer."""

    def __init__(self, port: int, *, headers: dict | None = None, timeout: int = 120):
        self.port, self.timeout = port, timeout
        self.headers = {"Host": "127.0.0.1", "Accept-Encoding": "identity", **(headers or {})}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.last_body = b""
        self.last_headers = {}

    def request(self, method: str, url: str, *, body: bytes | None = None, headers: dict | None = None, expect=200):
        all_headers = {**self.headers, **(headers or {})}
        t0 = time.perf_counter()
        for attempt in (1, 2):
            try:
                self.conn.request(method, url, body=body, headers=all_headers)
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, OSError):
                if attempt == 2:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                t0 = time.perf_counter()
        ms = (time.perf_counter() - t0) * 1000
        if expect is not None and response.status != expect:
            raise SystemExit(f"HTTP {method} {url} answered {response.status}: {payload[:300]!r}")
        self.last_body, self.last_headers, self.last_status = payload, dict(response.getheaders()), response.status
        return ms

    def get(self, url: str, **headers) -> float:
        return self.request("GET", url, headers=headers)
