"""The licence a buyer reads at checkout and finds on the order page has every blank filled (publisher,
year, title), in Korean and English, on a phone-sized screen."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.test_purchase_free import _login
from tests.transactions.conftest import publish_dataset
from transactions.models import Order
from transactions.services import cart as cart_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BLANK = re.compile(r"\{[^{}]*\}")


def _licence_texts(page, selector) -> list[str]:
    return page.locator(f"{selector} .pc-licence-text").evaluate_all("els => els.map(e => e.textContent)")


def test_checkout_and_order_show_the_filled_licence(
    live_server, page, official, admin_user, buyer, reference_data, shot, console_errors
):
    base = live_server.url
    public = publish_dataset(
        official,
        admin_user,
        offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"},),
    )
    private = publish_dataset(
        official,
        admin_user,
        title_ko="스마트폴 환경 센서(가공)",
        title_en="Smart pole sensors (processed)",
        data_kind="private",
        licence="cc-by-nc-4.0",
        offers=({"kind": "subscription", "price_krw": 900_000, "subscription_days": 90, "contract_type": "provision"},),
    )
    organization = official.active_organization
    offers = [public.offers.get(), private.offers.get()]
    for offer in offers:
        cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer)

    _login(page, base, buyer.email)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base + reverse("transactions:checkout"))
    for offer, title in zip(offers, ("시흥시 대기질 측정 자료", "스마트폴 환경 센서(가공)"), strict=True):
        block = page.locator(f"#licence-{offer.pk}")
        expect(block).to_contain_text(organization.name_ko)
        expect(block).to_contain_text(title)
        texts = _licence_texts(page, f"#licence-{offer.pk}")
        assert texts and not any(BLANK.search(t) for t in texts), texts
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    folder = shot(page, "checkout-ko-390").parent
    page.locator(f"#checkout-item-{offers[0].pk}").screenshot(path=str(folder / "checkout-ko-390-item.png"))

    page.locator("#lang-en").click()
    block = page.locator(f"#licence-{offers[0].pk}")
    expect(block).to_contain_text("Licensed work: 'Siheung air quality'")
    expect(block).to_contain_text(organization.name_en or organization.name_ko)
    assert not any(BLANK.search(t) for t in _licence_texts(page, f"#licence-{offers[0].pk}"))
    shot(page, "checkout-en-390")
    page.locator(f"#checkout-item-{offers[1].pk}").screenshot(path=str(folder / "checkout-en-390-item.png"))

    for offer in offers:
        page.locator(f"#accept-{offer.pk}").check()
    page.locator("input[name=method][value=bank_transfer]").check()
    page.locator("#place-order-btn").click()
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get()
    item = order.items.get(offer=offers[0])
    details = page.locator(f"#accepted-licence-{item.pk}").locator("xpath=ancestor::details")
    details.locator(":scope > summary").click()
    expect(page.locator(f"#accepted-licence-{item.pk}")).to_contain_text("Licensed work: 'Siheung air quality'")
    assert not any(BLANK.search(t) for t in _licence_texts(page, f"#accepted-licence-{item.pk}"))
    shot(page, "order-en-390")
    page.locator("#acceptances").screenshot(path=str(folder / "order-en-390-licences.png"))

    page.locator("#lang-ko").click()
    details = page.locator(f"#accepted-licence-{item.pk}").locator("xpath=ancestor::details")
    details.locator(":scope > summary").click()
    block = page.locator(f"#accepted-licence-{item.pk}")
    expect(block).to_contain_text("이용허락 대상 저작물: '시흥시 대기질 측정 자료'")
    expect(block).to_contain_text(f"본 저작물은 '{organization.name_ko}'에서")
    assert not any(BLANK.search(t) for t in _licence_texts(page, f"#accepted-licence-{item.pk}"))
    shot(page, "order-ko-390")
    page.locator("#acceptances").screenshot(path=str(folder / "order-ko-390-licences.png"))
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + reverse("transactions:checkout"))  # the cart is empty now: a plain page
    page.goto(base + reverse("transactions:order", args=[order.number]))
    shot(page, "order-ko-1280")
    assert console_errors == []
