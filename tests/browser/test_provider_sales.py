"""A provider sees its sale, the refund and the chart: a company bought two of its datasets by bank transfer (confirmed
by an admin) and the second was refunded; the provider's sales page draws the Chart.js charts (sales less refunds, the
numbers in tables under them) and its lines show both sales and the refund; once the month is closed the statement
lists them; the platform admin pays the statement with a transfer reference from the payouts page, and the
organization's ledger page agrees with its statements."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.test_purchase_card import login
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions import ledger
from transactions.models import LedgerTransaction, ProviderStatement
from transactions.payments import services as payments
from transactions.refunds import services as refunds
from transactions.statements import selectors, services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_DRAWN = """(key) => {
  const canvas = document.querySelector(`canvas[data-sales-chart="${key}"]`);
  return !!(canvas && window.Chart && window.Chart.getChart(canvas) && canvas.dataset.drawn === "true");
}"""


def test_the_provider_sees_the_sale_the_chart_and_the_statement_and_the_admin_pays_it(
    live_server, page, browser, celery_worker, official, buyer, admin_user, reference_data, shot, console_errors
):
    base = live_server.url
    dataset = publish_dataset(
        official, admin_user, offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용"},)
    )
    order = place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=33_000)
    # A second dataset bought the same way, then refunded in full (the money paid back by transfer).
    other = publish_dataset(
        official,
        admin_user,
        title_ko="시흥시 공영주차장 이용 현황",
        title_en="Siheung public car parks: occupancy",
        offers=({"kind": "one_off", "price_krw": 20_000, "cost_basis": "파일 가공·전송 비용"},),
    )
    refunded = place_order(buyer, offer_of(other, "one_off"), method="bank_transfer")
    payments.bank_transfer_confirm(
        actor=admin_user,
        payment=payments.bank_transfer_start(actor=buyer, order=refunded),
        depositor_name="에어데이터랩",
        amount_krw=22_000,
    )
    refund = refunds.refund_create(actor=admin_user, order=refunded, reason="같은 자료를 두 번 구매함")
    refunds.refund_bank_confirm(
        actor=admin_user, refund=refund, bank="KB국민은행", account_number="123-45-6789", holder="(주)에어데이터랩"
    )
    refund_booked = refund.lines.get().ledger_transaction

    # The provider: its workspace links to the sales page, where the sale is charted and tabulated.
    login(page, base, official.email)
    page.goto(f"{base}/catalog/provider/")
    page.locator("#sales-link").click()
    page.wait_for_url(f"{base}/sales/")
    page.wait_for_function(CHART_DRAWN, arg="sales-by-dataset")
    assert page.evaluate(CHART_DRAWN, "sales-by-buyer-type")
    # The chart is drawn from sales less refunds: the refunded dataset nets to nothing, the total is the kept sale.
    expect(page.locator("#sales-by-dataset-table thead")).to_contain_text("시흥시 공영주차장 이용 현황")
    expect(page.locator("#sales-by-dataset-table tfoot")).to_contain_text("33,000")
    expect(page.locator("#sales-by-buyer-type-table thead")).to_contain_text("기업")
    expect(page.locator("#current-totals [data-total=sales]")).to_contain_text("55,000원")
    expect(page.locator("#current-totals [data-total=refunds]")).to_contain_text("−22,000원")
    shot(page, "provider-sales")
    page.locator("#current-lines-link").click()
    lines = page.locator("#statement-lines")
    expect(lines).to_contain_text(order.number)
    expect(lines).to_contain_text("(주)에어데이터랩")
    refund_line = lines.locator(f'tr[data-ledger-transaction="{refund_booked.pk}"]')
    expect(refund_line.locator("td").nth(1)).to_have_text("환불")
    expect(refund_line).to_contain_text(refunded.number)
    expect(refund_line.locator("td").nth(5)).to_have_text("−22,000")  # the Refunds column
    shot(page, "provider-current-lines")

    # The month closes (as on the 1st): the statement is listed, with the order's line and the amount owed.
    (statement,) = services.statements_close_month(
        month=selectors.month_of(timezone.now()), now=timezone.now() + timedelta(days=40)
    )
    assert (statement.sales_krw, statement.refunds_krw) == (55_000, 22_000)
    assert statement.net_krw == statement.payable_krw == ledger.owed_to(statement.organization)
    page.goto(f"{base}/sales/")
    row = page.locator(f'#statements tr[data-statement="{statement.pk}"]')
    expect(row).to_contain_text("마감: 지급 대기")
    row.locator("a").click()
    expect(page.locator("#statement-lines")).to_contain_text(order.number)
    expect(page.locator(f'#statement-lines tr[data-ledger-transaction="{refund_booked.pk}"]')).to_contain_text(
        "−22,000"
    )
    expect(page.locator("#statement-totals [data-total=refunds]")).to_contain_text("−22,000원")
    expect(page.locator("#statement-totals [data-total=payable]")).to_contain_text(f"{statement.payable_krw:,}")
    shot(page, "provider-statement")

    # The platform admin pays it from the payouts page with the transfer reference.
    admin_context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    admin_page = admin_context.new_page()
    admin_errors = []
    admin_page.on("console", lambda msg: admin_errors.append(msg.text) if msg.type == "error" else None)
    login(admin_page, base, admin_user.email)
    admin_page.goto(f"{base}/staff/")
    admin_page.locator("#payouts-link").click()
    expect(admin_page.locator("#statements-to-pay")).to_contain_text("환경정책과")
    shot(admin_page, "admin-payouts")
    admin_page.locator(f"#pay-{statement.pk}").click()
    admin_page.locator("#transfer-reference-input").fill("신한 2026-0001")
    shot(admin_page, "admin-statement")
    admin_page.locator("#mark-paid-btn").click()
    expect(admin_page.locator(".site-messages")).to_contain_text(f"{statement.payable_krw:,}")
    expect(admin_page.locator("#transfer-reference")).to_have_text("신한 2026-0001")
    statement.refresh_from_db()
    assert statement.state == ProviderStatement.State.PAID and statement.paid_krw == statement.payable_krw
    assert LedgerTransaction.objects.filter(kind="payout").count() == 1
    admin_page.locator("#ledger-link").click()
    expect(admin_page.locator("#ledger-check")).to_have_attribute("data-matches", "true")
    shot(admin_page, "admin-ledger")
    admin_page.goto(f"{base}/staff/payouts/")
    expect(admin_page.locator("#statements-paid")).to_contain_text("신한 2026-0001")

    # The provider sees it paid; the pages in English and on a phone.
    page.goto(f"{base}/sales/")
    expect(page.locator(f'#statements tr[data-statement="{statement.pk}"]')).to_contain_text("지급 완료")
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/sales/")
    page.wait_for_function(CHART_DRAWN, arg="sales-by-dataset")
    expect(page.locator("h1")).to_have_text("Sales")
    shot(page, "provider-sales-en-phone")
    admin_context.close()
    assert console_errors == [] and admin_errors == []
