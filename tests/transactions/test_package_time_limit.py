"""Issue 13: a package build that hangs while its worker stays alive (a storage read that never
returns) ends visibly: the build message carries soft and hard time limits scaled to the data, and the
soft one takes the retry-then-fail path. With a real prefork worker and a FIFO standing in for the
stored file (opening it blocks forever, like a stuck network mount)."""

import os
import time
from pathlib import Path

import pytest
from django.core.files import storage

from catalog.models import DataFile
from core.models import AuditEvent
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_package_lease import real_worker  # noqa: F401 (a fixture)
from tests.transactions.test_packaging import publish_files, wait_for
from transactions.models import Package

K = Package.State
FORMULAS = "항목,값,숫자\n가,=1+1,-3.2\n".encode()


@pytest.mark.django_db(transaction=True)
def test_a_build_stuck_on_a_storage_read_ends_failed_on_its_time_limit_with_a_real_worker(
    real_worker,  # noqa: F811 (the fixture imported above)
    official,
    buyer,
    admin_user,
    reference_data,
    settings,
):
    # The limits travel with the build message (computed where it is sent: here); the worker retries once.
    settings.PACKAGE_TIME_LIMIT_BASE_SECONDS = 3
    settings.PACKAGE_TIME_LIMIT_SECONDS_PER_GB = 0
    settings.PACKAGE_TIME_LIMIT_GRACE_SECONDS = 60
    real_worker.env.update(PACKAGE_MAX_ATTEMPTS="2", PACKAGE_TIME_LIMIT_BASE_SECONDS="3")
    real_worker.env.update(PACKAGE_TIME_LIMIT_SECONDS_PER_GB="0", PACKAGE_TIME_LIMIT_GRACE_SECONDS="60")
    version = publish_files(official, admin_user, [("수식.csv", FORMULAS)])
    # Storage that hangs: the stored original becomes a FIFO nobody writes to, so opening it never returns
    # (a stuck network mount behaves the same). The heartbeat thread keeps the lease alive meanwhile. (The
    # publication's task making the Excel copy hangs on it too, and ends on its own soft limit first.)
    path = Path(storage.default_storage.path(DataFile.objects.get(version=version).file.name))
    path.unlink()
    os.mkfifo(path)
    proc = real_worker.start()
    order = place_order(buyer, offer_of(version.dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    started = time.monotonic()
    package = wait_for(
        lambda: Package.objects.filter(pk=package.pk, state__in=[K.FAILED, K.READY]).first(), timeout=120
    )
    elapsed = time.monotonic() - started
    assert package.state == K.FAILED, real_worker.log()
    assert package.attempts == 2  # retried once, as any transient failure
    assert "제한 시간을 넘어 중단했습니다" in package.error, real_worker.log()
    assert "took longer than its time limit" in package.error and "soft time limit of 3 s" in package.error
    assert AuditEvent.objects.filter(action="package.failed", object_id=str(package.pk)).count() == 1
    assert elapsed < 60  # the soft limits (2 × 3 s) and the retry, not the hard limit (63 s)
    assert proc.poll() is None  # the worker lives on
    print(f"stuck build failed after {elapsed:.1f} s")
