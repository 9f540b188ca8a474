"""The `make run` launcher (scripts/stack.py) supervises its children: one that dies is restarted with
back-off, and a signal stops everything in reverse order without a traceback.

The first tests drive the Stack class with tiny dummy children (fast); the last one runs
`scripts/stack.py run` itself against this run's PostgreSQL and Redis and kills its Celery worker.
"""

import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SLEEPER = [PY, "-c", "import time; time.sleep(120)"]
CRASHER = [PY, "-c", "raise SystemExit(3)"]


def _load_stack():
    spec = importlib.util.spec_from_file_location("stack_under_test", ROOT / "scripts" / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


stack_mod = _load_stack()


def _alive(pid: int) -> bool:
    """True for a running process; a zombie (exited, not yet reaped by whoever inherited it) is gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _wait_for(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def _state(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def test_back_off_doubles_up_to_the_cap_and_starts_over_after_a_stable_run():
    stack = stack_mod.Stack(backoff_start=1.0, backoff_max=30.0, stable_after=60.0)
    child = stack_mod.Child("worker", CRASHER, {})
    delays = []
    for _ in range(7):
        stack._schedule_restart(child, time.monotonic(), uptime=0.5)
        delays.append(child.delay)
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    stack._schedule_restart(child, time.monotonic(), uptime=61.0)
    assert child.delay == 1


def test_a_killed_child_is_restarted_and_the_state_file_follows(tmp_path, capsys):
    state_path = tmp_path / "stack.json"
    stack = stack_mod.Stack(state_path=state_path, backoff_start=0.1, poll=0.02)
    try:
        stack.add("redis-like", SLEEPER, dict(os.environ))
        stack.add("worker", SLEEPER, dict(os.environ))
        old = _state(state_path)["children"]["worker"]["pid"]
        assert _alive(old)
        os.kill(old, signal.SIGKILL)

        def restarted():
            stack.step()
            pid = _state(state_path)["children"]["worker"]["pid"]
            return pid if pid not in (None, old) else None

        new = _wait_for(restarted, timeout=10)
        assert new and _alive(new) and not _alive(old)
        worker = _state(state_path)["children"]["worker"]
        assert worker["restarts"] == 1 and worker["last_exit_code"] == -signal.SIGKILL
        assert _state(state_path)["children"]["redis-like"]["restarts"] == 0
        out = capsys.readouterr().out
        assert f"worker (pid {old}) exited with code -9 (SIGKILL)" in out
        assert "restarting it in 0.1s" in out and "worker restarted at" in out and f"pid {new}" in out
    finally:
        stack.stop()
    assert not _alive(new)
    assert not state_path.exists()


def test_a_child_that_crashes_at_once_is_restarted_ever_more_slowly(tmp_path):
    """No busy loop: with back-off 0.05 s doubling to 0.4 s, two seconds give a handful of starts."""
    stack = stack_mod.Stack(backoff_start=0.05, backoff_max=0.4, poll=0.01)
    cpu_before = time.process_time()
    try:
        stack.add("crasher", CRASHER, dict(os.environ))
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            stack.step()
            stack.sleep(stack.POLL)
        child = stack.children[0]
        assert 3 <= child.restarts <= 8, child.restarts
        assert child.delay == 0.4
    finally:
        stack.stop()
    assert time.process_time() - cpu_before < 1.0


DRIVER = textwrap.dedent(
    """
    import importlib.util, os, sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("stack", sys.argv[1])
    stack_mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack_mod)
    stack = stack_mod.Stack(state_path=Path(sys.argv[2]), backoff_start=30, poll=0.05, stop_timeout=2)
    stack.install_signal_handlers()
    try:
        stack.supervising = True
        # Ignores SIGTERM, so the stop sequence waits for it and a second signal lands in the middle.
        stack.add("stubborn", [sys.executable, "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"], dict(os.environ))
        stack.add("crasher", [sys.executable, "-c", "raise SystemExit(3)"], dict(os.environ))
        sys.exit(stack.supervise())
    finally:
        stack.stop()
    """
)


def test_signals_during_back_off_and_during_the_stop_end_cleanly(tmp_path):
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    state_path = tmp_path / "stack.json"
    log = tmp_path / "out.log"
    with open(log, "wb") as out:
        launcher = subprocess.Popen(
            [PY, str(driver), str(ROOT / "scripts" / "stack.py"), str(state_path)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # The crasher is now in a 30 s back-off sleep.
        waiting = _wait_for(
            lambda: _state(state_path).get("children", {}).get("crasher", {}).get("state") == "waiting to restart",
            timeout=20,
        )
        assert waiting, log.read_text()
        stubborn = _state(state_path)["children"]["stubborn"]["pid"]
        started = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        assert _wait_for(lambda: "stopping stubborn" in log.read_text(), timeout=10), log.read_text()
        launcher.send_signal(signal.SIGTERM)
        launcher.send_signal(signal.SIGINT)
        launcher.send_signal(signal.SIGHUP)
        code = launcher.wait(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output, output
    assert "SIGTERM received: stopping" in output
    assert "stubborn did not stop within 2s: killing it" in output
    assert elapsed < 10  # not the 30 s back-off
    assert not _alive(stubborn)
    assert "starting crasher" in output and output.count("starting crasher") == 1  # no restart once stopping


# --- `scripts/stack.py run` itself ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


@pytest.fixture
def fresh_database():
    base = os.environ["DATABASE_URL"]
    name = f"launcher_{uuid.uuid4().hex[:10]}"
    _admin_sql(base, f'CREATE DATABASE "{name}"')
    yield _with_database(base, name)
    _admin_sql(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_sql(base_url: str, sql: str) -> None:
    conn = psycopg2.connect(_with_database(base_url, "postgres"))
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def test_make_run_restarts_a_killed_worker_and_stops_everything_on_sigterm(tmp_path, fresh_database):
    """`scripts/stack.py run` on this run's PostgreSQL (a fresh database) and Redis: set-up (migrate,
    collectstatic, load_demo) takes a while, then SIGKILL the Celery worker and a new one must run
    within seconds; SIGTERM then stops every child and the launcher exits without a traceback."""
    env = dict(os.environ)
    for key in ("EMAIL_MODE", "DEV_MAILBOX", "DEV_MAILBOX_KEY", "DISABLE_RATE_LIMITS", "SITE_URL"):
        env.pop(key, None)
    var = tmp_path / "var"
    env.update(
        DATABASE_URL=fresh_database,
        VAR_DIR=str(var),
        STATIC_ROOT=str(tmp_path / "static"),
        PORT=str(_free_port()),
        WEB_WORKERS="1",
    )
    state_path = var / "run" / "stack.json"
    log = tmp_path / "launcher.log"
    with open(log, "wb") as out:
        launcher = subprocess.Popen(
            [PY, str(ROOT / "scripts" / "stack.py"), "run"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    seen: set[int] = set()
    try:

        def children_up():
            children = _state(state_path).get("children", {})
            pids = {name: c["pid"] for name, c in children.items()}
            return pids if {"worker", "beat", "web"} <= set(pids) and all(pids.values()) else None

        pids = _wait_for(children_up, timeout=420, interval=0.5)
        assert pids, log.read_text(errors="replace")[-5000:]
        assert launcher.poll() is None
        old_worker = pids["worker"]
        # Kill it once it serves, with its pool started, as in a running portal.
        assert _wait_for(lambda: re.search(r"worker@\S+ ready\.", log.read_text(errors="replace")), timeout=180)
        assert _wait_for(lambda: len(_group_members(old_worker)) >= 2, timeout=60, interval=0.2)
        seen.update(_group_members(old_worker))

        os.kill(old_worker, signal.SIGKILL)
        killed_at = time.monotonic()

        def new_worker():
            pid = _state(state_path).get("children", {}).get("worker", {}).get("pid")
            return pid if pid and pid != old_worker and _alive(pid) else None

        worker = _wait_for(new_worker, timeout=15)
        restart_s = time.monotonic() - killed_at
        assert worker, log.read_text(errors="replace")[-5000:]
        assert "celery" in Path(f"/proc/{worker}/cmdline").read_text()
        assert restart_s < 10
        # The dead worker's pool processes were cleared, not left holding tasks.
        assert _wait_for(lambda: not _group_members(old_worker), timeout=5)
        output = log.read_text(errors="replace")
        assert f"worker (pid {old_worker}) exited with code -9 (SIGKILL)" in output
        assert "worker restarted at" in output

        # The dev mailbox is opt-in: a default `make run` has none, not even for this machine.
        assert _wait_for(lambda: "is running at" in log.read_text(errors="replace"), timeout=120)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{env['PORT']}/dev/mail/", timeout=30)
        assert refused.value.code == 404
        assert "Dev mailbox: off" in log.read_text(errors="replace")

        state = _state(state_path)
        assert state["launcher"]["pid"] == launcher.pid
        for child in state["children"].values():
            seen.add(child["pid"])
            seen.update(_group_members(child["pid"]))

        launcher.send_signal(signal.SIGTERM)
        code = launcher.wait(timeout=90)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
        for pid in seen:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    output = log.read_text(errors="replace")
    assert code == 0, output[-5000:]
    # The log holds the children's output too: a traceback through the launcher is what must not be there.
    assert 'stack.py", line' not in output and "KeyboardInterrupt" not in output, output
    assert "SIGTERM received: stopping" in output
    still = [pid for pid in seen if _alive(pid)]
    assert not still, still
    assert not state_path.exists()
    print(f"worker back after {restart_s:.2f}s")
