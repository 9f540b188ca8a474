"""The portal in gunicorn for a bench's over-HTTP rounds, and a keep-alive client that times requests.

Shared by the benches that measure through the real HTTP stack (bench/api.py, bench/money.py, bench/dataapi.py,
bench/load.py, bench/soak.py): gunicorn as scripts/stack.py runs it (2 workers × 4 threads, gthread), DEBUG off, static
files by their plain names (no collectstatic manifest needed), its log in a file (a pipe nobody reads fills up and
stops the server), in its own process group so stop() ends the arbiter and its workers. start_celery_worker() starts a
real Celery worker (prefork) the same way, with the same environment, on a queue of the bench's own."""

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


def portal_env(env: dict | None = None) -> dict:
    """os.environ as the portal's processes get it in a bench: DEBUG off, no devtools, plus `env`."""
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
    return full_env


def start_gunicorn(port: int, *, timeout: int = 120, env: dict | None = None, workers: int = 2, threads: int = 4):
    """Start the portal on 127.0.0.1:`port` and wait until it accepts connections. `env` adds to os.environ."""
    full_env = portal_env(env)
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


def start_celery_worker(
    queue: str, *, env: dict | None = None, concurrency: int = 1, log_path: str | Path | None = None
) -> subprocess.Popen:
    """A real Celery worker (prefork pool of `concurrency`) consuming `queue` alone, with portal_env(env): give the
    portal (start_gunicorn) the same CELERY_TASK_DEFAULT_QUEUE in its env so that its tasks come here. Its own process
    group (stop() ends it and its pool children); its log in `log_path` (else a temporary file stop() removes).
    Returns at once: wait_celery_worker() waits until it answers."""
    full_env = portal_env({**(env or {}), "CELERY_TASK_DEFAULT_QUEUE": queue})
    keep_log = log_path is not None
    if log_path is None:
        with tempfile.NamedTemporaryFile(prefix="bench-celery-", suffix=".log", delete=False) as log:
            log_path = log.name
    name = f"{queue}@%h"
    with open(log_path, "a") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "marketplace", "worker", "-Q", queue, "--pool", "prefork",
             "--concurrency", str(concurrency), "-l", "WARNING", "-n", name, "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    worker.log_path = None if keep_log else str(log_path)
    worker.log_file = str(log_path)
    worker.queue = queue
    worker.node = name.replace("%h", socket.gethostname())
    return worker


def wait_celery_worker(worker, timeout: float = 60) -> float:
    """Wait until `worker` (start_celery_worker) answers a ping through the broker; seconds waited. Needs the Celery
    app of the calling process (Django set up) on the same broker."""
    from marketplace.celery import app

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if worker.poll() is not None:
            raise SystemExit("the Celery worker stopped: " + Path(worker.log_file).read_text(errors="replace")[-2000:])
        if app.control.ping(destination=[worker.node], timeout=1.0):
            return time.monotonic() - t0
    stop(worker)
    raise SystemExit(f"the Celery worker did not answer in {timeout:.0f} s")


def stop(process, timeout: float = 30) -> None:
    """Stop a process start_gunicorn() or start_celery_worker() started, with its process group (gunicorn's arbiter
    and workers; Celery's worker and its pool children): SIGTERM (a Celery worker finishes the task it runs), SIGKILL
    after `timeout` seconds, then SIGKILL to whatever of the group is left."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children the leader left behind (none when it stopped cleanly)
    except ProcessLookupError:
        pass
    if getattr(process, "log_path", None):
        Path(process.log_path).unlink(missing_ok=True)


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
