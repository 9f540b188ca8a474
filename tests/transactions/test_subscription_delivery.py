"""Subscribers never miss a version: publication only enqueues a delivery task, which the real worker
runs, retries with back-off after a database error and runs idempotently; the housekeeping catches a
delivery whose message was lost."""

import threading

import pytest
from celery.signals import task_retry
from django.db import connection, transaction

from accounts.models import Membership
from catalog import services as catalog_services
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order
from tests.transactions.test_packaging import FILES, UTF8_CSV, _check_all, publish_files, upload, wait_for
from transactions.delivery import services
from transactions.models import Order, Package
from transactions.services import orders as order_services
from transactions.tasks import deliver_version, packages_housekeeping_task

SUBSCRIPTION = {
    "kind": "subscription",
    "price_krw": 90_000,
    "subscription_days": 30,
    "cost_basis": "월별 자료 가공·전송 비용",
}


def _subscribe(user, dataset) -> Order:
    order = place_order(user, offer_of(dataset, "subscription"), method="bank_transfer")
    with transaction.atomic():
        order_services.order_mark_paid(order=Order.objects.select_for_update().get(pk=order.pk))
    return order


def _second_subscriber():
    owner = make_user("owner@second.test", name="이서준")
    make_org(owner, name_ko="(주)도시분석", name_en="Urban Analytics", kind="consumer", brn="2208162517")
    user = make_user("buyer@second.test", name="박지우")
    Membership.objects.create(user=user, organization=owner.active_organization, role=Membership.Role.BUYER)
    user.active_organization = owner.active_organization
    user.save(update_fields=["active_organization"])
    return user


def _new_version(official, dataset):
    second = catalog_services.version_start_new(actor=official, dataset=dataset, change_note="7월 자료 추가")
    upload(official, second, "대기질.csv", (UTF8_CSV + "정왕동,2024-07-01 00:00,33\n").encode("utf-8"))
    _check_all(second)
    catalog_services.version_submit(actor=official, version=second, pii_justification="-")
    return second


@pytest.mark.django_db(transaction=True)
def test_a_failed_delivery_is_retried_until_every_subscriber_has_one_package(
    celery_worker, official, buyer, admin_user, reference_data, settings
):
    settings.PACKAGE_RETRY_DELAY_SECONDS = 1
    version = publish_files(official, admin_user, FILES[:1], offers=(SUBSCRIPTION,))
    other = _second_subscriber()
    orders = [_subscribe(buyer, version.dataset), _subscribe(other, version.dataset)]
    for order in orders:
        wait_for(
            lambda order=order: Package.objects.filter(entitlement__order_item__order=order, state="ready").exists()
        )
    second = _new_version(official, version.dataset)

    retried = threading.Event()

    def on_retry(sender=None, **kwargs):
        if sender is not None and sender.name == deliver_version.name:
            retried.set()

    task_retry.connect(on_retry, weak=False)
    # A real failure: the database refuses every package of the new version until the constraint goes.
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE transactions_package ADD CONSTRAINT test_refuse_version "
            f"CHECK (version_id <> {int(second.pk)}) NOT VALID"
        )
    try:
        catalog_services.version_approve(actor=admin_user, version=second)  # the reviewer's request succeeds
        assert retried.wait(60), "the delivery was not retried"
        assert not Package.objects.filter(version=second).exists()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE transactions_package DROP CONSTRAINT IF EXISTS test_refuse_version")
        task_retry.disconnect(on_retry)
    for order in orders:
        wait_for(
            lambda order=order: Package.objects.filter(
                entitlement__order_item__order=order, version=second, state="ready"
            ).exists(),
            timeout=90,
        )
    assert Package.objects.filter(version=second).count() == 2  # one per subscriber
    # Idempotent: running it again (a redelivered message) and the housekeeping's sweep add nothing.
    assert deliver_version.apply(args=[second.pk]).get() == 2
    assert services.packages_deliver_missing() == 0
    assert Package.objects.filter(version=second).count() == 2


@pytest.mark.django_db
def test_the_housekeeping_delivers_a_version_whose_delivery_message_was_lost(
    official, buyer, admin_user, reference_data, parked_package_builds
):
    version = publish_files(official, admin_user, FILES[:1], offers=(SUBSCRIPTION,))
    order = _subscribe(buyer, version.dataset)
    second = _new_version(official, version.dataset)
    catalog_services.version_approve(actor=admin_user, version=second)  # its delivery message goes nowhere
    assert not Package.objects.filter(version=second).exists()
    assert packages_housekeeping_task.apply().get()["delivered"] == 1
    assert Package.objects.filter(version=second, entitlement__order_item__order=order).count() == 1
    assert packages_housekeeping_task.apply().get()["delivered"] == 0


@pytest.mark.django_db
def test_a_subscription_paid_while_a_version_was_being_approved_still_gets_that_version(
    official, buyer, admin_user, reference_data, parked_package_builds
):
    """The approval sets published_at inside its transaction; a subscription paid just then (valid_from after
    published_at) got the version before it and is not "covering" the new one: the housekeeping sees an active
    subscription without a package of the current version and makes it."""
    from django.utils import timezone

    version = publish_files(official, admin_user, FILES[:1], offers=(SUBSCRIPTION,))
    second = _new_version(official, version.dataset)
    catalog_services.version_approve(actor=admin_user, version=second)
    order = _subscribe(buyer, version.dataset)
    # As the race leaves it: the subscription's package is of the earlier version, and it starts later.
    Package.objects.filter(entitlement__order_item__order=order).update(version=version)
    entitlement = order.items.get().entitlement
    type(entitlement).objects.filter(pk=entitlement.pk).update(valid_from=timezone.now())
    assert not Package.objects.filter(version=second, entitlement=entitlement).exists()
    assert packages_housekeeping_task.apply().get()["delivered"] == 1
    assert Package.objects.filter(version=second, entitlement=entitlement).count() == 1
    assert packages_housekeeping_task.apply().get()["delivered"] == 0
