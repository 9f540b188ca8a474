"""Issue 15, a subscription that lives: a company subscribes to a dataset and pays by (simulated) card; the
publisher publishes a new version; the real worker delivers and packages it, and the company's order page
lists it with its change note and a package to download. On the subscriptions page the company sees the
period and the renewal date, and turns renewal off after confirming. Korean and English, desktop and phone."""

import re
import time

import pytest
from playwright.sync_api import expect

from catalog import services as catalog_services
from tests.browser.test_purchase_card import login, pg  # noqa: F401 -- pg is a fixture used below
from tests.conftest import make_org, make_user
from tests.transactions.conftest import publish_dataset, wait_for_download_records
from tests.transactions.test_subscription_delivery import SUBSCRIPTION, _new_version
from transactions.models import Order, Package, Subscription
from transactions.services import cart as cart_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _wait(condition, what, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_company_subscribes_and_gets_the_new_version_with_its_change_note(
    pg,  # noqa: F811 -- the fixture imported above
    page,
    browser,
    celery_worker,
    official,
    admin_user,
    reference_data,
    shot,
    console_errors,
):
    base = pg.url
    dataset = publish_dataset(official, admin_user, offers=(SUBSCRIPTION,))
    offer = dataset.offers.get()
    company = make_user("data@citylab.test", name="한지민")
    make_org(company, name_ko="(주)시티랩", name_en="CityLab", kind="consumer", brn="2208162517")
    cart_services.cart_add(actor=company, organization=company.active_organization, offer=offer)

    # Subscribe: checkout with the licence accepted, then the PG's window approves the card.
    login(page, base, company.email)
    page.goto(f"{base}/orders/checkout/")
    page.locator(f"#accept-{offer.pk}").check()
    page.locator("input[name=method][value=card]").check()
    page.locator("#place-order-btn").click()
    page.wait_for_url(re.compile(r"/pg-sim/checkout/"))
    expect(page.locator("#pgsim-amount")).to_have_text("99,000")
    page.locator("#card-number").fill("4330 1234 5678 9012")
    page.locator("#pgsim-approve").click()
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get(buyer=company.active_organization)
    first = Package.objects.get(entitlement__order_item__order=order)
    _wait(lambda: Package.objects.filter(pk=first.pk, state="ready").exists(), "the first package")

    # The publisher publishes a new version; the worker delivers it to the subscriber and packages it.
    second = _new_version(official, dataset)
    catalog_services.version_approve(actor=admin_user, version=second)
    _wait(
        lambda: Package.objects.filter(entitlement__order_item__order=order, version=second, state="ready").exists(),
        "the new version's package",
    )
    package = Package.objects.get(entitlement__order_item__order=order, version=second)

    page.goto(f"{base}/orders/{order.number}/")
    section = page.locator("#subscription-versions")
    expect(section).to_contain_text("이 구독으로 제공된 버전")
    row = section.locator(f"#delivered-version-{second.pk}-{package.entitlement_id}")
    expect(row).to_contain_text("버전 2")
    expect(row).to_contain_text("7월 자료 추가")  # the change note
    expect(row.locator(".krds-badge")).to_contain_text("내려받기")
    expect(section.locator(f"#delivered-version-{first.version_id}-{package.entitlement_id}")).to_contain_text(
        "첫 버전"
    )
    shot(page, "order-versions-ko")
    with page.expect_download() as info:
        page.locator(f"#sub-download-{package.pk}").click()
    assert info.value.suggested_filename.endswith(f"v{second.number}.zip")
    wait_for_download_records()

    # The subscriptions page, reached from the orders page.
    page.goto(f"{base}/orders/")
    page.locator("#subscriptions-link").click()
    page.wait_for_url(re.compile(r"/orders/subscriptions/$"))
    subscription = Subscription.objects.get(organization=company.active_organization)
    sub_row = page.locator(f"#subscription-{subscription.pk}")
    expect(sub_row).to_contain_text("갱신 예정")
    expect(sub_row).to_contain_text("99,000")
    expect(page.locator(f"#renews-on-{subscription.pk}")).to_be_visible()
    shot(page, "subscriptions-ko")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "subscriptions-ko-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Cancelling asks first, then keeps the period.
    page.locator(f"#cancel-{subscription.pk}").click()
    expect(page.locator("#cancel-what-happens")).to_contain_text("환불되거나 기간이 줄어들지 않습니다")
    shot(page, "cancel-confirm-ko")
    page.locator("#confirm-cancel-btn").click()
    page.wait_for_url(re.compile(r"/orders/subscriptions/$"))
    expect(page.locator(".site-messages")).to_contain_text("갱신을 해지했습니다")
    expect(page.locator(f"#subscription-{subscription.pk}")).to_contain_text("갱신 해지됨")
    expect(page.locator(f"#resume-{subscription.pk}")).to_be_visible()
    subscription.refresh_from_db()
    assert subscription.state == Subscription.State.CANCELLED
    shot(page, "subscriptions-cancelled-ko")

    # English.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(f"{base}/orders/subscriptions/")
    expect(page.locator("h1")).to_have_text("Subscriptions")
    expect(page.locator(f"#subscription-{subscription.pk}")).to_contain_text("Renewal cancelled")
    shot(page, "subscriptions-en")
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("#subscription-versions")).to_contain_text("Versions delivered by this subscription")
    shot(page, "order-versions-en")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "order-versions-en-phone")
    assert not console_errors
