"""A query store build whose worker is killed is taken over and ends ready once, leaving no partial file.

A real `celery -A marketplace worker` (prefork, one child, embedded beat) runs in a subprocess on the test database
(tests/transactions/test_package_lease.py's RealWorker); the pool child, then the whole worker, is SIGKILLed while
it loads a large CSV into the full store. The beat's housekeeping finds the lease run out and queues the build
again; the next attempt finishes. What must hold: both stores ready, one `querystore.ready` audit row each, the
store file whole (its SHA-256) and the only file under the version's folder in storage, and no scratch folder of
the killed attempt left in QUERYSTORE_WORK_DIR."""

import os
import signal
import time
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from catalog.querystore import selectors
from catalog.querystore.engine import run_sql
from catalog.querystore.models import QueryStore
from core.models import AuditEvent
from tests.transactions.test_package_lease import _publish_big, _wait, real_worker  # noqa: F401 (fixture)

S = QueryStore.State


def _configure(worker):
    worker.env.update(
        QUERYSTORE_LEASE_SECONDS="6",
        QUERYSTORE_HOUSEKEEPING_SECONDS="2",
        QUERYSTORE_WORK_DIR=str(worker.var / "qs-work"),
    )


def _store_task_pid(proc, timeout=120) -> int:
    """The pool process running the store build, as the worker reports it."""
    from marketplace.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.inspect(destination=[proc.hostname], timeout=1.0).active() or {}
        for tasks in replies.values():
            for task in tasks:
                if task["name"] == "catalog.tasks.query_stores_build_task":
                    return task["worker_pid"]
        time.sleep(0.2)
    raise AssertionError("the worker reported no running store build")


def _building(version):
    store = QueryStore.objects.filter(version=version, variant="full", state=S.BUILDING).first()
    return store if store and store.lease else None


def _assert_ready_once(version, worker):
    stores = _wait(
        lambda: (
            list(QueryStore.objects.filter(version=version, state__in=[S.READY, S.FAILED]))
            if QueryStore.objects.filter(version=version, state__in=[S.READY, S.FAILED]).count() == 2
            else None
        ),
        240,
        "both stores to end",
    )
    assert all(s.state == S.READY for s in stores), [s.error for s in stores] + [worker.log()]
    full = next(s for s in stores if s.variant == "full")
    assert full.attempts >= 2  # the killed attempt and the one that finished
    for store in stores:
        assert AuditEvent.objects.filter(action="querystore.ready", object_id=str(store.pk)).count() == 1
    assert not AuditEvent.objects.filter(action="querystore.failed").exists()
    # In storage: exactly the files the stores name, whole.
    folder = Path(default_storage.path(f"querystore/{version.pk}"))
    assert sorted(p.name for p in folder.iterdir()) == sorted(Path(s.file.name).name for s in stores)
    import hashlib

    with default_storage.open(full.file.name, "rb") as fh:
        assert hashlib.file_digest(fh, "sha256").hexdigest() == full.sha256
    # No scratch folder of any attempt left behind.
    work = worker.var / "qs-work"
    assert not work.exists() or not any(work.iterdir()), list(work.iterdir())
    # And it answers.
    sources = selectors.sources_for_version(version, "full")
    count = run_sql(sources, f"SELECT count(*) FROM {sources[0].name}", max_rows=1, timeout=30, memory_limit="256MB")
    return count.rows[0][0]


@pytest.mark.django_db(transaction=True)
def test_killing_the_pool_child_mid_store_build_still_ends_ready_once(
    real_worker,  # noqa: F811 (the fixture imported above)
    official,
    admin_user,
    reference_data,
    tmp_path,
):
    _configure(real_worker)
    dataset = _publish_big(official, admin_user, tmp_path)
    version = dataset.versions.get()
    proc = real_worker.start()
    child = _store_task_pid(proc)
    _wait(lambda: _building(version), 120, "the full store to be building")
    time.sleep(1.0)  # into the load
    os.kill(child, signal.SIGKILL)
    assert QueryStore.objects.get(version=version, variant="full").state == S.BUILDING
    rows = _assert_ready_once(version, real_worker)
    assert rows > 100_000
    assert proc.poll() is None  # the same worker carried on


@pytest.mark.django_db(transaction=True)
def test_killing_the_whole_worker_mid_store_build_still_ends_ready_once(
    real_worker,  # noqa: F811
    official,
    admin_user,
    reference_data,
    tmp_path,
):
    _configure(real_worker)
    dataset = _publish_big(official, admin_user, tmp_path)
    version = dataset.versions.get()
    proc = real_worker.start()
    _store_task_pid(proc)
    _wait(lambda: _building(version), 120, "the full store to be building")
    time.sleep(1.0)
    real_worker.kill_all(proc)  # main process, pool child and beat: nothing acknowledges or cleans up
    assert QueryStore.objects.get(version=version, variant="full").state == S.BUILDING
    real_worker.start()
    assert _assert_ready_once(version, real_worker) > 100_000
