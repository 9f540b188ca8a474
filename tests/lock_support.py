"""Two transactions at once, for the tests of row locks and lock order: a service run in a thread of its own (its own
database connection), held inside its transaction where the test wants it, and a wait until a backend waits for a
lock."""

import threading
import time
from contextlib import contextmanager

from django.db import connection


def started(work, failures: list) -> threading.Thread:
    """`work` run in a thread of its own (and its own database connection, closed at the end); what it raises goes
    into `failures`."""

    def run():
        try:
            work()
        except Exception as error:  # (reported by the test)
            failures.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@contextmanager
def held_inside(monkeypatch, module, name, work):
    """Run `work` in a thread and hold it at `module.name`, which it calls inside its transaction once its rows are
    locked, until the block ends."""
    inside, release = threading.Event(), threading.Event()
    original = getattr(module, name)

    def held(*args, **kwargs):
        inside.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    failures = []

    def reached_or_failed():
        try:
            work()
        finally:
            inside.set()  # (a failure before `name` does not keep the test waiting)

    thread = started(reached_or_failed, failures)
    try:
        assert inside.wait(30) and not failures, f"{name} was not reached: {failures}"
        yield
    finally:
        release.set()
        thread.join(60)  # its transaction ends before the test's checks and the database's flush
    assert not thread.is_alive() and not failures, failures


def a_backend_waits_for_a_lock(cursor, *, seconds: float = 30, given_up=lambda: False) -> bool:
    """Whether another backend comes to wait for a lock within `seconds` (polled through `cursor`; `given_up`: stop
    early, e.g. when the thread that should wait has ended). The cursor may be inside a transaction: PostgreSQL keeps
    one snapshot of pg_stat_activity per transaction, so each poll clears it first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not given_up():
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        if cursor.fetchone()[0]:
            return True
        time.sleep(0.05)
    return False
