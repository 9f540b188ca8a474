"""Every page issue 15 added, in Korean and English, on a desktop (1280 px) and a phone (390 px): each opens, its
heading is in the page's language, nothing is wider than the screen, and no console error. The state behind them is
made through the real services: a company with a verified data voucher that paid part of an order with it (settled by
the agency), a subscription, an order refunded in full (its cancelling document), a closed statement for the
provider. The screenshots are artefacts to look at."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_purchase_card import login
from tests.transactions.conftest import offer_of, parked_package_builds, place_order, publish_dataset  # noqa: F401
from tests.transactions.test_subscription_delivery import SUBSCRIPTION
from tests.transactions.test_vouchers import ELIGIBLE, checkout, owner_of, verified_voucher
from transactions.documents.models import Document
from transactions.models import Order
from transactions.payments import services as payments
from transactions.refunds import services as refunds
from transactions.statements import selectors as statement_selectors
from transactions.statements import services as statements
from transactions.vouchers import services as vouchers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADINGS = {
    "ko": {
        "subscriptions": "구독",
        "documents": "영수증·세금계산서",
        "policy": "환불 정책",
        "vouchers": "데이터바우처",
        "sales": "판매",
        "staff_refunds": "환불",
        "staff_payouts": "정산 지급",
        "staff_vouchers": "데이터바우처",
        "tax_invoices": "세금계산서",
    },
    "en": {
        "subscriptions": "Subscriptions",
        "documents": "Receipts and tax documents",
        "policy": "Refund policy",
        "vouchers": "Data voucher",
        "sales": "Sales",
        "staff_refunds": "Refunds",
        "staff_payouts": "Payouts",
        "staff_vouchers": "Data voucher",
        "tax_invoices": "Tax invoices",
    },
}


def _pay_by_bank(order, buyer, admin_user):
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩")
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def state(official, admin_user, buyer, reference_data, parked_package_builds):  # noqa: F811
    eligible = publish_dataset(official, admin_user, offers=(ELIGIBLE,))
    monthly = publish_dataset(
        official,
        admin_user,
        title_ko="시흥시 미세먼지 실시간 측정",
        title_en="Siheung fine dust",
        offers=(SUBSCRIPTION,),
    )
    refundable = publish_dataset(
        official,
        admin_user,
        title_ko="시흥시 공영주차장 이용 현황",
        title_en="Siheung public car parks",
        offers=({"kind": "one_off", "price_krw": 20_000, "cost_basis": "파일 가공·전송 비용"},),
    )
    voucher = verified_voucher(buyer, admin_user, granted=10_000_000, number="2025-데이터바우처-0117")
    paid_with_voucher = _pay_by_bank(
        checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher, method="bank_transfer"), buyer, admin_user
    )
    vouchers.voucher_settle(
        actor=admin_user,
        voucher=voucher,
        orders=[paid_with_voucher],
        paid_on=date.today(),
        reference="KDATA-2025-0042",
        amount_krw=paid_with_voucher.voucher_krw,
    )
    subscribed = _pay_by_bank(
        place_order(buyer, offer_of(monthly, "subscription"), method="bank_transfer"), buyer, admin_user
    )
    refunded = _pay_by_bank(
        place_order(buyer, offer_of(refundable, "one_off"), method="bank_transfer"), buyer, admin_user
    )
    refund = refunds.refund_create(actor=admin_user, order=refunded, reason="같은 자료를 두 번 구매함")
    refunds.refund_bank_confirm(
        actor=admin_user, refund=refund, bank="KB국민은행", account_number="123-45-6789", holder="(주)에어데이터랩"
    )
    (statement,) = statements.statements_close_month(
        month=statement_selectors.month_of(timezone.now()), now=timezone.now() + timedelta(days=40)
    )
    return {
        "voucher": voucher,
        "paid_with_voucher": paid_with_voucher,
        "subscribed": subscribed,
        "refunded": refunded,
        "cancelling": Document.objects.get(order=refunded, kind="cancellation"),
        "statement": statement,
    }


def _fits(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{page.url} is {scroll}px wide on a {width}px screen"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_issue15_pages_in_both_languages_on_desktop_and_phone(
    live_server, browser, official, admin_user, buyer, state, shot, lang
):
    base, heading = live_server.url, HEADINGS[lang]
    errors = []
    month = state["cancelling"].snapshot["date"][:7]
    pages = {
        owner_of(buyer).email: [
            ("subscriptions", "/orders/subscriptions/", heading["subscriptions"]),
            ("documents", "/orders/documents/", heading["documents"]),
            ("cancelling-document", f"/orders/documents/{state['cancelling'].number}/", None),
            ("policy", "/orders/refunds/policy/", heading["policy"]),
            ("order-refunded", f"/orders/{state['refunded'].number}/", None),
            ("order-voucher", f"/orders/{state['paid_with_voucher'].number}/", None),
            ("order-subscription", f"/orders/{state['subscribed'].number}/", None),
            ("vouchers", "/me/vouchers/", heading["vouchers"]),
        ],
        official.email: [
            ("sales", "/sales/", heading["sales"]),
            ("statement", f"/sales/statements/{state['statement'].pk}/", None),
            ("tax-invoices", f"/provider/tax-invoices/?month={month}", heading["tax_invoices"]),
        ],
        admin_user.email: [
            ("staff-refunds", "/staff/refunds/", heading["staff_refunds"]),
            ("staff-payouts", "/staff/payouts/", heading["staff_payouts"]),
            ("staff-ledger", f"/staff/payouts/ledger/{state['statement'].organization_id}/", None),
            ("staff-vouchers", "/staff/vouchers/", heading["staff_vouchers"]),
            ("staff-voucher", f"/staff/vouchers/{state['voucher'].pk}/", None),
        ],
    }
    for email, visits in pages.items():
        context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.on(
            "console", lambda msg, page=page: errors.append(f"{page.url}: {msg.text}") if msg.type == "error" else None
        )
        login(page, base, email)
        context.add_cookies([{"name": "django_language", "value": lang, "url": base}])
        for name, path, title in visits:
            for width in (1280, 390):
                page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
                response = page.goto(f"{base}{path}")
                assert response.status == 200, f"{path}: {response.status}"
                expect(page.locator("html")).to_have_attribute("lang", re.compile(f"^{lang}"))
                if title:
                    expect(page.locator("h1")).to_contain_text(title)
                shot(page, f"{lang}-{name}-{width}")
                _fits(page, width)
        context.close()
    assert errors == []
