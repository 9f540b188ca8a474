"""Checkout and orders: the order state machine (every illegal move), price and licence snapshots that
later changes never touch, VAT arithmetic (과세 and 면세), licence acceptances, a double-submitted
checkout making one order (also concurrently), cancellation by the buyer and when overdue, free orders
paid at once with their entitlements and queued packages, and the pages of buyers and admins."""

import itertools
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Organization
from catalog import services as catalog_services
from catalog.licences import render_for_version
from catalog.models import Licence, Offer
from catalog.pricing import offer_price, price_of
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.models import AuditEvent
from core.transitions import transition
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order
from transactions import selectors
from transactions.models import CartItem, Entitlement, LicenceAcceptance, Order, OrderItem, Package, Payment
from transactions.services import cart as cart_services
from transactions.services import orders as order_services
from transactions.states import ORDER_TRANSITIONS

O = Order.State


# --- the state machine ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_order_transition_not_in_the_table_raises(buyer, free_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "one_off"))
    for old, new in itertools.product(O.values, O.values):
        Order.objects.filter(pk=order.pk).update(state=old)
        order.refresh_from_db()
        if new in ORDER_TRANSITIONS[old]:
            transition(order, to=new, actor=None)
            assert Order.objects.get(pk=order.pk).state == new
        else:
            with pytest.raises(IllegalTransition):
                transition(order, to=new, actor=None)
            assert Order.objects.get(pk=order.pk).state == old  # nothing saved
    # What the table says, in words: no way back from paid, nothing after cancelled or refunded.
    assert ORDER_TRANSITIONS[O.CANCELLED] == set() == ORDER_TRANSITIONS[O.REFUNDED]
    assert O.CANCELLED not in ORDER_TRANSITIONS[O.PAID] and O.AWAITING_PAYMENT not in ORDER_TRANSITIONS[O.PAID]


@pytest.mark.django_db
def test_services_refuse_illegal_moves(buyer, free_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "free"))
    assert order.state == O.PAID
    with pytest.raises(IllegalTransition):  # a paid order is refunded, never cancelled
        order_services.order_cancel(actor=buyer, order=order)
    Order.objects.filter(pk=order.pk).update(state=O.CANCELLED)
    order.refresh_from_db()
    with pytest.raises(IllegalTransition), transaction.atomic():  # a late payment cannot revive a cancelled order
        order_services.order_mark_paid(order=order)
    assert not Entitlement.objects.filter(order_item__order=order, created_at__gt=order.paid_at).exists()


# --- checkout: card, bank transfer, free --------------------------------------------------------


@pytest.mark.django_db
def test_card_and_bank_orders_await_payment_until_their_due_time(buyer, free_dataset, private_dataset, buy, settings):
    before = timezone.now()
    card = buy(buyer, offer_of(free_dataset, "one_off"), method="card")
    assert (card.state, card.method, card.total_krw) == (O.AWAITING_PAYMENT, "card", 33_000)
    due = card.payment_due_at - before
    assert (
        timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES)
        <= due
        < timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES, seconds=30)
    )
    bank = buy(buyer, offer_of(private_dataset, "one_off"), method="bank_transfer")
    assert (bank.state, bank.method) == (O.AWAITING_PAYMENT, "bank_transfer")
    assert bank.payment_due_at > before + timedelta(days=settings.BANK_TRANSFER_DAYS - 1)
    assert not Entitlement.objects.exists()  # nothing until paid
    assert CartItem.objects.count() == 0  # the cart was emptied
    assert list(
        AuditEvent.objects.filter(action="order.placed").order_by("id").values_list("object_id", flat=True)
    ) == [str(card.pk), str(bank.pk)]
    with pytest.raises(DomainError) as exc:
        cart_services.cart_add(
            actor=buyer, organization=buyer.active_organization, offer=offer_of(private_dataset, "one_off")
        )
    assert exc.value.code == "not_buyable"


@pytest.mark.django_db
def test_a_free_order_is_paid_at_once_with_entitlement_and_queued_package(
    buyer, free_dataset, django_capture_on_commit_callbacks, mailoutbox, eager_celery
):
    with django_capture_on_commit_callbacks() as callbacks:
        order = place_order(buyer, offer_of(free_dataset, "free"), method="card")  # the method is ignored at 0 won
    assert (order.state, order.method, order.total_krw, order.paid_at is not None) == (O.PAID, "free", 0, True)
    version = free_dataset.versions.get(state="published")
    entitlement = Entitlement.objects.get()
    assert (entitlement.organization, entitlement.dataset, entitlement.version, entitlement.valid_until) == (
        buyer.active_organization,
        free_dataset,
        version,
        None,
    )
    package = Package.objects.get()
    assert (package.entitlement, package.version, package.state) == (entitlement, version, Package.State.QUEUED)
    assert not Payment.objects.exists()  # free orders skip payment
    # The e-mail and the package build wait for the commit.
    assert {name for c in callbacks for name in c.__code__.co_freevars} >= {"subject", "package_id"}
    for callback in callbacks:
        if "subject" in callback.__code__.co_freevars:
            callback()
    assert mailoutbox and order.number in mailoutbox[0].subject and buyer.email in mailoutbox[0].to
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk), actor=buyer).exists()


@pytest.mark.django_db
def test_mark_paid_is_idempotent_and_a_subscription_runs_for_its_days(buyer, private_dataset, buy):
    order = buy(buyer, offer_of(private_dataset, "subscription"), method="bank_transfer")
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        order_services.order_mark_paid(order=locked)
        order_services.order_mark_paid(order=locked)  # a repeated confirmation
    with transaction.atomic():
        order_services.order_mark_paid(order=Order.objects.select_for_update().get(pk=order.pk))
    entitlement = Entitlement.objects.get()
    assert entitlement.kind == "subscription" and entitlement.version is None
    assert entitlement.valid_until - entitlement.valid_from == timedelta(days=90)
    assert Package.objects.count() == 1  # the version published now
    assert AuditEvent.objects.filter(action="order.paid").count() == 1
    order_services.order_mark_paid(order=order)  # a stale instance: re-read under the lock, nothing happens
    assert order.state == O.PAID and Entitlement.objects.count() == 1


@pytest.mark.django_db
def test_fulfilled_only_when_every_package_is_ready(buyer, free_dataset, private_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "free"))
    assert order_services.order_mark_fulfilled(order=order).state == O.PAID  # queued
    Package.objects.update(state=Package.State.READY)
    order = order_services.order_mark_fulfilled(order=order)
    assert order.state == O.FULFILLED and order.fulfilled_at
    assert order_services.order_mark_fulfilled(order=order).state == O.FULFILLED  # idempotent
    unpaid = buy(buyer, offer_of(private_dataset, "one_off"))
    assert order_services.order_mark_fulfilled(order=unpaid).state == O.AWAITING_PAYMENT


# --- double submission --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_same_checkout_submitted_twice_makes_one_order(buyer, free_dataset):
    token = uuid.uuid4()
    first = place_order(buyer, offer_of(free_dataset, "one_off"), token=token)
    organization = buyer.active_organization
    again = order_services.checkout_place(
        actor=buyer, organization=organization, checkout_token=token, method="card", billing={}, accepted={}
    )  # the cart is empty now: the token decides
    assert again.pk == first.pk and Order.objects.count() == 1
    intruder = make_user("other@company.test")
    from accounts.models import Membership

    Membership.objects.create(user=intruder, organization=organization, role=Membership.Role.BUYER)
    with pytest.raises(NotAllowed):
        order_services.checkout_place(
            actor=intruder, organization=organization, checkout_token=token, method="card", billing={}, accepted={}
        )


@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_of_one_checkout_make_one_order(buyer, admin_user, official, reference_data):
    from tests.transactions.conftest import publish_dataset

    dataset = publish_dataset(
        official, admin_user, offers=({"kind": "one_off", "price_krw": 10_000, "cost_basis": "전송 비용"},)
    )
    organization = buyer.active_organization
    offer = dataset.offers.get()
    cart_services.cart_add(actor=buyer, organization=organization, offer=offer)
    lines = selectors.cart_lines(selectors.cart_get(buyer, organization), organization)
    token, barrier, results = uuid.uuid4(), threading.Barrier(6), []

    def submit():
        try:
            barrier.wait()
            order = order_services.checkout_place(
                actor=buyer,
                organization=organization,
                checkout_token=token,
                method="card",
                billing=order_services.billing_defaults(organization),
                accepted={offer.pk: lines[0].licence_sha256},
                expected_total_krw=11_000,
                ip="198.51.100.4",
            )
            results.append(order.pk)
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Order.objects.count() == 1 and OrderItem.objects.count() == 1 and LicenceAcceptance.objects.count() == 1
    assert results == [Order.objects.get().pk] * 6, results


# --- snapshots, VAT and licences ----------------------------------------------------------------


@pytest.mark.django_db
def test_later_changes_never_touch_an_order(login, official, buyer, free_dataset, buy):
    offer = offer_of(free_dataset, "one_off")
    order = buy(buyer, offer)
    item = order.items.get()
    before = (item.supply_krw, item.vat_krw, item.total_krw, item.tax_free, dict(item.terms))
    licence = Licence.objects.get(code="kogl-1")
    version = free_dataset.versions.get(state="published")
    old_sha = selectors.licence_sha256(render_for_version(licence, version))
    assert item.terms["licence_sha256"] == old_sha == item.acceptances.get().licence_sha256
    # The publisher and the platform change everything afterwards.
    Offer.objects.filter(pk=offer.pk).update(price_krw=99_000, cost_basis="바뀐 기준")
    catalog_services.offer_deactivate(actor=official, offer=offer)
    Licence.objects.filter(pk=licence.pk).update(text_ko="완전히 새로운 이용 조건", name_ko="새 이름")
    Organization.objects.filter(pk=official.active_organization.pk).update(vat_status="exempt", name_ko="바뀐 기관명")
    item.refresh_from_db()
    order.refresh_from_db()
    assert (item.supply_krw, item.vat_krw, item.total_krw, item.tax_free, item.terms) == before
    assert (order.supply_krw, order.vat_krw, order.total_krw) == (30_000, 3_000, 33_000)
    assert item.terms["cost_basis"] == "파일 가공·전송 비용 (건당)" and item.terms["licence_name_ko"].startswith(
        "공공누리 제1유형"
    )
    page = login(buyer).get(reverse("transactions:order", args=[order.number])).content.decode()
    assert (
        "33,000" in page
        and "공공누리 제1유형" in page
        and "완전히 새로운 이용 조건" not in page
        and old_sha[:16] in page
    )
    edited = render_for_version(Licence.objects.get(pk=licence.pk), version)
    assert selectors.licence_sha256(edited) != old_sha  # an edit is a new licence version


def test_vat_arithmetic():
    """10 % of the supply value, fractions of a won dropped; 면세 suppliers charge none."""
    assert price_of(30_000) == price_of(30_000, tax_free=False)
    assert (price_of(30_000).vat_krw, price_of(30_000).total_krw) == (3_000, 33_000)
    assert (price_of(33_333).vat_krw, price_of(33_333).total_krw) == (3_333, 36_666)
    assert (price_of(9).vat_krw, price_of(19).vat_krw, price_of(27_273).total_krw) == (
        0,
        1,
        30_000,
    )  # Toss: 27,273 + 2,727
    exempt = price_of(30_000, tax_free=True)
    assert (exempt.vat_krw, exempt.total_krw, exempt.tax_free_krw) == (0, 30_000, 30_000)
    assert price_of(0).total_krw == 0
    for bad in (-1, 1.5, "100", True):
        with pytest.raises(ValueError):
            price_of(bad)


@pytest.mark.django_db
def test_order_totals_add_up_per_line_with_taxable_and_exempt_sellers(official, admin_user, buyer, reference_data, buy):
    """VAT is computed per line (catalog.pricing) and the order sums the lines; the exempt part is kept for the PG."""
    from tests.transactions.conftest import publish_dataset

    taxable = publish_dataset(
        official, admin_user, offers=({"kind": "one_off", "price_krw": 33_333, "cost_basis": "전송 비용"},)
    )
    city_owner = make_user("city@siheung.test")
    city = make_org(
        city_owner,
        name_ko="시흥시",
        name_en="Siheung City",
        kind="provider",
        brn="1348310009",
        org_type="public_body",
        vat_status="exempt",
    )
    exempt = publish_dataset(
        city_owner,
        admin_user,
        title_ko="시흥시 공공데이터",
        offers=({"kind": "one_off", "price_krw": 10_001, "cost_basis": "전송 비용"},),
    )
    assert exempt.publisher == city
    order = buy(buyer, taxable.offers.get(), exempt.offers.get())
    lines = {i.seller_id: i for i in order.items.all()}
    assert (lines[official.active_organization.pk].vat_krw, lines[official.active_organization.pk].total_krw) == (
        3_333,
        36_666,
    )
    assert (lines[city.pk].vat_krw, lines[city.pk].total_krw, lines[city.pk].tax_free) == (0, 10_001, True)
    assert (order.supply_krw, order.vat_krw, order.total_krw, order.tax_free_krw) == (43_334, 3_333, 46_667, 10_001)
    assert order.total_krw == sum(offer_price(o).total_krw for o in (taxable.offers.get(), exempt.offers.get()))


@pytest.mark.django_db
def test_licence_acceptance_is_required_and_recorded(buyer, free_dataset):
    organization = buyer.active_organization
    offer = offer_of(free_dataset, "free")
    cart_services.cart_add(actor=buyer, organization=organization, offer=offer)
    line = selectors.cart_lines(selectors.cart_get(buyer, organization), organization)[0]

    def checkout(accepted, total=0):
        return order_services.checkout_place(
            actor=buyer,
            organization=organization,
            checkout_token=uuid.uuid4(),
            method="",
            billing=order_services.billing_defaults(organization),
            accepted=accepted,
            expected_total_krw=total,
            ip="203.0.113.9",
        )

    with pytest.raises(DomainError) as exc:
        checkout({})
    assert exc.value.code == "licence_not_accepted"
    with pytest.raises(DomainError) as exc:
        checkout({offer.pk: "0" * 64})  # a text other than the one in force
    assert exc.value.code == "licence_changed"
    with pytest.raises(DomainError) as exc:
        checkout({offer.pk: line.licence_sha256, offer.pk + 1000: "0" * 64})
    assert exc.value.code == "cart_changed"
    with pytest.raises(DomainError) as exc:
        checkout({offer.pk: line.licence_sha256}, total=5)
    assert exc.value.code == "total_changed"
    assert not Order.objects.exists()
    order = checkout({offer.pk: line.licence_sha256})
    acceptance = LicenceAcceptance.objects.get()
    assert (acceptance.user, acceptance.organization, acceptance.licence_code, acceptance.ip) == (
        buyer,
        organization,
        "kogl-1",
        "203.0.113.9",
    )
    assert acceptance.licence_sha256 == line.licence_sha256 and acceptance.order_item.order == order
    assert abs((acceptance.accepted_at - timezone.now()).total_seconds()) < 60
    with pytest.raises(PermissionError):  # append-only
        acceptance.save()


@pytest.mark.django_db
def test_checkout_refuses_who_may_not_buy(buyer, outsider, free_dataset, official):
    organization = buyer.active_organization
    cart_services.cart_add(actor=buyer, organization=organization, offer=offer_of(free_dataset, "free"))
    Organization.objects.filter(pk=organization.pk).update(verification="requested")
    organization.refresh_from_db()
    for actor, org in ((buyer, organization), (outsider, None), (official, official.active_organization)):
        with pytest.raises(NotAllowed):
            order_services.checkout_place(
                actor=actor, organization=org, checkout_token=uuid.uuid4(), method="card", billing={}, accepted={}
            )
    assert not Order.objects.exists()


@pytest.mark.django_db
def test_checkout_refuses_an_offer_that_stopped_after_it_went_into_the_cart(official, buyer, free_dataset):
    offer = offer_of(free_dataset, "one_off")
    organization = buyer.active_organization
    cart_services.cart_add(actor=buyer, organization=organization, offer=offer)
    line = selectors.cart_lines(selectors.cart_get(buyer, organization), organization)[0]
    catalog_services.offer_deactivate(actor=official, offer=offer)
    with pytest.raises(DomainError) as exc:
        order_services.checkout_place(
            actor=buyer,
            organization=organization,
            checkout_token=uuid.uuid4(),
            method="card",
            billing=order_services.billing_defaults(organization),
            accepted={offer.pk: line.licence_sha256},
        )
    assert exc.value.code == "not_buyable" and not Order.objects.exists()


# --- cancellation -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_buyer_cancels_an_unpaid_order(buyer, outsider, admin_user, free_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "one_off"), method="bank_transfer")
    payment = Payment.objects.create(order=order, method="bank_transfer", adapter="bank", amount_krw=order.total_krw)
    with pytest.raises(NotAllowed):
        order_services.order_cancel(actor=outsider, order=order, reason="")
    order = order_services.order_cancel(actor=buyer, order=order, reason="다른 자료로 대체")
    assert (order.state, order.cancel_reason, order.cancelled_at is not None) == (O.CANCELLED, "다른 자료로 대체", True)
    payment.refresh_from_db()
    assert payment.state == Payment.State.CANCELLED  # a waiting payment is void with its order
    assert order_services.order_cancel(actor=buyer, order=order).state == O.CANCELLED  # twice: no-op
    assert AuditEvent.objects.filter(action="order.cancelled", actor=buyer, reason="다른 자료로 대체").count() == 1
    # The offer can be bought again.
    assert cart_services.cart_add(
        actor=buyer, organization=buyer.active_organization, offer=offer_of(free_dataset, "one_off")
    )


@pytest.mark.django_db
def test_overdue_orders_are_cancelled_by_the_beat_task(
    buyer, free_dataset, private_dataset, buy, mailoutbox, django_capture_on_commit_callbacks, eager_celery
):
    overdue = buy(buyer, offer_of(free_dataset, "one_off"), method="card")
    waiting = buy(buyer, offer_of(private_dataset, "one_off"), method="bank_transfer")
    Order.objects.filter(pk=overdue.pk).update(payment_due_at=timezone.now() - timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        from transactions.tasks import orders_cancel_overdue_task

        assert orders_cancel_overdue_task.apply().get() == 1
    overdue.refresh_from_db()
    waiting.refresh_from_db()
    assert (overdue.state, waiting.state) == (O.CANCELLED, O.AWAITING_PAYMENT)
    assert overdue.cancel_reason and AuditEvent.objects.get(action="order.cancelled").actor is None
    assert order_services.orders_cancel_overdue() == 0  # nothing left
    assert any(overdue.number in m.subject for m in mailoutbox)
    paid = buy(buyer, offer_of(free_dataset, "free"))
    Order.objects.filter(pk=paid.pk).update(payment_due_at=timezone.now() - timedelta(days=1))
    assert order_services.orders_cancel_overdue() == 0  # paid orders are never cancelled


def test_the_beat_schedule_runs_the_overdue_task(settings):
    entries = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "transactions.tasks.orders_cancel_overdue_task"
    ]
    assert len(entries) == 1 and entries[0]["schedule"] <= 600


# --- pages --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_checkout_page_prefills_billing_and_shows_licences_and_amounts(login, buyer, free_dataset):
    client = login(buyer)
    assert client.get(reverse("transactions:checkout")).status_code == 302  # empty cart: back to the cart
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer_of(free_dataset, "one_off"))
    page = client.get(reverse("transactions:checkout")).content.decode()
    organization = buyer.active_organization
    assert f'value="{organization.name_ko}"' in page and f'value="{organization.brn_display}"' in page
    assert "출처를 표시하면" in page  # the licence text itself
    assert (
        "공급가액" in page
        and "부가세" in page
        and "합계" in page
        and "30,000" in page
        and "3,000" in page
        and "33,000" in page
    )
    assert 'name="accept"' in page and 'name="checkout_token"' in page and 'name="method"' in page


@pytest.mark.django_db
def test_checkout_form_post_a_free_order_and_a_double_post(login, buyer, free_dataset):
    client = login(buyer)
    organization = buyer.active_organization
    offer = offer_of(free_dataset, "free")
    cart_services.cart_add(actor=buyer, organization=organization, offer=offer)
    line = selectors.cart_lines(selectors.cart_get(buyer, organization), organization)[0]
    form = {
        "checkout_token": str(uuid.uuid4()),
        "expected_total_krw": "0",
        "billing_name": "(주)에어데이터랩",
        "billing_brn": "1168200276",
        "billing_email": "billing@company.test",
        "billing_phone": "",
        "billing_address": "",
    }
    refused = client.post(reverse("transactions:checkout"), form)
    assert refused.status_code == 200 and not Order.objects.exists()  # the licence was not accepted: the form again
    assert "licence" in refused.content.decode().lower() or "이용허락" in refused.content.decode()
    form["accept"] = f"{offer.pk}:{line.licence_sha256}"
    answer = client.post(reverse("transactions:checkout"), form, REMOTE_ADDR="10.0.0.2", HTTP_X_REAL_IP="203.0.113.50")
    order = Order.objects.get()
    assert answer.status_code == 302 and answer["Location"] == reverse("transactions:order", args=[order.number])
    assert (order.state, order.billing_brn, LicenceAcceptance.objects.get().ip) == (
        O.PAID,
        "",  # a free order is not invoiced: billing details posted anyway are not kept
        "203.0.113.50",
    )
    again = client.post(reverse("transactions:checkout"), form)  # the same form once more (back button, double click)
    assert again.status_code == 302 and again["Location"] == answer["Location"] and Order.objects.count() == 1
    page = client.get(answer["Location"]).content.decode()
    assert (
        order.number in page and 'id="order-next"' in page and "1168200276" not in page and "116-82-00276" not in page
    )


@pytest.mark.django_db
def test_forwarded_addresses_are_trusted_only_from_the_proxy(rf):
    from transactions.views import client_ip

    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="203.0.113.1")) == "203.0.113.1"
    assert client_ip(rf.get("/", REMOTE_ADDR="211.234.10.5", HTTP_X_REAL_IP="203.0.113.1")) == "211.234.10.5"
    assert client_ip(rf.get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_REAL_IP="not-an-ip")) == "127.0.0.1"


@pytest.mark.django_db
def test_orders_of_another_organization_are_not_found(login, buyer, free_dataset, buy):
    order = buy(buyer, offer_of(free_dataset, "one_off"))
    other_owner = make_user("owner@other.test")
    make_org(other_owner, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2118608983")
    client = login(other_owner)
    assert client.get(reverse("transactions:order", args=[order.number])).status_code == 404
    assert client.post(reverse("transactions:order_cancel", args=[order.number])).status_code == 404
    assert order.number not in client.get(reverse("transactions:orders")).content.decode()
    mine = login(buyer)
    assert order.number in mine.get(reverse("transactions:orders")).content.decode()
    assert order.number in mine.get(reverse("transactions:orders") + "?tab=open").content.decode()
    assert order.number not in mine.get(reverse("transactions:orders") + "?tab=paid").content.decode()
    answer = mine.post(reverse("transactions:order_cancel", args=[order.number]), {"reason": "실수"})
    assert answer.status_code == 302 and Order.objects.get(pk=order.pk).state == O.CANCELLED


@pytest.mark.django_db
def test_my_data_lists_what_the_organization_may_download(login, buyer, free_dataset, private_dataset, buy):
    buy(buyer, offer_of(free_dataset, "free"))
    sub = buy(buyer, offer_of(private_dataset, "subscription"), method="bank_transfer")
    with transaction.atomic():
        order_services.order_mark_paid(order=sub)
    Entitlement.objects.filter(kind="subscription").update(valid_until=timezone.now() - timedelta(days=1))
    page = login(buyer).get(reverse("transactions:entitlements")).content.decode()
    assert "시흥시 대기질 측정 자료" in page and "스마트폴 환경 센서(가공)" in page
    assert page.count('id="entitlement-') == 2
    # One being prepared (its package is queued: no worker here), one ended (see test_order_status.py).
    assert "bg-light-information" in page and "bg-light-gray" in page


@pytest.mark.django_db
def test_admin_order_pages(login, buyer, admin_user, free_dataset, private_dataset, buy):
    free = buy(buyer, offer_of(free_dataset, "free"))
    bank = buy(buyer, offer_of(private_dataset, "one_off"), method="bank_transfer")
    assert login(buyer).get(reverse("staff_orders:list")).status_code == 403
    client = login(admin_user)
    page = client.get(reverse("staff_orders:list")).content.decode()
    assert free.number in page and bank.number in page
    page = client.get(reverse("staff_orders:list"), {"method": "bank_transfer"}).content.decode()
    assert bank.number in page and free.number not in page
    page = client.get(reverse("staff_orders:list"), {"state": "paid"}).content.decode()
    assert free.number in page and bank.number not in page
    page = client.get(
        reverse("staff_orders:list"), {"buyer": buyer.active_organization.pk, "q": "스마트폴"}
    ).content.decode()
    assert bank.number in page and free.number not in page
    Payment.objects.create(order=bank, method="bank_transfer", adapter="bank", amount_krw=bank.total_krw)
    page = client.get(reverse("staff_orders:detail", args=[bank.number])).content.decode()
    assert (
        "order.placed" in page and "330,000" in page and 'id="staff-order-payments"' in page and "데이터산업법" in page
    )
    assert "staff-orders-link" in client.get(reverse("staff:home")).content.decode()
