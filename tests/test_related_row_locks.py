"""A service that locks a row with select_for_update and reads its related rows through select_related locks those
rows only when it means to (`of=("self",)`): without `of`, PostgreSQL locks every joined row FOR UPDATE too, which
conflicts with the FOR KEY SHARE a foreign key to it takes (an order line for a version, an audit row for an
organization) and makes skip_locked pass over a row for a lock on a joined one. Found in CI as a deadlock (a query
store's claim against a checkout, tests/catalog/test_querystore_locks.py); tests/test_architecture.py keeps it from
coming back. Each test holds a service inside its transaction and takes, from another connection, what a foreign key
to the joined rows takes (NOWAIT: under a FOR UPDATE it fails at once)."""

import threading
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import Organization, User
from catalog import services as catalog_services
from catalog.models import Dataset, DatasetVersion
from catalog.services import review
from tests.catalog.test_review import _ready
from tests.lock_support import a_backend_waits_for_a_lock, held_inside, started
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions.delivery import packaging
from transactions.delivery import services as delivery
from transactions.models import Entitlement, Order, Package
from transactions.services import orders

pytestmark = pytest.mark.django_db(transaction=True)

LOCK_NOT_AVAILABLE = "55P03"  # SQLSTATE of NOWAIT refused
ONE_OFF = {"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"}


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
    outcome, failures = [], []
    thread = None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {Dataset._meta.db_table} WHERE id = %s FOR UPDATE", [version.dataset_id])
            thread = started(
                lambda: outcome.append(review.version_approve(actor=admin_user, version=version).state), failures
            )
            waiting = a_backend_waits_for_a_lock(cursor, given_up=lambda: not thread.is_alive())
            assert waiting, f"the approval did not wait for the dataset: {failures}"
            # NOWAIT: fails at once if the approval took the version before waiting for the dataset.
            table = DatasetVersion._meta.db_table
            cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE NOWAIT", [version.pk])
    finally:
        if thread is not None:
            thread.join(60)
    assert not failures, failures
    assert outcome == [DatasetVersion.State.PUBLISHED]
