"""Package builds carry a lease: a build whose worker is killed is taken over and ends ready exactly once.

The first tests run a real `celery -A marketplace worker` (prefork, one child, with its embedded beat)
in a subprocess on the test database and SIGKILL it in the middle of building a package of a large
generated CSV: first its pool child, then the whole worker. The others pin the lease rules in-process:
the housekeeping requeues a stale lease, a buyer can retry it, PACKAGE_MAX_ATTEMPTS ends it failed
with the reason, and a stale attempt can neither finish over a newer one nor replace its file.
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings
from django.core.files import storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import DataFile, Licence, Theme
from core.errors import NotAllowed
from core.models import AuditEvent
from tests.transactions.conftest import offer_of, place_order
from transactions.delivery import packaging, selectors, services
from transactions.models import Package
from transactions.tasks import build_package, packages_housekeeping_task

K = Package.State
ROOT = Path(__file__).resolve().parents[2]
ROWS_MB = int(os.environ.get("LEASE_TEST_CSV_MB", "160"))  # big enough that a build takes seconds here


# --- A real worker in a subprocess ---------------------------------------------------------------------


def _database_url() -> str:
    """The test database (test_<name>), as a URL the subprocess's settings read: the run's own DATABASE_URL
    (host, port, a unix socket in its query string for the embedded server of `make test`) with the
    test database's name as its path."""
    url = urlsplit(os.environ.get("DATABASE_URL") or django_settings.DATABASE_URL)
    return urlunsplit(url._replace(path="/" + quote(connection.settings_dict["NAME"])))


class RealWorker:
    """`celery -A marketplace worker -P prefork -c 1 -B` on a queue of its own, same Redis and test
    database as this test run, storage in the session's private folder, e-mail written to var/mail."""

    def __init__(self, queue: str, var: Path):
        self.queue, self.var = queue, var
        self.procs: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "CELERY_TASK_DEFAULT_QUEUE": queue,
            "PRIVATE_STORAGE_ROOT": django_settings.STORAGES["default"]["OPTIONS"]["location"],
            "VAR_DIR": str(var),
            "PACKAGE_WORK_DIR": str(var / "packages"),
            "EMAIL_MODE": "console+file",
            "SITE_URL": "http://testserver",
            "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or "test-secret-key-not-for-production",
            "PACKAGE_HEARTBEAT_SECONDS": "1",
            "PACKAGE_LEASE_SECONDS": "6",
            "PACKAGE_HOUSEKEEPING_SECONDS": "2",
            "PACKAGE_RETRY_DELAY_SECONDS": "1",
            "DB_CONN_MAX_AGE": "0",
        }

    def start(self) -> subprocess.Popen:
        name = f"lease-{uuid.uuid4().hex[:6]}@%h"
        log = open(self.var / f"worker-{len(self.procs)}.log", "wb")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "marketplace",
                "worker",
                "-P",
                "prefork",
                "-c",
                "1",
                "-Q",
                self.queue,
                "-n",
                name,
                "-B",
                "-s",
                str(self.var / f"beat-{len(self.procs)}"),
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.hostname = name.replace("%h", os.uname().nodename)
        self.procs.append(proc)
        return proc

    def pool_child_running(self, proc, timeout=60) -> int:
        """The pid of the pool process running a task, as the worker itself reports it."""
        from marketplace.celery import app

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = app.control.inspect(destination=[proc.hostname], timeout=1.0).active() or {}
            for tasks in replies.values():
                for task in tasks:
                    if task["name"] == "transactions.tasks.build_package":
                        return task["worker_pid"]
            time.sleep(0.2)
        raise AssertionError("the worker reported no running build")

    def kill_all(self, proc, sig=signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in self.procs:
            for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 30)):
                try:
                    os.killpg(proc.pid, sig)  # the main process and any child left behind
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    continue

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.var.glob("worker-*.log")))


@pytest.fixture
def real_worker(transactional_db, tmp_path):
    """A queue for this test (the in-process app sends there), the subprocess worker factory, and on
    the way out: the workers stopped, the queue and the messages a killed worker left unacknowledged
    in Redis removed (they would otherwise come back after the visibility timeout)."""
    from marketplace.celery import app

    queue = f"lease-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    worker = RealWorker(queue, tmp_path)
    try:
        yield worker
    finally:
        worker.stop()
        app.conf.task_default_queue = previous
        with app.connection_for_write() as conn:
            client = conn.default_channel.client
            for tag, raw in (client.hgetall("unacked") or {}).items():
                if json.loads(raw)[2] == queue:
                    client.hdel("unacked", tag)
                    client.zrem("unacked_index", tag)
            client.delete(queue, f"_kombu.binding.{queue}")


NO_DIGITS = str.maketrans("0123456789", "ghijklmnop")  # long digit runs would look like resident numbers to the checks


def _publish_big(official, admin, tmp_path):
    """A free dataset with one large CSV (random letters compress slowly), through the real services."""
    from catalog.tasks import datafile_check_task

    path = tmp_path / "big.csv"
    with open(path, "wb") as fh:
        fh.write(b"id,value\n")
        row = 0
        while fh.tell() < ROWS_MB << 20:
            block = os.urandom(1 << 19).hex().translate(NO_DIGITS)
            fh.write("".join(f"{row + i},{block[i * 64 : (i + 1) * 64]}\n" for i in range(len(block) // 64)).encode())
            row += len(block) // 64
    version = catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko="대용량 측정 자료",
        title_en="Large data",
        description_ko="큰 파일입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="대용량",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email=official.email,
        update_cadence="daily",
        data_kind="public",
        licence=Licence.objects.get(code="kogl-1"),
    )
    size = path.stat().st_size
    up = catalog_services.upload_create(actor=official, version=version, filename="큰자료.csv", length=size)
    with open(path, "rb") as fh:
        catalog_services.upload_append(actor=official, upload=up, offset=0, stream=fh)
    path.unlink()
    for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])
    catalog_services.offer_create(actor=official, dataset=version.dataset, kind="free")
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    catalog_services.version_approve(actor=admin, version=version)
    return version.dataset


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _package_folder(package) -> Path:
    return Path(storage.default_storage.path(services.storage_name(package))).parent


def _part_growing(package):
    folder = _package_folder(package)
    parts = list(folder.glob(".*.part")) if folder.is_dir() else []
    return next((p for p in parts if p.stat().st_size > 4 << 20), None)


def _assert_ready_once(package, worker, started):
    package = _wait(
        lambda: Package.objects.filter(pk=package.pk, state__in=[K.READY, K.FAILED]).first(), 240, "the package to end"
    )
    elapsed = time.monotonic() - started
    assert package.state == K.READY, package.error + worker.log()
    assert package.attempts >= 2  # the killed attempt and the one that finished
    assert AuditEvent.objects.filter(action="package.ready", object_id=str(package.pk)).count() == 1
    assert AuditEvent.objects.filter(action="order.fulfilled").count() == 1
    assert not AuditEvent.objects.filter(action="package.failed").exists()
    # One file in storage, the one the package names, whole; no partial file anywhere.
    folder = _package_folder(package)
    assert sorted(p.name for p in folder.iterdir()) == [Path(package.file.name).name]
    with storage.default_storage.open(package.file.name, "rb") as fh:
        assert packaging.sha256_of(fh) == package.sha256
    packaging.verify_package(storage.default_storage.path(package.file.name))
    work = worker.var / "packages"
    assert not work.exists() or not any(work.iterdir())
    # Nobody was told it failed (e-mail goes through the worker, into var/mail).
    mails = [p.read_bytes() for p in (worker.var / "mail").glob("*.eml")] if (worker.var / "mail").exists() else []
    assert not [m for m in mails if b"failed" in m.lower() or "실패".encode() in m]
    return package, elapsed


@pytest.mark.django_db(transaction=True)
def test_killing_the_pool_child_mid_build_still_ends_ready_once(
    real_worker, official, buyer, admin_user, reference_data, tmp_path
):
    dataset = _publish_big(official, admin_user, tmp_path)
    proc = real_worker.start()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    child = real_worker.pool_child_running(proc, timeout=120)
    part = _wait(lambda: _part_growing(package), 120, "bytes to move")
    started = time.monotonic()
    os.kill(child, signal.SIGKILL)
    killed = Package.objects.get(pk=package.pk)
    assert killed.state == K.BUILDING and killed.progress < 100  # killed mid-build
    package, elapsed = _assert_ready_once(package, real_worker, started)
    assert not part.exists()  # the killed attempt's .part was swept
    assert proc.poll() is None  # the same worker carried on
    print(f"pool child killed → ready in {elapsed:.1f} s, attempts {package.attempts}")


@pytest.mark.django_db(transaction=True)
def test_killing_the_whole_worker_mid_build_still_ends_ready_once(
    real_worker, official, buyer, admin_user, reference_data, tmp_path
):
    dataset = _publish_big(official, admin_user, tmp_path)
    proc = real_worker.start()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    real_worker.pool_child_running(proc, timeout=120)
    part = _wait(lambda: _part_growing(package), 120, "bytes to move")
    started = time.monotonic()
    real_worker.kill_all(proc)  # main process, pool child and beat: nothing acknowledges or cleans up
    assert Package.objects.get(pk=package.pk).state == K.BUILDING
    real_worker.start()
    package, elapsed = _assert_ready_once(package, real_worker, started)
    assert not part.exists()
    print(f"whole worker killed → ready in {elapsed:.1f} s, attempts {package.attempts}")


# --- The lease rules, in-process -----------------------------------------------------------------------


def _stale(package, seconds=3600):
    Package.objects.filter(pk=package.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=seconds))


def _leftovers(package) -> list[Path]:
    """Partial files a killed attempt leaves behind: a .part next to the ZIP and a temporary ZIP in
    PACKAGE_WORK_DIR (the S3 path)."""
    name = services.storage_name(package)
    folder, prefix, work, work_prefix = packaging._partials(name, storage.default_storage)
    folder.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{prefix}{uuid.uuid4().hex}.part", work / f"{work_prefix}{uuid.uuid4().hex}.zip"]
    for f in files:
        f.write_bytes(b"half a zip")
    return files


@pytest.mark.django_db
def test_housekeeping_requeues_a_build_whose_lease_expired(
    buyer, publish, parked_package_builds, django_capture_on_commit_callbacks
):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = services.package_claim(package_id=Package.objects.get(entitlement__order_item__order=order).pk)
    leftovers = _leftovers(package)
    assert packages_housekeeping_task.apply().get()["recovered"] == 0  # its heartbeat is fresh
    assert Package.objects.get(pk=package.pk).state == K.BUILDING
    _stale(package)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert packages_housekeeping_task.apply().get()["recovered"] == 1
    package.refresh_from_db()
    assert package.state == K.QUEUED and package.lease is None and package.attempts == 1
    assert "stopped" in selectors.error_parts(package.error, "en")[0]
    assert not any(f.exists() for f in leftovers)  # swept
    assert len(callbacks) >= 2  # the sweep and the build enqueued again
    # The requeued package builds (the message the housekeeping sent is parked; run the task here).
    assert build_package.apply(args=[package.pk]).get() == "ready"
    assert Package.objects.get(pk=package.pk).attempts == 2


@pytest.mark.django_db
def test_a_buyer_can_retry_a_build_whose_lease_expired(buyer, outsider, publish, parked_package_builds):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = services.package_claim(package_id=Package.objects.get(entitlement__order_item__order=order).pk)
    assert services.package_retry(actor=buyer, package=package).state == K.BUILDING  # alive: left alone
    _stale(package)
    with pytest.raises(NotAllowed):
        services.package_retry(actor=outsider, package=package)
    retried = services.package_retry(actor=buyer, package=package)
    assert retried.state == K.QUEUED and retried.attempts == 0
    assert (
        AuditEvent.objects.filter(action="package.retried", object_id=str(package.pk), data__lease_expired=True).count()
        == 1
    )
    assert build_package.apply(args=[package.pk]).get() == "ready"
    # The dead attempt can no longer finish, fail or release the package.
    services.package_fail(package_id=package.pk, lease=package.lease, exc=OSError("late"))
    services.package_release(package_id=package.pk, lease=package.lease, exc=OSError("late"), retry_in=1)
    assert Package.objects.get(pk=package.pk).state == K.READY


@pytest.mark.django_db
def test_after_max_attempts_a_lost_build_fails_with_the_reason(
    buyer,
    admin_user,
    publish,
    parked_package_builds,
    settings,
    mailoutbox,
    eager_celery,
    django_capture_on_commit_callbacks,
):
    settings.PACKAGE_MAX_ATTEMPTS = 2
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package_id = Package.objects.get(entitlement__order_item__order=order).pk
    eager_celery.conf.task_always_eager = False
    services.package_claim(package_id=package_id)  # attempt 1: its worker dies
    _stale(Package.objects.get(pk=package_id))
    attempt = services.package_claim(package_id=package_id)  # the redelivered message takes over: attempt 2
    assert attempt.attempts == 2 and attempt.state == K.BUILDING
    leftovers = _leftovers(attempt)
    _stale(attempt)  # that worker dies too
    eager_celery.conf.task_always_eager = True  # e-mails are sent here, into mailoutbox
    with django_capture_on_commit_callbacks(execute=True):
        assert packages_housekeeping_task.apply().get()["recovered"] == 1
    package = Package.objects.get(pk=package_id)
    assert package.state == K.FAILED and package.lease is None
    korean, english, detail = package.error.splitlines()
    assert english == "The worker stopped 2 times while building the package."
    assert korean == "패키지를 만드는 동안 작업 프로세스가 2번 중단되었습니다."
    assert not any(f.exists() for f in leftovers)
    assert AuditEvent.objects.filter(action="package.failed", object_id=str(package_id)).count() == 1
    recipients = {address for message in mailoutbox for address in message.to}
    assert buyer.email in recipients and admin_user.email in recipients
    # A late redelivery of the message finds it failed and does nothing.
    assert build_package.apply(args=[package_id]).get() == "not claimed"


@pytest.mark.django_db
def test_a_stale_attempt_cannot_overwrite_a_newer_attempts_result(buyer, publish, parked_package_builds):
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package_id = Package.objects.get(entitlement__order_item__order=order).pk
    old = services.package_claim(package_id=package_id)
    _stale(old)  # paused past its lease (a frozen VM, a long GC): not dead, only late
    new = services.package_claim(package_id=package_id)
    assert new.lease != old.lease and new.attempts == 2
    services.package_build(package=new)
    ready = Package.objects.get(pk=package_id)
    assert ready.state == K.READY
    # The old attempt wakes up and finishes its own build: it may not install its file nor finish.
    with pytest.raises(services.LeaseLost):
        services.package_build(package=old)
    after = Package.objects.get(pk=package_id)
    assert (after.state, after.sha256, after.lease, after.finished_at) == (
        K.READY,
        ready.sha256,
        new.lease,
        ready.finished_at,
    )
    with storage.default_storage.open(after.file.name, "rb") as fh:
        assert packaging.sha256_of(fh) == ready.sha256  # the file is the newer attempt's
    assert sorted(p.name for p in _package_folder(after).iterdir()) == [Path(after.file.name).name]
    assert AuditEvent.objects.filter(action="package.ready", object_id=str(package_id)).count() == 1
    # A heartbeat of the old attempt is refused, which stops it while bytes still move.
    assert services.package_heartbeat(package_id=package_id, lease=old.lease) is False


def test_the_housekeeping_runs_often_enough_for_leases():
    entry = next(
        e
        for e in django_settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "transactions.tasks.packages_housekeeping_task"
    )
    assert entry["schedule"] <= 60
    assert django_settings.PACKAGE_LEASE_SECONDS <= 600 and django_settings.PACKAGE_MAX_ATTEMPTS >= 2


@pytest.mark.django_db
def test_a_package_left_queued_is_sent_again_once_per_stale_period_not_every_minute(
    buyer, publish, parked_package_builds
):
    """A queued package whose message was lost (or sits behind a long backlog) gets one more message per
    STALE_QUEUED, however often the housekeeping runs (it runs every minute)."""
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert package.enqueued_at is not None  # stamped when its first message went out
    an_hour_ago = timezone.now() - timedelta(hours=1)
    Package.objects.filter(pk=package.pk).update(created_at=an_hour_ago, enqueued_at=an_hour_ago)
    runs = [packages_housekeeping_task.apply().get()["requeued"] for _ in range(3)]
    assert runs == [1, 0, 0]
    assert Package.objects.get(pk=package.pk).enqueued_at > an_hour_ago


@pytest.mark.django_db
def test_a_build_whose_worker_stopped_offers_the_buyer_and_admins_a_retry(
    client, buyer, admin_user, publish, parked_package_builds
):
    """While the housekeeping has not yet taken it over, an interrupted build says so, with a retry button on
    the order page and on the admins' failed-packages page (a frozen "building 37 %" helps nobody)."""
    dataset = publish()
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = services.package_claim(package_id=Package.objects.get(entitlement__order_item__order=order).pk)
    Package.objects.filter(pk=package.pk).update(progress=37)
    client.force_login(buyer)
    live = client.get(reverse("transactions:order_live", args=[order.number])).content.decode()
    assert f'id="retry-{package.pk}"' not in live  # its heartbeat is fresh: still building
    _stale(package)
    live = client.get(reverse("transactions:order_live", args=[order.number])).content.decode()
    assert f'id="retry-{package.pk}"' in live and "중단됨" in live
    client.force_login(admin_user)
    staff = client.get(reverse("delivery_staff:failed_packages")).content.decode()
    assert f'id="staff-retry-{package.pk}"' in staff
    client.post(reverse("transactions:package_retry", args=[package.pk]))
    assert Package.objects.get(pk=package.pk).state == K.QUEUED


def test_a_starting_worker_removes_the_stale_work_files_of_its_node(settings, tmp_path):
    """With object storage the ZIP is written on the worker's node first: what a killed worker left there is
    removed when a worker starts on that node (an hour old), while a file in use stays."""
    from transactions.tasks import sweep_work_dir_at_start

    settings.PACKAGE_WORK_DIR = tmp_path
    old, fresh = tmp_path / "packages_1_2_x.zip.abc.zip", tmp_path / "packages_1_3_y.zip.def.zip"
    old.write_bytes(b"half"), fresh.write_bytes(b"half")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    sweep_work_dir_at_start(sender=None)
    assert (old.exists(), fresh.exists()) == (False, True)
