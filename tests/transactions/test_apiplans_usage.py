"""Usage pages and API (issue 16): the buyer's /orders/usage/ and the provider's /sales/usage/ show calls per day and
per table, errors and bytes (a Chart.js chart with its numbers in a table under it), the plans with the quota left
and the metered amount of the month; /api/v1/usage/ and /api/v1/provider/usage/ give the same numbers. The API key
page offers the `data` scope with its Korean label."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from catalog.models import Offer
from transactions.apiplans import usage
from transactions.dataapi import metering
from transactions.dataapi.access import data_access

from .conftest import offer_of
from .test_apiplans_metering import _clean_metering_keys  # noqa: F401  (autouse: fresh Redis keys)
from .test_apiplans_plans import API_OFFERS, take


@pytest.fixture
def used(buyer, publish):
    """A metered plan with 30 calls to two tables (3 errors, 100 bytes each), persisted."""
    dataset = publish(offers=API_OFFERS)
    plan = take(buyer, offer_of(dataset, Offer.Kind.API_METERED), monthly_cap_krw=50_000)
    access = data_access(user=buyer, organization=buyer.active_organization, dataset=dataset, version=None)
    request = RequestFactory().get("/")
    for i in range(30):
        grant = metering.admit(request=request, access=access, dataset=dataset)
        metering.finish(
            grant,
            dataset_id=dataset.pk,
            table="siheung_daegijil" if i < 20 else "sql",
            status=500 if i % 10 == 0 else 200,
            nbytes=100,
        )
    usage.usage_flush()
    return plan


@pytest.mark.django_db(transaction=True)
def test_the_buyers_usage_page(client, buyer, used):
    client.force_login(buyer)
    page = client.get(reverse("transactions:api_usage"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="usage-calls"' in html and "<canvas" in html and 'id="usage-calls-table"' in html  # chart + table
    assert 'id="sales-charts-data"' in html and "chart.umd.min.js" in html
    assert "호출 30건, 오류 3건" in html
    assert "siheung_daegijil" in html and "API 종량제" in html
    # The month's metered amount so far: 30 calls × 2,000 / 1,000 = 60 won + VAT 6 = 66 won.
    assert "지금까지 30건: 60원 + 부가세 = 66원" in html
    # What is left of the cap: 50,000 won buys 25,000 calls, 30 used.
    assert "25,000건 중 24,970건 남음" in html
    assert f'id="cap-form-{used.pk}"' in html


@pytest.mark.django_db(transaction=True)
def test_the_providers_usage_page(client, official, used):
    client.force_login(official)
    page = client.get(reverse("statements:api_usage"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "호출 30건, 오류 3건" in html and 'id="usage-tables"' in html
    assert "(주)에어데이터랩" in html or "AirDataLab" in html  # the buyer holding a plan


@pytest.mark.django_db(transaction=True)
def test_the_usage_api_for_buyer_and_provider(api, make_key, buyer, official, used):
    body = api.with_key(make_key(buyer, scopes=("read",))).get("/api/v1/usage/").json()
    assert body["totals"] == {"calls": 30, "errors": 3, "bytes": 3000}
    assert {t["table"]: t["calls"] for t in body["tables"]} == {"siheung_daegijil": 20, "sql": 10}
    plan = body["plans"][0]
    assert plan["kind"] == "api_metered" and plan["month_calls"] == 30 and plan["month_amount_krw"] == 60
    assert plan["quota"]["remaining"] == 24_970
    provider = api.with_key(make_key(official, scopes=("read",))).get("/api/v1/provider/usage/").json()
    assert provider["totals"]["calls"] == 30
    # The buyer cannot read the provider's usage.
    assert api.with_key(make_key(buyer, scopes=("read",))).get("/api/v1/provider/usage/").status_code == 403


@pytest.mark.django_db
def test_the_cap_form_and_cancel_on_the_usage_page(client, buyer, publish):
    dataset = publish(offers=API_OFFERS)
    plan = take(buyer, offer_of(dataset, Offer.Kind.API_METERED), monthly_cap_krw=1000)
    client.force_login(buyer)
    client.post(reverse("transactions:api_plan_cap", args=[plan.pk]), {"monthly_cap_krw": "12,000"})
    plan.refresh_from_db()
    assert plan.monthly_cap_krw == 12_000
    page = client.post(reverse("transactions:api_plan_cap", args=[plan.pk]), {"monthly_cap_krw": "abc"}, follow=True)
    assert "월 상한액은 50000처럼 원 단위 정수로 입력하세요." in page.content.decode()
    client.post(reverse("transactions:api_plan_cancel", args=[plan.pk]))
    plan.refresh_from_db()
    assert plan.state == "cancelled"


@pytest.mark.django_db
def test_the_take_page_takes_the_development_plan(client, buyer, publish):
    dataset = publish(offers=API_OFFERS)
    offer = offer_of(dataset, Offer.Kind.API_DEV)
    client.force_login(buyer)
    page = client.get(reverse("transactions:api_plan_take", args=[offer.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "신청하는 즉시 사용할 수 있습니다" in html and "공공누리" in html
    refused = client.post(
        reverse("transactions:api_plan_take", args=[offer.pk]), {"accept": "x" * 64, "accepted": "on"}
    )
    assert refused.status_code == 200 and "이용허락" in refused.content.decode()
    digest = page.context["line"].licence_sha256
    done = client.post(reverse("transactions:api_plan_take", args=[offer.pk]), {"accept": digest, "accepted": "on"})
    assert done.status_code == 302 and done["Location"].startswith(reverse("transactions:api_usage"))
    assert dataset.pk in set(buyer.active_organization.api_plans.values_list("dataset_id", flat=True))


@pytest.mark.django_db
def test_the_key_page_offers_the_data_scope(client, buyer, make_key):
    client.force_login(buyer)
    html = client.get(reverse("accounts:api_keys")).content.decode()
    assert 'value="data"' in html and "데이터 API" in html
    make_key(buyer, scopes=("data",))  # a member may give it


@pytest.mark.django_db
def test_the_order_page_and_my_data_say_an_api_plan_is_read_through_the_api(client, buyer, publish):
    dataset = publish(offers=API_OFFERS)
    plan = take(buyer, offer_of(dataset, Offer.Kind.API_DEV))
    client.force_login(buyer)
    order = plan.entitlement.order_item.order
    html = client.get(reverse("transactions:order", args=[order.number])).content.decode()
    assert "데이터 API로 이용합니다" in html and 'id="order-api-usage"' in html
    assert "파일 패키지를 만들고 있습니다" not in html and "아직 파일 없음" not in html
    mine = client.get(reverse("transactions:entitlements")).content.decode()
    assert "아직 파일 없음" not in mine and "데이터 API" in mine


@pytest.mark.django_db
def test_the_providers_offer_form_offers_the_api_plans_and_lists_them(client, official, publish):
    dataset = publish(offers=API_OFFERS)
    version = dataset.versions.get()
    client.force_login(official)
    html = client.get(reverse("catalog:version_submission", args=[version.pk])).content.decode()
    for text in (
        "API 개발계정",
        "API 종량제",
        "API 정액제(구독)",
        "1일 호출 한도 (API 개발계정)",
        "분당 호출 한도 (API 정액제)",
    ):
        assert text in html, text
    assert 'name="price_per_1000_krw"' in html and "data-offer-api" in html
    assert "1,000건당 2,000원" in html
    # Adding one through the form.
    client.post(
        reverse("catalog:offer_create", args=[version.pk]),
        {"kind": "api_subscription", "price_krw": "30000", "rate_limit_per_minute": "120", "cost_basis": "서버 운영비"},
    )
    offer = dataset.offers.get(kind="api_subscription", rate_limit_per_minute=120)
    assert offer.subscription_days == 30 and offer.price_krw == 30_000


def take_line_sha(user, offer):
    from transactions.apiplans.selectors import offer_line

    return offer_line(offer, user.active_organization).licence_sha256


@pytest.mark.django_db
def test_a_program_takes_the_development_plan_through_the_api(api, make_key, buyer, publish):
    dataset = publish(offers=API_OFFERS)
    dev, metered = offer_of(dataset, Offer.Kind.API_DEV), offer_of(dataset, Offer.Kind.API_METERED)
    api.with_key(make_key(buyer, scopes=("buy",)))
    licence = api.get(reverse("api-catalog-dataset", args=[dataset.slug])).json()["licence_text"]
    assert len(licence["sha256"]) == 64 and licence["sha256"] == take_line_sha(buyer, dev)
    wrong = api.post("/api/v1/api-plans/", {"offer": dev.pk, "licence_sha256": "0" * 64}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "licence_changed"
    taken = api.post("/api/v1/api-plans/", {"offer": dev.pk, "licence_sha256": licence["sha256"]}, format="json")
    assert taken.status_code == 201, taken.content[:300]
    body = taken.json()
    assert body["kind"] == "api_dev" and body["state"] == "active" and body["quota"]["remaining"] == 1000
    # Metered needs the cap.
    sha = licence["sha256"]
    no_cap = api.post("/api/v1/api-plans/", {"offer": metered.pk, "licence_sha256": sha}, format="json")
    assert no_cap.status_code == 400 and no_cap.json()["error"]["code"] == "monthly_cap"
    capped = api.post(
        "/api/v1/api-plans/", {"offer": metered.pk, "licence_sha256": sha, "monthly_cap_krw": 5000}, format="json"
    )
    assert capped.status_code == 201 and capped.json()["monthly_cap_krw"] == 5000
    # Only the development and metered plans are taken here.
    free = offer_of(dataset, Offer.Kind.FREE).pk
    assert api.post("/api/v1/api-plans/", {"offer": free, "licence_sha256": sha}, format="json").status_code == 404
