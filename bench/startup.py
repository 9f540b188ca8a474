"""How long `make run`'s launcher takes to serve a healthy portal, cold and warm, and to stop.

    .venv/bin/python bench/startup.py [--port 8765]

Runs scripts/stack.py run twice on a fresh data directory (embedded PostgreSQL and Redis):
the first start initialises the database, migrates, collects static files and loads the demo
data; the second reuses all of it. "Ready" means GET /healthz answered 200 (database, Redis and
a Celery worker all reachable). Set-up of the virtualenv and npm packages is not included.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 300) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"launcher exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("portal did not become healthy")


def one_start(var: Path, port: int, log) -> tuple[float, float]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"}
    }
    env.update(VAR_DIR=str(var), PORT=str(port), STATIC_ROOT=str(var / "static"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "scripts/stack.py", "run"], cwd=ROOT, env=env, stdout=log, stderr=log)
    ready = wait_healthy(port, proc)
    t1 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    stopped = time.perf_counter() - t1
    assert ready <= time.perf_counter() - t0
    return ready, stopped


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="mkt-bench-"))
    log_path = var.parent / f"{var.name}.log"
    try:
        with open(log_path, "w") as log:
            cold, cold_stop = one_start(var, args.port, log)
            warm, warm_stop = one_start(var, args.port, log)
        leftovers = subprocess.run(["pgrep", "-f", str(var)], capture_output=True, text=True).stdout.split()
        print(f"first start (empty data dir) to healthy: {cold:6.2f} s   stop: {cold_stop:.2f} s")
        print(f"second start (data reused)   to healthy: {warm:6.2f} s   stop: {warm_stop:.2f} s")
        print(f"processes left running after stop: {len(leftovers)}")
        print(
            json.dumps(
                {
                    "bench": "startup",
                    "cold_ready_s": round(cold, 2),
                    "warm_ready_s": round(warm, 2),
                    "cold_stop_s": round(cold_stop, 2),
                    "warm_stop_s": round(warm_stop, 2),
                    "leftover_processes": len(leftovers),
                }
            )
        )
    finally:
        shutil.rmtree(var, ignore_errors=True)
        log_path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
