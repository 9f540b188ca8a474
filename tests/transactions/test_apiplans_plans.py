"""API plans (issue 16): offer kinds and their pricing rules, taking the development and metered plans, buying the
subscription plan through checkout, data_access, and access ending at once when a plan's entitlement ends."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from catalog import services as catalog_services
from catalog.models import Offer
from core.errors import DomainError
from transactions import selectors
from transactions.apiplans import selectors as plan_selectors
from transactions.apiplans import services as plan_services
from transactions.apiplans.models import ApiPlan
from transactions.dataapi.access import data_access
from transactions.models import Entitlement, LicenceAcceptance, Order, Package
from transactions.payments import services as payments

from .conftest import offer_of, place_order

COST = "서버 운영·회선 비용 (호출 1,000건당 실비)"
API_OFFERS = (
    {"kind": "free"},
    {"kind": "api_dev", "daily_quota": 1000},
    {"kind": "api_metered", "price_per_1000_krw": 2000, "cost_basis": COST},
    {"kind": "api_subscription", "price_krw": 50_000, "rate_limit_per_minute": 600, "cost_basis": COST},
)


def take(user, offer, *, monthly_cap_krw=None):
    """Take a development or metered plan as the dataset page does: the licence accepted as shown."""
    line = plan_selectors.offer_line(offer, user.active_organization)
    return plan_services.api_plan_take(
        actor=user,
        organization=user.active_organization,
        offer=offer,
        accepted_sha256=line.licence_sha256,
        monthly_cap_krw=monthly_cap_krw,
        ip="203.0.113.9",
    )


def buy_api_subscription(buyer, dataset, admin=None):
    """Buy the subscription plan through the cart, checkout and a confirmed bank transfer."""
    admin = admin or User.objects.get(email="admin@test.example")
    order = place_order(buyer, offer_of(dataset, Offer.Kind.API_SUBSCRIPTION), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(
        actor=admin, payment=payment, depositor_name="에어데이터랩", amount_krw=order.total_krw
    )
    return ApiPlan.objects.get(entitlement__order_item__order=order)


@pytest.fixture
def api_dataset(publish):
    return publish(offers=API_OFFERS)


@pytest.mark.django_db
def test_the_development_plan_is_active_the_moment_it_is_taken_and_builds_no_package(buyer, api_dataset):
    organization = buyer.active_organization
    version = api_dataset.versions.get()
    before = data_access(user=buyer, organization=organization, dataset=api_dataset, version=version)
    assert not before.full and before.plan is None and before.why_not
    plan = take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    assert plan.state == "active" and plan.kind == "api_dev" and plan.daily_quota == 1000
    order = plan.entitlement.order_item.order
    assert order.method == Order.Method.FREE and order.total_krw == 0
    assert order.state == Order.State.FULFILLED  # nothing to package: delivered at once
    assert not Package.objects.filter(entitlement__order_item__order=order).exists()
    acceptance = LicenceAcceptance.objects.get(order_item__order=order)
    assert acceptance.user == buyer and acceptance.licence_code == "kogl-1" and acceptance.ip == "203.0.113.9"
    assert order.items.get().terms["daily_quota"] == 1000
    now = data_access(user=buyer, organization=organization, dataset=api_dataset, version=version)
    assert now.full and now.live and now.plan == plan
    # Taking it again is refused with a reason.
    with pytest.raises(DomainError) as again:
        take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    assert again.value.code == "not_buyable"


@pytest.mark.django_db
def test_the_licence_must_be_accepted_as_shown(buyer, api_dataset):
    offer = offer_of(api_dataset, Offer.Kind.API_DEV)
    for digest, code in (("", "licence_not_accepted"), ("0" * 64, "licence_changed")):
        with pytest.raises(DomainError) as refused:
            plan_services.api_plan_take(
                actor=buyer, organization=buyer.active_organization, offer=offer, accepted_sha256=digest
            )
        assert refused.value.code == code
    assert not ApiPlan.objects.exists() and not Order.objects.exists()


@pytest.mark.django_db
def test_the_metered_plan_needs_the_buyers_cap_which_the_buyer_can_change(buyer, api_dataset, outsider):
    offer = offer_of(api_dataset, Offer.Kind.API_METERED)
    for bad in (None, "", "abc", 0, -5):
        with pytest.raises(DomainError) as refused:
            take(buyer, offer, monthly_cap_krw=bad)
        assert refused.value.code == "monthly_cap"
    plan = take(buyer, offer, monthly_cap_krw="50,000")
    assert plan.monthly_cap_krw == 50_000 and plan.price_per_1000_krw == 2000
    assert plan.monthly_call_cap == 25_000
    assert plan.entitlement.order_item.order.total_krw == 0  # nothing up front: billed monthly
    plan = plan_services.api_plan_cap_change(actor=buyer, plan=plan, monthly_cap_krw=10_000)
    assert plan.monthly_cap_krw == 10_000
    with pytest.raises(Exception):  # noqa: B017  (NotAllowed: someone else's plan)
        plan_services.api_plan_cap_change(actor=outsider, plan=plan, monthly_cap_krw=1)


@pytest.mark.django_db
def test_taking_another_plan_replaces_the_running_one_and_cancel_ends_access(buyer, api_dataset):
    dev = take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    metered = take(buyer, offer_of(api_dataset, Offer.Kind.API_METERED), monthly_cap_krw=1000)
    dev.refresh_from_db()
    assert dev.state == "cancelled" and metered.state == "active"
    org = buyer.active_organization
    assert data_access(user=buyer, organization=org, dataset=api_dataset, version=None).plan == metered
    plan_services.api_plan_cancel(actor=buyer, plan=metered)
    access = data_access(user=buyer, organization=org, dataset=api_dataset, version=None)
    assert not access.full and access.plan is None


@pytest.mark.django_db
def test_the_subscription_plan_goes_through_checkout_and_payment(buyer, admin_user, api_dataset):
    offer = offer_of(api_dataset, Offer.Kind.API_SUBSCRIPTION)
    assert offer.subscription_days == 30 and offer.rate_limit_per_minute == 600
    plan = buy_api_subscription(buyer, api_dataset, admin_user)
    entitlement = plan.entitlement
    assert plan.kind == "api_subscription" and plan.rate_limit_per_minute == 600
    assert entitlement.valid_until - entitlement.valid_from == timedelta(days=30)
    order = entitlement.order_item.order
    assert order.total_krw == 55_000  # 50,000 + 10 % VAT (the department is taxable in this fixture)
    assert order.state == Order.State.FULFILLED and not Package.objects.exists()
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None)
    assert access.full and access.live and access.plan == plan
    # Renewing before the end adds the month after the running one.
    renewed = buy_api_subscription(buyer, api_dataset, admin_user)
    assert renewed.entitlement.valid_until == pytest.approx(
        entitlement.valid_until + timedelta(days=30), abs=timedelta(seconds=5)
    )


@pytest.mark.django_db
def test_an_entitlement_refunded_or_over_closes_the_full_data_at_once(buyer, admin_user, api_dataset):
    plan = buy_api_subscription(buyer, api_dataset, admin_user)
    org = buyer.active_organization
    assert data_access(user=buyer, organization=org, dataset=api_dataset, version=None).full
    Entitlement.objects.filter(pk=plan.entitlement_id).update(revoked_at=timezone.now())  # what a refund does
    access = data_access(user=buyer, organization=org, dataset=api_dataset, version=None)
    assert not access.full and not access.live and access.plan is None
    assert plan_services.plans_expire() == 1
    plan.refresh_from_db()
    assert plan.state == "ended"

    dev = take(buyer, offer_of(api_dataset, Offer.Kind.API_DEV))
    assert data_access(user=buyer, organization=org, dataset=api_dataset, version=None).full
    Entitlement.objects.filter(pk=dev.entitlement_id).update(valid_until=timezone.now() - timedelta(seconds=1))
    assert not data_access(user=buyer, organization=org, dataset=api_dataset, version=None).full


@pytest.mark.django_db
def test_data_access_for_other_kinds_of_buyers(buyer, official, admin_user, outsider, api_dataset, publish):
    version = api_dataset.versions.get()
    publisher = official.active_organization
    assert data_access(user=official, organization=publisher, dataset=api_dataset, version=version).full
    assert data_access(user=admin_user, organization=None, dataset=api_dataset, version=version).full
    anonymous = data_access(user=outsider, organization=None, dataset=api_dataset, version=version)
    assert not anonymous.full and "sample" in str(anonymous.why_not).lower() or "샘플" in str(anonymous.why_not)
    # A free entitlement opens that version, not live.
    order = place_order(buyer, offer_of(api_dataset, Offer.Kind.FREE), method="free")
    assert order.state in (Order.State.PAID, Order.State.FULFILLED)
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=version)
    assert access.full and not access.live and access.plan is None
    assert not data_access(user=buyer, organization=buyer.active_organization, dataset=api_dataset, version=None).full


@pytest.mark.django_db
def test_pricing_rules_apply_to_api_plans(official, api_dataset, publish):
    # 공공데이터: a metered or subscription plan is a cost-recovery fee: its basis must be stated.
    for kind, extra in (
        ("api_metered", {"price_per_1000_krw": 1000}),
        ("api_subscription", {"price_krw": 10_000, "rate_limit_per_minute": 60}),
    ):
        with pytest.raises(DomainError) as refused:
            catalog_services.offer_create(actor=official, dataset=api_dataset, kind=kind, **extra)
        assert refused.value.code == "offer_cost_basis"
    # Each kind needs its own terms.
    for kind, code in (
        ("api_dev", "offer_daily_quota"),
        ("api_metered", "offer_price_per_1000"),
        ("api_subscription", "offer_rate_limit"),
    ):
        with pytest.raises(DomainError) as refused:
            catalog_services.offer_create(actor=official, dataset=api_dataset, kind=kind, cost_basis=COST, price_krw=1)
        assert refused.value.code == code
    # The development plan is free (no basis needed) and carries no price whatever the form sent.
    dev = catalog_services.offer_create(
        actor=official, dataset=api_dataset, kind="api_dev", daily_quota=500, price_krw=999
    )
    assert dev.price_krw == 0 and dev.rule == "공공데이터법"
    # 공공누리 제2유형 (no commercial use): the development plan only.
    kogl2 = publish(
        title_ko="비영리 자료", data_kind="private", licence="kogl-2", offers=({"kind": "api_dev", "daily_quota": 100},)
    )
    with pytest.raises(DomainError) as refused:
        catalog_services.offer_create(
            actor=official, dataset=kogl2, kind="api_metered", price_per_1000_krw=100, contract_type="provision"
        )
    assert refused.value.code == "offer_licence"
    # 민간·가공 데이터: the standard-contract type.
    private = publish(
        title_ko="가공 자료", data_kind="private", licence="cc-by-4.0", offers=({"kind": "api_dev", "daily_quota": 10},)
    )
    with pytest.raises(DomainError) as refused:
        catalog_services.offer_create(actor=official, dataset=private, kind="api_metered", price_per_1000_krw=100)
    assert refused.value.code == "offer_contract"
    metered = catalog_services.offer_create(
        actor=official, dataset=private, kind="api_metered", price_per_1000_krw=100, contract_type="provision"
    )
    assert metered.rule == "데이터산업법" and metered.price_krw == 0


@pytest.mark.django_db
def test_the_dataset_page_lists_the_plans_in_korean(client, buyer, api_dataset):
    client.force_login(buyer)
    page = client.get(reverse("catalog:dataset", args=[api_dataset.slug])).content.decode()
    assert "API 개발계정" in page
    assert "1일 1,000건" in page
    assert "1,000건당 2,000원" in page
    assert "분당 600건" in page
    assert selectors.purchase_problem(offer_of(api_dataset, Offer.Kind.API_DEV), buyer.active_organization) is None


@pytest.mark.django_db
def test_a_refunded_api_subscription_closes_the_data_at_once(buyer, admin_user, api_dataset):
    from transactions.refunds import services as refunds

    plan = buy_api_subscription(buyer, api_dataset, admin_user)
    org = buyer.active_organization
    assert data_access(user=buyer, organization=org, dataset=api_dataset, version=None).full
    refund = refunds.refund_create(
        actor=admin_user, order=plan.entitlement.order_item.order, reason="제공기관 요청으로 판매 철회"
    )
    refunds.refund_bank_confirm(
        actor=admin_user, refund=refund, bank="국민은행", account_number="123-456", holder="(주)에어데이터랩"
    )
    access = data_access(user=buyer, organization=org, dataset=api_dataset, version=None)
    assert not access.full and not access.live and access.plan is None


@pytest.mark.django_db
def test_the_provider_api_makes_api_offers_and_the_catalog_api_shows_their_terms(api, make_key, official, api_dataset):
    version = api_dataset.versions.get()
    api.with_key(make_key(official, scopes=("publish",)))
    made = api.post(
        f"/api/v1/provider/versions/{version.pk}/offers/",
        {"kind": "api_metered", "price_per_1000_krw": 500, "cost_basis": COST},
        format="json",
    )
    assert made.status_code == 201, made.content[:400]
    assert made.json()["price_per_1000_krw"] == 500 and made.json()["price_krw"] == 0
    refused = api.post(f"/api/v1/provider/versions/{version.pk}/offers/", {"kind": "api_dev"}, format="json").json()[
        "error"
    ]
    assert refused["code"] == "offer_daily_quota" and "1일 호출 한도" in refused["message_ko"]
    offers = api.get(reverse("api-catalog-dataset", args=[api_dataset.slug])).json()["offers"]
    dev = next(o for o in offers if o["kind"] == "api_dev")
    assert dev["daily_quota"] == 1000 and dev["price"]["total_krw"] == 0


@pytest.mark.django_db
def test_the_development_and_metered_plans_never_go_through_the_cart(buyer, api_dataset):
    from transactions.services import cart as cart_services

    for kind in (Offer.Kind.API_DEV, Offer.Kind.API_METERED):
        with pytest.raises(DomainError) as refused:
            cart_services.cart_add(
                actor=buyer, organization=buyer.active_organization, offer=offer_of(api_dataset, kind)
            )
        assert refused.value.code == "api_plan_not_in_cart"
