"""A company takes the development plan of a dataset on its page (the plan in Korean, the licence to accept, active
at once), makes an API key with the `data` scope, calls the data API from Python (`requests`) with it and reads the
rate-limit headers, then sees its usage: the plan with the quota left, a chart of calls per day and table with its
numbers in a table under it; the same page at phone width without overflow and without a console error."""

import base64
import re
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from playwright.sync_api import expect

from tests.api.data_world import publish_sensors
from tests.conftest import PASSWORD
from transactions.apiplans import usage
from transactions.apiplans.models import ApiPlan
from transactions.dataapi import metering

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")
OFFERS = ({"kind": "free"}, {"kind": "api_dev", "daily_quota": 1000})


@pytest.fixture(autouse=True)
def _clean_metering_keys():
    r = metering.client()
    for key in r.scan_iter("dapi:*", count=1000):
        r.delete(key)
    yield
    for key in r.scan_iter("dapi:*", count=1000):
        r.delete(key)


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/catalog/|/orders/"))


def test_a_company_takes_the_development_plan_calls_the_api_and_sees_its_usage(
    live_server, page, official, admin_user, buyer, reference_data, shot, console_errors
):
    base = live_server.url
    version = publish_sensors(official, admin_user, offers=OFFERS, geojson=False)
    dataset = version.dataset
    offer = dataset.offers.get(kind="api_dev")

    # The test machine is offline: the coverage map's tiles are a transparent pixel, so the page logs no error.
    tile_host = urlsplit(settings.MAP_TILE_URL).netloc
    page.route(f"**://{tile_host}/**", lambda route: route.fulfill(status=200, body=PIXEL, content_type="image/png"))
    _login(page, base, buyer.email)
    page.goto(f"{base}/catalog/datasets/{dataset.slug}/")
    box = page.locator("#api-offers")
    expect(box).to_contain_text("API 개발계정")
    expect(box).to_contain_text("1일 1,000건, 무료, 신청 즉시 사용")
    shot(page, "dataset-api-plans")
    page.locator(f"#take-plan-{offer.pk}").click()

    # The plan's page: what it gives and the licence; nothing is taken before the licence is accepted.
    page.wait_for_url(f"{base}/orders/api-plans/take/{offer.pk}/")
    expect(page.locator("h1")).to_have_text("API 개발계정")
    expect(page.locator("#take-form")).to_contain_text("신청하는 즉시 사용할 수 있습니다")
    shot(page, "take-plan")
    page.locator("#id_accepted").check()
    page.locator("#take-submit").click()
    page.wait_for_url(re.compile(r"/orders/usage/"))
    plan = ApiPlan.objects.get(organization=buyer.active_organization, dataset=dataset)
    assert plan.state == "active" and plan.kind == "api_dev"
    expect(page.locator(f"#plan-{plan.pk}")).to_contain_text("1,000건 중 1,000건 남음")

    # A key with the data scope.
    page.locator("#api-keys-link").click()
    page.wait_for_url(f"{base}/me/api-keys/")
    expect(page.locator("#id_scopes_data")).to_be_enabled()
    expect(page.locator("label[for=id_scopes_data]")).to_contain_text("데이터 API")
    page.locator("#id_name").fill("센서 수집기")
    page.locator("#id_scopes_read").uncheck()
    page.locator("#id_scopes_data").check()
    page.locator("#api-key-form button[type=submit]").click()
    key = page.locator("#new-api-key").input_value()
    assert key.startswith("sdx_")

    # The program: the full table through the data API, five calls.
    url = f"{base}/api/v1/data/{dataset.slug}/latest/sensors"
    for i in range(5):
        response = requests.get(url, params={"limit": 10}, headers={"Authorization": f"Token {key}"}, timeout=30)
        assert response.status_code == 200, response.text[:300]
        assert response.headers["X-RateLimit-Limit"] == "1000"
        assert response.headers["X-RateLimit-Remaining"] == str(999 - i)
        assert len(response.json()["rows"]) == 10
    usage.usage_flush()  # the beat's minute

    page.goto(f"{base}/orders/usage/")
    expect(page.locator(f"#plan-{plan.pk}")).to_contain_text("1,000건 중 995건 남음")
    expect(page.locator("#usage-totals")).to_contain_text("호출 5건, 오류 0건")
    canvas = page.locator("canvas[data-sales-chart='usage-calls']")
    expect(canvas).to_have_attribute("data-drawn", "true")
    page.locator("#usage-calls summary").click()
    expect(page.locator("#usage-calls-table tfoot")).to_contain_text("5")
    expect(page.locator("#usage-tables")).to_contain_text("sensors")
    shot(page, "usage-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{overflow}px of horizontal overflow at 390 px"
    shot(page, "usage-390")
    assert console_errors == [], console_errors
