"""A service that locks a row with select_for_update and reads its related rows through select_related locks those
rows only when it means to (`of=("self",)`): without `of`, PostgreSQL locks every joined row FOR UPDATE too, which
conflicts with the FOR KEY SHARE a foreign key to it takes (an order line for a version, an audit row for an
organization) and makes skip_locked pass over a row for a lock on a joined one. Found in CI as a deadlock (a query
store's claim against a checkout, tests/catalog/test_querystore_locks.py); tests/test_architecture.py keeps it from
coming back. Each test holds a service inside its transaction and takes, from another connection, what a foreign key
to the joined rows takes (NOWAIT: under a FOR UPDATE it fails at once)."""

import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import Organization, User
from catalog import services as catalog_services
from catalog.models import Dataset, DatasetVersion
from catalog.services import review
from tests.catalog.test_review import _ready
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions.delivery import packaging
from transactions.delivery import services as delivery
from transactions.models import Entitlement, Order, Package
from transactions.services import orders

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of NOWAIT refused
ONE_OFF = {"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"}


@contextmanager
def held_inside(monkeypatch, module, name, work):
    """Run `work` in a thread (a connection of its own) and hold it at `module.name`, which it calls inside its
    transaction once its rows are locked, until the block ends."""
    inside, release = threading.Event(), threading.Event()
    original = getattr(module, name)

    def held(*args, **kwargs):
        inside.set()
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, held)
    failures = []

    def run():
        try:
            work()
        except Exception as error:  # (reported by the test)
            failures.append(error)
        finally:
            inside.set()  # (a failure before `name` does not keep the test waiting)
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert inside.wait(30) and not failures, f"{name} was not reached: {failures}"
        yield
    finally:
        release.set()
        thread.join(60)  # its transaction ends before the test's checks and the database's flush
    assert not thread.is_alive() and not failures, failures


def key_share_nowait(model, pk) -> None:
    """What a committing row with a foreign key to `model`'s row `pk` takes on it; fails at once under FOR UPDATE."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s FOR KEY SHARE NOWAIT", [pk])


def test_a_package_claim_leaves_its_entitlement_free_for_key_shares(monkeypatch, official, admin_user, buyer):
    dataset = publish_dataset(official, admin_user)
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    assert package.state == Package.State.QUEUED
    # entitlement_is_active: called by the claim of a queued package, under its lock.
    with held_inside(
        monkeypatch, delivery, "entitlement_is_active", lambda: delivery.package_claim(package_id=package.pk)
    ):
        key_share_nowait(Entitlement, package.entitlement_id)
    assert Package.objects.get(pk=package.pk).state == Package.State.BUILDING


def test_a_finished_build_leaves_its_version_dataset_and_entitlement_free_for_key_shares(
    monkeypatch, official, admin_user, buyer
):
    """The deadlock of CI, for a package: a checkout's order line for the version takes a key share on it."""
    dataset = publish_dataset(official, admin_user)
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    claimed = delivery.package_claim(package_id=Package.objects.get(entitlement__order_item__order=order).pk)
    result = packaging.BuildResult(size=1, sha256="0" * 64, manifest={}, name="packages/held.zip")

    def built():
        delivery.package_built(package_id=claimed.pk, lease=claimed.lease, result=result)

    # version_ready_notice: called by package_built once the package is ready, under the order's and its locks.
    with held_inside(monkeypatch, delivery.subscriptions, "version_ready_notice", built):
        key_share_nowait(Entitlement, claimed.entitlement_id)
        key_share_nowait(DatasetVersion, claimed.version_id)
        key_share_nowait(Dataset, dataset.pk)
    assert Package.objects.get(pk=claimed.pk).state == Package.State.READY


def test_the_overdue_sweep_cancels_an_order_whose_buyer_rows_are_key_shared(official, admin_user, buyer):
    """skip_locked passed over the order while its buyer organization or the user who placed it was locked by anyone,
    as while another order of theirs commits."""
    dataset = publish_dataset(official, admin_user, offers=(ONE_OFF,))
    order = place_order(buyer, offer_of(dataset, "one_off"), method="card")
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timedelta(minutes=1))
    cancelled = []

    def sweep():
        try:
            cancelled.append(orders.orders_cancel_overdue())
        finally:
            connection.close()

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {Organization._meta.db_table} WHERE id = %s FOR KEY SHARE", [order.buyer_id])
        cursor.execute(f"SELECT 1 FROM {User._meta.db_table} WHERE id = %s FOR KEY SHARE", [order.placed_by_id])
        thread = threading.Thread(target=sweep)
        thread.start()
        try:
            thread.join(30)
            assert not thread.is_alive(), "the sweep waited for the key shares"
        finally:
            thread.join(60)
    assert cancelled == [1]
    assert Order.objects.get(pk=order.pk).state == Order.State.CANCELLED


def test_an_approval_leaves_the_publisher_free_for_key_shares_and_holds_the_dataset(
    monkeypatch, official, admin_user, draft
):
    """The publisher's organization is not the decision's to lock (every order line sold by it and every audit row of
    it takes a key share on it); the dataset's row is, on purpose: it serialises what the dataset publishes."""
    version = _ready(draft)
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    # catalog_entry_refresh: called by the approval once the version is published, under its locks.
    with held_inside(
        monkeypatch, review, "catalog_entry_refresh", lambda: review.version_approve(actor=admin_user, version=version)
    ):
        key_share_nowait(Organization, official.active_organization.pk)
        with pytest.raises(OperationalError) as refused:
            key_share_nowait(Dataset, version.dataset_id)
        assert refused.value.__cause__.pgcode == LOCK_NOT_AVAILABLE
    assert DatasetVersion.objects.get(pk=version.pk).state == DatasetVersion.State.PUBLISHED


def test_an_approval_locks_its_dataset_before_its_version(official, admin_user, draft):
    """Withdrawal, the harvester and the listing changes lock a dataset before its versions; an approval locking the
    version first deadlocked with a withdrawal of it at the same moment (the provider API takes any version id). While
    another transaction holds the dataset, the approval waits for it without holding the version."""
    version = _ready(draft)
    catalog_services.version_submit(actor=official, version=version, pii_justification="-")
    outcome = []

    def approve():
        try:
            outcome.append(review.version_approve(actor=admin_user, version=version).state)
        except Exception as error:  # (reported by the test)
            outcome.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=approve)
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Dataset._meta.db_table} WHERE id = %s FOR UPDATE", [version.dataset_id])
            thread.start()
            deadline = time.monotonic() + 30
            waiting = 0
            while not waiting and time.monotonic() < deadline and not outcome:
                time.sleep(0.05)
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                )
                waiting = cursor.fetchone()[0]
            assert waiting, f"the approval did not wait for the dataset: {outcome}"
            # NOWAIT: fails at once if the approval took the version before waiting for the dataset.
            table = DatasetVersion._meta.db_table
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [version.pk])
    finally:
        thread.join(60)
    assert outcome == [DatasetVersion.State.PUBLISHED]
