"""Publishing a version queues the build of its query stores in the real worker; a build whose worker died is
taken over by the housekeeping beat; a store that keeps failing ends visibly."""

import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.querystore import selectors as qs_selectors
from catalog.querystore import services as qs_services
from catalog.querystore.engine import run_sql
from catalog.querystore.models import QueryStore
from catalog.tasks import query_stores_housekeeping_task
from tests.transactions.test_packaging import publish_files

CSV = "측정일시,측정소,PM10\n" + "".join(f"2024-06-01 {h:02d}:00,정왕동,{20 + h}\n" for h in range(24))


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _ready_stores(version):
    stores = list(QueryStore.objects.filter(version=version, state=QueryStore.State.READY))
    return stores if len(stores) == 2 else None


def test_publishing_a_version_loads_its_query_stores_in_the_worker(celery_worker, official, admin_user, reference_data):
    version = publish_files(official, admin_user, [("대기질.csv", CSV.encode())])
    stores = wait_for(lambda: _ready_stores(version))
    assert {s.variant for s in stores} == {"full", "sample"}
    assert all(s.attempts == 1 and s.lease is None and s.built_at for s in stores)
    sources = qs_selectors.sources_for_version(version, "full")
    assert [s.name for s in sources] == ["daegijil"]
    result = run_sql(sources, "SELECT sum(PM10) FROM daegijil", max_rows=5, timeout=5, memory_limit="128MB")
    assert result.rows == [(sum(20 + h for h in range(24)),)]
    # The state changes are audited like every other.
    from core.models import AuditEvent

    assert AuditEvent.objects.filter(action="querystore.ready").count() == 2


def test_a_build_whose_worker_died_is_taken_over_by_the_housekeeping(
    celery_worker, official, admin_user, reference_data, settings
):
    version = publish_files(official, admin_user, [("대기질.csv", CSV.encode())])
    wait_for(lambda: _ready_stores(version))
    # A worker took the lease of a fresh build and died: the store stays "building" with a lease that ran out.
    QueryStore.objects.filter(version=version).delete()
    QueryStore.objects.create(
        version=version,
        variant="full",
        state="building",
        lease=uuid.uuid4(),
        leased_until=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    assert query_stores_housekeeping_task.apply().get() >= 1
    stores = wait_for(lambda: _ready_stores(version))
    full = next(s for s in stores if s.variant == "full")
    assert full.attempts == 2  # the dead worker's attempt and the one that finished


@pytest.mark.django_db
def test_a_store_whose_builders_keep_dying_fails_visibly(official, admin_user, reference_data, settings):
    version = publish_files(official, admin_user, [("대기질.csv", CSV.encode())])
    QueryStore.objects.create(
        version=version,
        variant="full",
        state="building",
        lease=uuid.uuid4(),
        leased_until=timezone.now() - timedelta(seconds=1),
        attempts=settings.QUERYSTORE_MAX_ATTEMPTS,
    )
    assert qs_services.query_store_build(version_id=version.pk, variant="full") == "failed"
    store = QueryStore.objects.get(version=version, variant="full")
    assert store.state == "failed" and store.lease is None
    assert "쿼리 저장소" in store.error["ko"] and "query store" in store.error["en"]


@pytest.mark.django_db
def test_a_fresh_lease_is_left_to_its_holder(official, admin_user, reference_data):
    version = publish_files(official, admin_user, [("대기질.csv", CSV.encode())])
    lease = uuid.uuid4()
    QueryStore.objects.create(
        version=version,
        variant="full",
        state="building",
        lease=lease,
        leased_until=timezone.now() + timedelta(minutes=1),
        attempts=1,
    )
    assert qs_services.query_store_build(version_id=version.pk, variant="full") == "building"
    store = QueryStore.objects.get(version=version, variant="full")
    assert store.lease == lease and store.attempts == 1
    # The holder's result is recorded only under its own lease.
    assert (
        qs_services.query_store_built(pk=store.pk, lease=uuid.uuid4(), name="x", size=1, sha256="0", tables=[]) is None
    )


@pytest.mark.django_db
def test_a_dead_builders_work_directory_is_removed_when_its_store_is_built_again(
    official, admin_user, reference_data, settings, tmp_path
):
    """A builder killed midway left its work directory (a partial store and the scratch copy of the data, gigabytes
    for a large table) on the node for ever; the builder that takes the store over removes it."""
    settings.QUERYSTORE_WORK_DIR = tmp_path
    version = publish_files(official, admin_user, [("대기질.csv", CSV.encode())])
    leftover = tmp_path / f"qs-{version.pk}-full-dead1234"
    leftover.mkdir()
    (leftover / "store.duckdb").write_bytes(b"partial" * 1000)
    (leftover / "scratch.duckdb").write_bytes(b"scratch" * 1000)
    other = tmp_path / f"qs-{version.pk + 1000}-full-alive"  # another store's: left alone
    other.mkdir()
    QueryStore.objects.create(
        version=version,
        variant="full",
        state="building",
        lease=uuid.uuid4(),
        leased_until=timezone.now() - timedelta(seconds=1),
        attempts=1,
    )
    assert qs_services.query_store_build(version_id=version.pk, variant="full") == "ready"
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name]
