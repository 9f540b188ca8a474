"""A harvest run survives its worker: a real `celery worker` (prefork, with its beat) is SIGKILLed in the middle of
a run; the next worker's beat (harvest_due) finds the run's lease run out, hands it to a worker, which takes it
over and resumes at the page after the last one committed. Every record ends imported exactly once."""

import copy
import signal
import time

import pytest

from catalog.harvest.models import HarvestedDataset, HarvestRecord, HarvestRun
from catalog.harvest.tasks import harvest_run
from catalog.models import Dataset, DatasetVersion
from core.models import AuditEvent
from tests.interop.harvest_support import ANSAN_RULES, FakeSource, ckan_pages, make_run, make_source, recorded_packages
from tests.transactions.test_package_lease import real_worker  # noqa: F401  (the subprocess worker fixture)

ROWS, PAGES = 5, 30


def many_packages(n: int) -> list:
    template = recorded_packages()[0]
    packages = []
    for i in range(n):
        package = copy.deepcopy(template)
        package.update(id=f"pkg-{i:05d}", name=f"ansan-data-{i:05d}", title=f"안산시 측정 자료 {i:05d}")
        packages.append(package)
    return packages


def wait_for(predicate, timeout: float, what: str, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{log()}")


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_loses_and_doubles_nothing(real_worker, official, admin_user, reference_data):  # noqa: F811
    real_worker.env.update(
        HARVEST_CKAN_ROWS=str(ROWS),
        HARVEST_LEASE_SECONDS="4",
        HARVEST_DUE_SECONDS="1",
        HARVEST_RETRY_BACKOFF_SECONDS="0.1",
    )
    packages = many_packages(ROWS * PAGES)
    with FakeSource(ckan_pages(packages), delay=0.3) as portal:
        source = make_source(admin_user, official.active_organization, portal.url, mapping=ANSAN_RULES)
        run = make_run(source, requested_by=admin_user)
        first = real_worker.start()
        harvest_run.delay(run.pk)

        def progressed():
            run.refresh_from_db()
            return (run.cursor.get("next") or {}).get("start", 0) >= 6 * ROWS

        wait_for(progressed, 90, "the first worker to commit six pages", real_worker.log)
        real_worker.kill_all(first, signal.SIGKILL)
        run.refresh_from_db()
        killed_at = run.cursor["next"]["start"]
        assert run.state == HarvestRun.State.RUNNING and run.attempts == 1
        assert killed_at < ROWS * PAGES, "the run finished before the kill: make the source slower"
        imported_before = Dataset.objects.filter(publisher=official.active_organization).count()
        assert imported_before == killed_at  # a page and the cursor past it commit together

        real_worker.start()

        def finished():
            run.refresh_from_db()
            return run.state in (HarvestRun.State.DONE, HarvestRun.State.FAILED)

        wait_for(finished, 120, "the second worker to take the run over and finish it", real_worker.log)
        starts = [int(q["start"]) for _path, q in portal.requests]

    run.refresh_from_db()
    assert run.state == HarvestRun.State.DONE, (run.error_en, real_worker.log())
    assert run.attempts == 2 and run.added == ROWS * PAGES and run.seen == ROWS * PAGES and run.failed == 0
    assert HarvestRecord.objects.filter(run=run).count() == ROWS * PAGES
    assert HarvestedDataset.objects.filter(source=source).count() == ROWS * PAGES
    assert Dataset.objects.filter(publisher=official.active_organization).count() == ROWS * PAGES
    assert DatasetVersion.objects.filter(dataset__harvest__source=source).count() == ROWS * PAGES  # one each
    # Resumed, not restarted: every page before the one it was killed on was read once.
    assert all(starts.count(start) == 1 for start in range(0, killed_at, ROWS)), starts
    assert starts.count(killed_at) >= 1 and sorted(set(starts)) == list(range(0, ROWS * PAGES, ROWS))
    taken = AuditEvent.objects.get(action="harvest.taken_over", object_id=str(run.pk))
    assert taken.data["attempt"] == 2 and taken.data["cursor"]["next"]["start"] == killed_at
