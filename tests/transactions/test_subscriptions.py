"""Subscriptions that live: a renewal reminder once and on time, renewal as a new order at the price then in
force (the old order keeps its terms) chained without gap or overlap, cancelling keeps the current period,
periods end on time (downloads and signed links stop, the buyer is told once), and each new version reaches
each subscriber as one package and one e-mail however often, or concurrently, the delivery runs."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.core.files import storage
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from catalog import services as catalog_services
from core.errors import DomainError, NotAllowed
from marketplace.celery import app
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from tests.transactions.test_subscription_delivery import SUBSCRIPTION, _new_version, _second_subscriber
from transactions import selectors
from transactions.delivery import services as delivery
from transactions.models import Entitlement, Order, Package, Subscription, SubscriptionNotice
from transactions.services import orders as order_services
from transactions.services import subscriptions
from transactions.tasks import (
    build_package,
    deliver_version,
    packages_housekeeping_task,
    subscriptions_expire_task,
    subscriptions_remind_task,
)


def _pay(order: Order) -> Order:
    with transaction.atomic():
        return order_services.order_mark_paid(order=Order.objects.select_for_update().get(pk=order.pk))


def _subscribe(user, dataset) -> Entitlement:
    order = _pay(place_order(user, offer_of(dataset, "subscription"), method="bank_transfer"))
    return Entitlement.objects.get(order_item__order=order)


@pytest.fixture
def monthly(publish):
    """A public dataset offered by a 30-day subscription at 90,000 won + VAT."""
    return publish(offers=(SUBSCRIPTION,))


def _mails(mailoutbox, word):
    return [m for m in mailoutbox if word in m.subject]


def _travel(when):
    return time_machine.travel(when, tick=False)


# --- Reminder ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reminder_is_sent_on_the_right_day_and_once(
    buyer, monthly, settings, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    settings.SUBSCRIPTION_REMINDER_DAYS = 7
    period = _subscribe(buyer, monthly)
    end = period.valid_until
    assert period.subscription.state == Subscription.State.ACTIVE
    mailoutbox.clear()

    with _travel(end - timedelta(days=7, minutes=1)):  # one minute too early
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions_remind_task.apply().get() == 0
    assert not mailoutbox

    with _travel(end - timedelta(days=7) + timedelta(minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions_remind_task.apply().get() == 1
            assert subscriptions_remind_task.apply().get() == 0  # the task runs again: nothing more
    with _travel(end - timedelta(days=2)):
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions_remind_task.apply().get() == 0  # and days later: still once per period
    [mail] = mailoutbox
    assert buyer.email in mail.to
    assert end.astimezone(timezone.get_current_timezone()).strftime("%Y-%m-%d") in mail.subject
    assert "99,000" in mail.body  # the renewal at today's price, VAT included
    assert reverse("transactions:subscriptions") in mail.body
    assert SubscriptionNotice.objects.filter(entitlement=period, kind="reminder").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_reminder_runs_send_one_e_mail(
    buyer, official, admin_user, reference_data, settings, mailoutbox, parked_package_builds
):
    dataset = publish_dataset(official, admin_user, offers=(SUBSCRIPTION,))
    period = _subscribe(buyer, dataset)
    mailoutbox.clear()
    app.conf.task_always_eager = True
    barrier, results, errors = threading.Barrier(6), [], []

    def run():
        try:
            barrier.wait()
            results.append(subscriptions.subscriptions_remind(now=period.valid_until - timedelta(days=1)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=run) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        app.conf.task_always_eager = False
    assert not errors
    assert sum(results) == 1
    assert len(_mails(mailoutbox, "")) == 1
    assert SubscriptionNotice.objects.filter(entitlement=period, kind="reminder").count() == 1


# --- Renewal -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_renewal_is_a_new_order_at_the_price_then_and_the_old_order_keeps_its_terms(buyer, official, monthly, settings):
    settings.SUBSCRIPTION_REMINDER_DAYS = 7
    period = _subscribe(buyer, monthly)
    first_item = period.order_item
    subscription = period.subscription
    organization = buyer.active_organization

    # Too early: renewal opens when the reminder goes out.
    with _travel(period.valid_until - timedelta(days=10)):
        with pytest.raises(DomainError) as refused:
            subscriptions.subscription_renew_start(actor=buyer, organization=organization, subscription=subscription)
        opens = timezone.localtime(period.valid_until - timedelta(days=7)).strftime("%Y-%m-%d")
        assert opens in str(refused.value.message)  # the day it opens

    # The publisher replaces the offer with a dearer one.
    old_offer = offer_of(monthly, "subscription")
    catalog_services.offer_deactivate(actor=official, offer=old_offer)
    catalog_services.offer_create(actor=official, dataset=monthly, **{**SUBSCRIPTION, "price_krw": 120_000})
    with _travel(period.valid_until - timedelta(days=3)):
        row = selectors.subscription_get_for_buyer(organization=organization, pk=subscription.pk)
        assert row.renewal.possible and row.renewal.price.total_krw == 132_000
        assert "132,000" in str(row.renewal.note)  # the page says the offer changed
        offer = subscriptions.subscription_renew_start(
            actor=buyer, organization=organization, subscription=subscription
        )
        assert offer.price_krw == 120_000 and offer.pk != old_offer.pk
        renewal = _pay(place_order(buyer, offer, method="bank_transfer"))  # through the ordinary checkout

    assert renewal.pk != first_item.order_id and renewal.total_krw == 132_000
    first_item.refresh_from_db()
    assert (first_item.total_krw, first_item.terms["price_krw"], first_item.offer_id) == (99_000, 90_000, old_offer.pk)
    new_period = Entitlement.objects.get(order_item__order=renewal)
    assert new_period.subscription_id == subscription.pk
    assert new_period.valid_from == period.valid_until  # no gap, no overlap
    assert new_period.valid_until == period.valid_until + timedelta(days=30)
    subscription.refresh_from_db()
    assert subscription.offer_id == offer.pk
    # Renewed once is enough: a second renewal is refused until the next window.
    with _travel(period.valid_until - timedelta(days=2)):
        with pytest.raises(DomainError):
            subscriptions.subscription_renew_start(actor=buyer, organization=organization, subscription=subscription)
        # and no reminder: the last period paid ends a month later
        assert subscriptions.subscriptions_remind() == 0
    # At the old end the first period ends but the subscription goes on, and access with it.
    with _travel(period.valid_until + timedelta(minutes=1)):
        assert subscriptions.subscriptions_expire() == 1
        subscription.refresh_from_db()
        assert subscription.state == Subscription.State.ACTIVE
        assert delivery.entitlement_is_active(Entitlement.objects.get(pk=new_period.pk))


@pytest.mark.django_db
def test_renewal_when_the_dataset_is_no_longer_offered_by_subscription_says_so(buyer, official, monthly):
    period = _subscribe(buyer, monthly)
    catalog_services.offer_deactivate(actor=official, offer=offer_of(monthly, "subscription"))
    with _travel(period.valid_until - timedelta(days=1)):
        row = selectors.subscription_get_for_buyer(organization=buyer.active_organization, pk=period.subscription_id)
        assert row.renewal.offer is None and "더 이상" in str(row.renewal.note)  # "no longer offers"
        with pytest.raises(DomainError):
            subscriptions.subscription_renew_start(
                actor=buyer, organization=buyer.active_organization, subscription=period.subscription
            )


# --- Cancel --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cancel_keeps_the_current_period_and_stops_the_reminder(
    buyer, outsider, monthly, mailoutbox, eager_celery, django_capture_on_commit_callbacks, parked_package_builds
):
    period = _subscribe(buyer, monthly)
    subscription = period.subscription
    with pytest.raises(NotAllowed):
        subscriptions.subscription_cancel(actor=outsider, subscription=subscription)
    subscriptions.subscription_cancel(actor=buyer, subscription=subscription)
    subscriptions.subscription_cancel(actor=buyer, subscription=subscription)  # twice: no-op
    subscription.refresh_from_db()
    period.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED and subscription.cancelled_by == buyer
    assert period.valid_until == period.valid_from + timedelta(days=30)  # the period runs to its end
    mailoutbox.clear()
    with _travel(period.valid_until - timedelta(days=1)):
        assert delivery.entitlement_is_active(period)
        package = Package.objects.get(entitlement=period)
        assert build_package.apply(args=[package.pk]).get() == "ready"
        assert delivery.download_link(user=buyer, package=package)  # still downloads
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions.subscriptions_remind() == 0  # not reminded
    with _travel(period.valid_until + timedelta(minutes=1)):
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions.subscriptions_expire() == 1
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.ENDED
    assert len(_mails(mailoutbox, "종료")) == 1  # the "ended" e-mail


@pytest.mark.django_db
def test_the_buyer_cancels_on_the_subscriptions_page_after_confirming(client, buyer, monthly):
    period = _subscribe(buyer, monthly)
    client.force_login(buyer)
    page = client.get(reverse("transactions:subscriptions"))
    assert page.status_code == 200
    html = page.content.decode()
    assert f'id="subscription-{period.subscription_id}"' in html and 'id="cancel-' in html
    confirm = client.get(reverse("transactions:subscription_cancel", args=[period.subscription_id]))
    assert "confirm-cancel-btn" in confirm.content.decode()
    assert Subscription.objects.get().state == "active"  # a GET only asks
    client.post(reverse("transactions:subscription_cancel", args=[period.subscription_id]))
    assert Subscription.objects.get().state == "cancelled"
    html = client.get(reverse("transactions:subscriptions")).content.decode()
    assert f'id="resume-{period.subscription_id}"' in html


@pytest.mark.django_db
def test_another_organization_cannot_see_or_cancel_a_subscription(client, buyer, outsider, monthly):
    period = _subscribe(buyer, monthly)
    other = _second_subscriber()
    client.force_login(other)
    assert client.get(reverse("transactions:subscription_cancel", args=[period.subscription_id])).status_code == 404
    assert client.post(reverse("transactions:subscription_cancel", args=[period.subscription_id])).status_code == 404
    assert Subscription.objects.get().state == "active"


# --- Expiry --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_expiry_on_time_ends_downloads_and_signed_links(
    client, buyer, monthly, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    period = _subscribe(buyer, monthly)
    package = Package.objects.get(entitlement=period)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    package.refresh_from_db()
    name = package.file.name
    end = period.valid_until
    mailoutbox.clear()

    with _travel(end - timedelta(minutes=10)):
        link = delivery.download_link(user=buyer, package=package)  # valid for an hour
        client.force_login(buyer)
        response = client.get(link)
        assert response.status_code == 200
        b"".join(response.streaming_content)
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions_expire_task.apply().get() == 0  # not yet

    with _travel(end + timedelta(minutes=1)):
        assert client.get(link).status_code == 403  # the link signed before the end no longer works
        with django_capture_on_commit_callbacks(execute=True):
            assert subscriptions_expire_task.apply().get() == 1
            assert subscriptions_expire_task.apply().get() == 0  # once
        period.refresh_from_db()
        package.refresh_from_db()
        assert period.ended_at is not None and period.revoked_at is None  # revoked_at stays the refunds' mark
        assert package.state == Package.State.EXPIRED and not package.file.name
        assert not storage.default_storage.exists(name)
        with pytest.raises(NotAllowed):
            delivery.download_link(user=buyer, package=package)
        with pytest.raises(DomainError):
            delivery.package_retry(actor=buyer, package=package)
        assert Subscription.objects.get().state == Subscription.State.ENDED
    assert len(mailoutbox) == 1 and "종료" in mailoutbox[0].subject


# --- Delivery exactly once -----------------------------------------------------------------------------------


def _build_all():
    for pk in Package.objects.filter(state=Package.State.QUEUED).values_list("pk", flat=True):
        build_package.apply(args=[pk])


@pytest.mark.django_db(transaction=True)
def test_a_new_version_reaches_each_subscriber_once_however_often_the_delivery_runs(
    official, buyer, admin_user, reference_data, mailoutbox, parked_package_builds
):
    dataset = publish_dataset(official, admin_user, offers=(SUBSCRIPTION,))
    other = _second_subscriber()
    periods = [_subscribe(buyer, dataset), _subscribe(other, dataset)]
    app.conf.task_always_eager = True
    try:
        _build_all()
        mailoutbox.clear()
        second = _new_version(official, dataset)
        # Approving publishes it and enqueues one delivery (eager here: it runs at commit).
        catalog_services.version_approve(actor=admin_user, version=second)
        second.refresh_from_db()

        barrier, errors = threading.Barrier(4), []

        def run(step):
            try:
                barrier.wait()
                step()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        steps = [
            lambda: delivery.deliver_published_version(version_id=second.pk),
            lambda: deliver_version.apply(args=[second.pk]).get(),
            lambda: delivery.packages_deliver_missing(),
            lambda: packages_housekeeping_task.apply().get(),
        ]
        threads = [threading.Thread(target=run, args=(step,)) for step in steps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        deliver_version.apply(args=[second.pk]).get()  # and once more, a redelivered message
        for period in periods:
            assert Package.objects.filter(entitlement=period, version=second).count() == 1
        _build_all()
        subscribers = {buyer.email, other.email}
        ready = [m for m in mailoutbox if set(m.to) & subscribers]
        assert sorted(m.to[0] for m in ready) == sorted([buyer.email, other.email])  # one each (one member each)

        # The package expires and is rebuilt: no second e-mail.
        package = Package.objects.get(entitlement=periods[0], version=second)
        Package.objects.filter(pk=package.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert delivery.packages_expire() == 1
        delivery.package_retry(actor=buyer, package=package)
        _build_all()
        assert Package.objects.get(pk=package.pk).state == Package.State.READY
        assert len([m for m in mailoutbox if set(m.to) & subscribers]) == 2
        assert SubscriptionNotice.objects.filter(kind="version_ready", version=second).count() == 2
    finally:
        app.conf.task_always_eager = False


@pytest.mark.django_db
def test_a_version_published_after_the_period_ended_is_not_delivered(
    official, buyer, admin_user, monthly, parked_package_builds
):
    period = _subscribe(buyer, monthly)
    with _travel(period.valid_until + timedelta(days=1)):
        subscriptions.subscriptions_expire()
        second = _new_version(official, monthly)
        catalog_services.version_approve(actor=admin_user, version=second)
        assert delivery.deliver_published_version(version_id=second.pk) == []
        assert delivery.packages_deliver_missing() == 0
    assert not Package.objects.filter(entitlement=period, version=second).exists()


@pytest.mark.django_db
def test_the_order_page_lists_the_versions_delivered_with_their_change_note(
    client, official, buyer, admin_user, monthly, parked_package_builds
):
    period = _subscribe(buyer, monthly)
    second = _new_version(official, monthly)
    catalog_services.version_approve(actor=admin_user, version=second)
    delivery.deliver_published_version(version_id=second.pk)
    _build_all()
    client.force_login(buyer)
    html = client.get(reverse("transactions:order", args=[period.order_item.order.number])).content.decode()
    assert 'id="subscription-versions"' in html
    assert f'id="delivered-version-{second.pk}-{period.pk}"' in html
    assert "7월 자료 추가" in html  # the change note
    package = Package.objects.get(entitlement=period, version=second)
    assert f'id="sub-download-{package.pk}"' in html


# --- Packages of a period that ended before they were built ---------------------------------------------------


def _ended_in_both_languages(package, korean, english):
    assert package.state == Package.State.EXPIRED and package.lease is None and not package.file.name
    assert korean in package.error and english in package.error, package.error


@pytest.mark.django_db
def test_a_package_still_queued_when_its_period_ends_is_ended_not_built(buyer, monthly, eager_celery):
    period = _subscribe(buyer, monthly)
    package = Package.objects.get(entitlement=period)
    assert package.state == Package.State.QUEUED  # its build message has not run yet
    with _travel(period.valid_until + timedelta(minutes=1)):
        assert subscriptions.subscriptions_expire() == 1
        package.refresh_from_db()
        _ended_in_both_languages(
            package, "구독 기간이 끝나 더 이상 패키지를", "subscription period of this package has ended"
        )
        assert delivery.package_claim(package_id=package.pk) is None
        assert build_package.apply(args=[package.pk]).get() == "not claimed"
        package.refresh_from_db()
        assert package.state == Package.State.EXPIRED and not package.sha256
        status = selectors.package_delivery_status(package)
        assert status.state == "ended"  # the buyer sees the period ended, not a build waiting


@pytest.mark.django_db
def test_a_package_whose_period_ended_before_the_expiry_task_ran_is_refused_at_claim_and_at_build(
    buyer, monthly, eager_celery
):
    period = _subscribe(buyer, monthly)
    package = Package.objects.get(entitlement=period)
    claimed = delivery.package_claim(package_id=package.pk)  # a worker took it just before the end
    assert claimed is not None and claimed.state == Package.State.BUILDING
    later = _subscribe(_second_subscriber(), monthly)
    queued = Package.objects.get(entitlement=later)
    with _travel(max(period.valid_until, later.valid_until) + timedelta(minutes=1)):  # the expiry task has not run
        with pytest.raises(delivery.PurchaseEnded):
            delivery.package_build(package=claimed)
        package.refresh_from_db()
        _ended_in_both_languages(
            package, "구독 기간이 끝나 더 이상 패키지를", "subscription period of this package has ended"
        )
        assert delivery.package_claim(package_id=queued.pk) is None
        queued.refresh_from_db()
        _ended_in_both_languages(
            queued, "구독 기간이 끝나 더 이상 패키지를", "subscription period of this package has ended"
        )
        assert queued.attempts == 0


@pytest.mark.django_db
def test_a_refunded_purchase_s_queued_package_is_ended_at_claim(buyer, monthly, eager_celery):
    period = _subscribe(buyer, monthly)
    package = Package.objects.get(entitlement=period)
    Entitlement.objects.filter(pk=period.pk).update(revoked_at=timezone.now())
    assert build_package.apply(args=[package.pk]).get() == "not claimed"
    package.refresh_from_db()
    _ended_in_both_languages(package, "환불", "refunded")
    assert package.attempts == 0  # never built
