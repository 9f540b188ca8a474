"""An SME pays with its data voucher and the (simulated) card: the owner registers the voucher, a platform admin
verifies it on the staff page; the company buys a voucher-eligible dataset, the voucher pays 80 % and the card the
own share (the PG window asks only that); the order page shows both parts; the admin records the agency's payment
and the order page says it was settled; the selling provider's sales page and statement lines show the sale with its
voucher part and its card part, and the agency's settlement."""

import re
from datetime import date, timedelta

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from accounts.models import Membership
from devtools.pg_simulator import views as simulator
from tests.conftest import PASSWORD
from tests.transactions.conftest import publish_dataset, wait_for_download_records
from transactions.models import LedgerEntry, LedgerTransaction, Order, Voucher

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pg(live_server, settings):
    settings.SITE_URL = live_server.url
    settings.PG_API_BASE = f"{live_server.url}/pg-sim"
    settings.PG_CHECKOUT_URL = f"{live_server.url}/pg-sim/checkout/"
    settings.PG_SIMULATOR_WEBHOOKS = False
    simulator.reset()
    yield live_server
    simulator.wait_for_webhooks()


def login(page, base, email):
    page.goto(f"{base}/accounts/logout/")
    if page.locator("main form button[type=submit]").count():
        page.locator("main form button[type=submit]").click()
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def test_an_sme_pays_part_with_its_voucher_and_the_rest_by_card(
    pg, page, celery_worker, official, admin_user, buyer, reference_data, shot, console_errors
):
    base = pg.url
    dataset = publish_dataset(
        official,
        admin_user,
        offers=(
            {
                "kind": "one_off",
                "price_krw": 30_000,
                "cost_basis": "파일 가공·전송 비용 (건당)",
                "voucher_eligible": True,
            },
        ),
    )
    offer = dataset.offers.get()
    owner = Membership.objects.get(organization=buyer.active_organization, role="owner").user

    # The owner registers the company's voucher.
    login(page, base, owner.email)
    page.goto(f"{base}/me/vouchers/")
    page.locator("#id_agreement_number").fill("2025-데이터바우처-0117")
    page.locator("#id_granted_krw").fill("10000000")
    page.locator("#id_starts_on").fill((date.today() - timedelta(days=10)).isoformat())
    page.locator("#id_ends_on").fill((date.today() + timedelta(days=200)).isoformat())
    page.locator("#id_copay_percent").fill("20")
    page.locator("#voucher-register-btn").click()
    expect(page.locator("#voucher-list")).to_contain_text("2025-데이터바우처-0117")
    expect(page.locator("#voucher-list")).to_contain_text("확인 대기")
    shot(page, "voucher-registered")
    voucher = Voucher.objects.get()

    # A platform admin verifies it.
    login(page, base, admin_user.email)
    page.goto(f"{base}/staff/vouchers/")
    page.locator(f"a[href='/staff/vouchers/{voucher.pk}/']").click()
    page.locator("#voucher-verify-btn").click()
    expect(page.locator(".site-messages")).to_contain_text("확인했습니다")
    voucher.refresh_from_db()
    assert voucher.state == "verified"

    # The company's buyer finds the dataset, sees the badge, and buys it.
    login(page, base, buyer.email)
    page.goto(f"{base}" + reverse("catalog:dataset", args=[dataset.slug]))
    expect(page.locator(f"#offer-{offer.pk}")).to_contain_text("데이터바우처 사용 가능")
    page.locator(f"#add-to-cart-{offer.pk}").click()
    page.goto(f"{base}/orders/checkout/")
    expect(page.locator("#checkout-voucher")).to_contain_text("26,400")
    expect(page.locator(f"#voucher-{voucher.pk}")).to_be_checked()
    page.locator(f"#accept-{offer.pk}").check()
    page.locator("input[name=method][value=card]").check()
    shot(page, "checkout-with-voucher")
    page.locator("#place-order-btn").click()

    # The PG's window asks only the company's own share: 33,000 − 26,400.
    page.wait_for_url(re.compile(r"/pg-sim/checkout/"))
    expect(page.locator("#pgsim-amount")).to_have_text("6,600")
    shot(page, "pg-window-own-share")
    page.locator("#card-number").fill("4330 1234 5678 9012")
    page.locator("#pgsim-approve").click()
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get(buyer=buyer.active_organization)
    expect(page.locator("#order-voucher-amounts")).to_contain_text("26,400")
    expect(page.locator("#order-voucher-amounts")).to_contain_text("6,600")
    expect(page.locator("#order-voucher-status")).to_contain_text("전담기관")
    shot(page, "order-paid-with-voucher")
    order.refresh_from_db()
    assert order.state in ("paid", "fulfilled") and order.payments.get(state="done").amount_krw == 6_600
    assert LedgerEntry.objects.get(account__kind="voucher_receivable").amount_krw == 26_400

    # The agency pays; the admin records it; the order page says so.
    login(page, base, admin_user.email)
    page.goto(f"{base}/staff/vouchers/{voucher.pk}/")
    expect(page.locator("#voucher-receivables")).to_contain_text(order.number)
    page.locator("#id_paid_on").fill(date.today().isoformat())
    page.locator("#id_reference").fill("KDATA-2025-0042")
    page.locator("#id_amount_krw").fill("26400")
    page.locator("input[name=orders]").first.check()
    shot(page, "settlement-form")
    page.locator("#voucher-settle-btn").click()
    expect(page.locator("#voucher-settlements")).to_contain_text("KDATA-2025-0042")
    shot(page, "settled")
    login(page, base, buyer.email)
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("#order-voucher-status")).to_contain_text("KDATA-2025-0042")
    shot(page, "order-settled")
    assert LedgerEntry.objects.filter(transaction__kind="voucher_settlement").count() == 2

    # The selling provider: its sales page counts the voucher part; the lines show the sale split between the
    # voucher and the card, and the agency's settlement.
    login(page, base, official.email)
    page.goto(f"{base}/sales/")
    expect(page.locator("#current-totals [data-total=sales]")).to_contain_text("33,000")
    expect(page.locator("#current-totals [data-total=voucher]")).to_contain_text("26,400")
    expect(page.locator("#current-totals [data-total=voucher]")).to_contain_text("바우처 기관 입금 완료: 26,400원")
    shot(page, "provider-sales-voucher")
    page.locator("#current-lines-link").click()
    paid = LedgerTransaction.objects.get(order=order, kind="payment")
    sale = page.locator(f'#statement-lines tr[data-ledger-transaction="{paid.pk}"]')
    expect(sale).to_contain_text(order.number)
    expect(sale.locator("td").nth(1)).to_have_text("결제")
    expect(sale.locator("td").nth(4)).to_have_text(re.compile(r"^33,000"))
    expect(sale.locator("[data-split=voucher]")).to_have_text("데이터바우처 26,400 + 카드(온라인 결제) 6,600")
    settled = LedgerTransaction.objects.get(order=order, kind="voucher_settlement")
    settlement = page.locator(f'#statement-lines tr[data-ledger-transaction="{settled.pk}"]')
    expect(settlement.locator("td").nth(1)).to_have_text("바우처 정산")
    expect(settlement).to_contain_text("입금 26,400")
    shot(page, "provider-lines-voucher")
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.reload()
    expect(sale.locator("[data-split=voucher]")).to_have_text("Data voucher 26,400 + Card (online payment) 6,600")
    shot(page, "provider-lines-voucher-en")
    page.context.add_cookies([{"name": "django_language", "value": "ko", "url": base}])

    # The same pages in English and on a phone (artefacts to look at).
    login(page, base, buyer.email)
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("#order-voucher-title")).to_have_text("Data voucher (데이터바우처)")
    shot(page, "order-settled-en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/me/vouchers/")
    shot(page, "vouchers-phone-en")
    page.context.add_cookies([{"name": "django_language", "value": "ko", "url": base}])
    page.goto(f"{base}/orders/{order.number}/")
    shot(page, "order-settled-phone")
    login(page, base, admin_user.email)
    page.goto(f"{base}/staff/vouchers/{voucher.pk}/")
    shot(page, "staff-voucher-phone")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/staff/vouchers/")
    shot(page, "staff-vouchers")
    wait_for_download_records()
    assert console_errors == []
