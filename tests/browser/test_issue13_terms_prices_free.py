"""Issue 13 (pages that said what was not so), walked in Korean and English on a 390 px phone: sign-up with the
terms of use and the privacy policy, both documents and their versions, a new version put to a signed-in user,
search results with their prices, and a free order without billing fields, worded as a free order."""

import datetime
import re

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from accounts import selectors, services
from accounts.migrations import _policy_texts_2026 as policy_texts
from accounts.models import Organization, PolicyAgreement, PolicyVersion, User
from catalog import services as catalog_services
from catalog.models import Offer
from tests.catalog.test_discovery import publish
from tests.conftest import PASSWORD
from tests.transactions.conftest import offer_of, publish_dataset
from transactions.models import Order
from transactions.services import cart as cart_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = {
    "ko": {
        "terms_box": "이용약관에 동의합니다.",
        "privacy_box": "개인정보처리방침에 따른 개인정보 수집·이용에 동의합니다.",
        "terms_title": "이용약관",
        "privacy_title": "개인정보처리방침",
        "in_force": "시행 중",
        "officer": "개인정보 보호책임자",
        "agree_title": "시행 중인 약관에 동의해 주세요",
        "price": "33,000원부터",
        "subscription": "구독 30일 11,000원",
        "vat": "부가세 포함",
        "no_billing": "청구 정보를 입력하지 않습니다",
        "complete": "무료 신청 완료",
        "free": "무료",
    },
    "en": {
        "terms_box": "I agree to the terms of use.",
        "privacy_box": "I agree to the collection and use of my personal data as the privacy policy describes.",
        "terms_title": "Terms of use",
        "privacy_title": "Privacy policy",
        "in_force": "In force",
        "officer": "Privacy officer",
        "agree_title": "Please agree to the versions in force",
        "price": "from 33,000 won",
        "subscription": "subscription, 30 days: 11,000 won",
        "vat": "VAT included",
        "no_billing": "no billing details are needed",
        "complete": "Free order complete",
        "free": "Free",
    },
}


@pytest.fixture(autouse=True)
def _policies(transactional_db):
    """Version 1.0 of both documents, as the migration seeds them (a transactional test's flush empties the table);
    before any user exists, so the fixtures' users agree to it like at sign-up."""
    policy_texts.seed(PolicyVersion)
    cache.delete(selectors.POLICY_INDEX_KEY)


def _fits(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide"


def _login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/|/policies/"))


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_issue13_terms_prices_and_free_order_on_a_phone(
    live_server, browser, official, admin_user, buyer, reference_data, shot, lang
):
    base, text = live_server.url, TEXT[lang]

    def context():
        ctx = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 844})
        ctx.add_cookies([{"name": "django_language", "value": lang, "url": base}])
        return ctx

    # --- Sign-up: two boxes, each linking to the version it agrees to -------------------------------------------
    anonymous = context().new_page()
    anonymous.goto(f"{base}/accounts/signup/")
    form = anonymous.locator("main form")
    expect(form).to_contain_text(text["terms_box"])
    expect(form).to_contain_text(text["privacy_box"])
    expect(form.locator('a[href="/policies/terms/1.0/"]')).to_be_visible()
    expect(form.locator('a[href="/policies/privacy/1.0/"]')).to_be_visible()
    _fits(anonymous)
    email = f"new.{lang}@company.test"
    anonymous.locator("#id_email").fill(email)
    anonymous.locator("#id_name").fill("홍길동")
    anonymous.locator("#id_password1").fill("a-Long-pass-2026")
    anonymous.locator("#id_password2").fill("a-Long-pass-2026")
    anonymous.locator("#id_agree_terms").check()
    shot(anonymous, f"{lang}-signup-one-box-ticked")
    anonymous.locator("main form button[type=submit]").click()
    assert not User.objects.filter(email=email).exists()  # the privacy box is required too
    anonymous.locator("#id_password1").fill("a-Long-pass-2026")
    anonymous.locator("#id_password2").fill("a-Long-pass-2026")
    anonymous.locator("#id_agree_terms").check()
    anonymous.locator("#id_agree_privacy").check()
    anonymous.locator("main form button[type=submit]").click()
    anonymous.wait_for_url(re.compile(r"/accounts/confirm-email/"))
    agreed = PolicyAgreement.objects.filter(user__email=email).values_list("policy__kind", "policy__version")
    assert sorted(agreed) == [("privacy", "1.0"), ("terms", "1.0")]

    # --- The two documents --------------------------------------------------------------------------------------
    anonymous.goto(f"{base}/")
    anonymous.locator("#krds-footer").get_by_role("link", name=text["privacy_title"]).click()
    anonymous.wait_for_url(f"{base}/policies/privacy/")
    expect(anonymous.locator("h1")).to_have_text(text["privacy_title"])
    expect(anonymous.locator("#policy-state")).to_contain_text(text["in_force"])
    expect(anonymous.locator("#policy-body")).to_contain_text(text["officer"])
    _fits(anonymous)
    shot(anonymous, f"{lang}-privacy-policy")
    anonymous.goto(f"{base}/policies/terms/")
    expect(anonymous.locator("h1")).to_have_text(text["terms_title"])
    _fits(anonymous)
    shot(anonymous, f"{lang}-terms")

    # --- Search results with prices ------------------------------------------------------------------------------
    publisher = official.active_organization
    Organization.objects.filter(pk=publisher.pk).update(vat_status="taxable")
    paid = publish(publisher, "시흥시 대기질 측정 자료(가공)", title_en="Siheung air quality (processed)", kinds=())
    for kind, price, days in (("one_off", 30_000, None), ("subscription", 10_000, 30), ("one_off", 50_000, None)):
        Offer.objects.create(dataset=paid, kind=kind, price_krw=price, subscription_days=days, rule="데이터산업법")
    catalog_services.catalog_entry_refresh(paid)
    publish(publisher, "시흥시 대기질 측정소 목록", title_en="Siheung air quality stations", kinds=("free",))
    anonymous.goto(f"{base}/catalog/?q=대기질")
    prices = anonymous.locator(".cat-price")
    expect(prices).to_have_count(1)
    expect(prices.first).to_contain_text(text["price"])
    expect(prices.first).to_contain_text(text["subscription"])
    expect(prices.first).to_contain_text(text["vat"])
    _fits(anonymous)
    shot(anonymous, f"{lang}-search-prices")
    anonymous.goto(f"{base}/catalog/?q=air+quality")
    expect(anonymous.locator("#dataset-list > li")).to_have_count(2)
    anonymous.goto(f"{base}/catalog/?q=air+zebra")
    expect(anonymous.locator("#no-results")).to_be_visible()
    expect(anonymous.locator("#suggestions")).not_to_contain_text("airzebra")
    shot(anonymous, f"{lang}-search-suggestions")

    # --- A free order: no billing fields, worded as a free order --------------------------------------------------
    dataset = publish_dataset(official, admin_user, offers=({"kind": "free"},))
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer_of(dataset, "free"))
    page = context().new_page()
    _login(page, base, buyer.email)
    page.goto(f"{base}/orders/checkout/")
    expect(page.locator("#free-no-billing")).to_contain_text(text["no_billing"])
    expect(page.locator("#id_billing_name")).to_have_count(0)
    expect(page.locator("#id_billing_brn")).to_have_count(0)
    _fits(page)
    shot(page, f"{lang}-free-checkout")
    page.locator("[id^=accept-]").check()
    page.locator("#place-order-btn").click()
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get(buyer=buyer.active_organization)
    expect(page.locator("#order-live")).to_contain_text(text["complete"])
    expect(page.locator("#billing")).to_have_count(0)
    _fits(page)
    shot(page, f"{lang}-free-order")
    page.goto(f"{base}/orders/")
    row = page.locator("tr", has_text=order.number)
    expect(row).to_contain_text(text["free"])
    expect(row).not_to_contain_text("0원" if lang == "ko" else "0 won")
    _fits(page)
    shot(page, f"{lang}-orders")

    # --- A new version of the terms takes effect: asked on the next visit, admins keep the admin pages -----------
    services.policy_version_create(
        actor=admin_user,
        kind="terms",
        version="1.1",
        effective_on=timezone.localdate() + datetime.timedelta(days=0),
        body_ko=PolicyVersion.objects.get(kind="terms", version="1.0").body_ko,
        body_en=PolicyVersion.objects.get(kind="terms", version="1.0").body_en,
        changes_ko="제10조 환불 기한을 명확히 했습니다.",
        changes_en="Article 10 states the refund period more clearly.",
    )
    page.goto(f"{base}/catalog/")
    page.wait_for_url(re.compile(r"/policies/agree/"))
    expect(page.locator("h1")).to_have_text(text["agree_title"])
    expect(page.locator("main")).to_contain_text("1.1")
    _fits(page)
    shot(page, f"{lang}-agree-new-version")
    page.locator("input[name=agree]").check()
    page.locator("#agree-btn").click()
    page.wait_for_url(f"{base}/catalog/")
    assert PolicyAgreement.objects.filter(user=buyer, policy__version="1.1").exists()

    admin = context().new_page()
    _login(admin, base, admin_user.email)
    admin.goto(f"{base}/staff/policies/")
    expect(admin.locator("#versions-terms")).to_contain_text("1.1")
    _fits(admin)
    shot(admin, f"{lang}-staff-policies")
