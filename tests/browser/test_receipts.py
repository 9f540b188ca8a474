"""A buyer opens the receipt of a paid order from the order page, then its PDF; the supplier's clerk opens the month's
tax invoices and downloads the 홈택스 CSV. Screenshots in Korean and English, desktop and phone."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_purchase_card import login
from tests.transactions.conftest import offer_of, parked_package_builds, place_order, publish_dataset  # noqa: F401
from transactions.documents.models import Document
from transactions.payments import services as payments

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_buyer_opens_the_receipt_and_its_pdf(
    live_server,
    page,
    official,
    admin_user,
    buyer,
    reference_data,
    parked_package_builds,
    shot,
    console_errors,  # noqa: F811
):
    base = live_server.url
    dataset = publish_dataset(
        official, admin_user, offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용"},)
    )
    order = place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=33_000)
    document = Document.objects.get(order=order)

    login(page, base, buyer.email)
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("#order-documents")).to_contain_text(document.number)
    page.locator("#order-documents a", has_text=document.number).first.click()
    page.wait_for_url(re.compile(rf"/orders/documents/{document.number}/$"))
    expect(page.locator("#document-title")).to_have_text("세금계산서 (공급받는자 보관용)")
    expect(page.locator("#document-parties")).to_contain_text("134-83-10008")
    expect(page.locator("#document-totals")).to_contain_text("33,000원")
    shot(page, "receipt-ko")
    href = page.locator("#document-pdf").get_attribute("href")
    response = page.request.get(f"{base}{href}")
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")

    page.goto(f"{base}/orders/documents/")
    expect(page.locator("#document-list")).to_contain_text(document.number)
    shot(page, "list-ko")
    page.set_viewport_size({"width": 390, "height": 844})
    shot(page, "list-ko-phone")
    page.goto(f"{base}/orders/documents/{document.number}/")
    shot(page, "receipt-ko-phone")
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/orders/documents/{document.number}/")
    expect(page.locator("#document-title")).to_have_text("Tax invoice (buyer's copy)")
    shot(page, "receipt-en")
    page.goto(f"{base}/orders/documents/")
    shot(page, "list-en")

    # The supplier's month of tax invoices, and its CSV.
    page.context.clear_cookies()
    login(page, base, official.email)
    month = document.snapshot["date"][:7]
    page.goto(f"{base}/provider/tax-invoices/?month={month}")
    expect(page.locator("#tax-invoice-rows")).to_contain_text(document.number)
    shot(page, "tax-invoices-ko")
    csv = page.request.get(f"{base}/provider/tax-invoices/?month={month}&format=csv")
    assert csv.status == 200 and csv.body().startswith(b"\xef\xbb\xbf") and "1168200276" in csv.text()
    assert not console_errors
