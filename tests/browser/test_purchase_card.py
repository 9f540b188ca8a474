"""A company buys a paid dataset with the (simulated) card: cart → checkout with the licence accepted →
the PG's payment window → declined, back on the order page → pay again → approve → paid. A real Celery worker builds the
package while the page shows its progress; the buyer downloads it and MANIFEST-SHA256 verifies."""

import hashlib
import re
import zipfile

import pytest
from playwright.sync_api import expect

from devtools.pg_simulator import views as simulator
from tests.conftest import PASSWORD
from tests.transactions.conftest import publish_dataset
from transactions.models import Order, Payment, PaymentEvent
from transactions.services import cart as cart_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pg(live_server, settings):
    settings.SITE_URL = live_server.url
    settings.PG_API_BASE = f"{live_server.url}/pg-sim"
    settings.PG_CHECKOUT_URL = f"{live_server.url}/pg-sim/checkout/"
    settings.PG_SIMULATOR_WEBHOOKS = True  # the PG's own notice arrives after the redirect, as in production
    simulator.reset()
    yield live_server
    simulator.wait_for_webhooks()


def login(page, base, email):
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_login").fill(email)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/me/|/staff/|/catalog/"))


def test_a_company_pays_by_card_and_downloads_a_verified_package(
    pg, page, celery_worker, official, admin_user, buyer, reference_data, shot, console_errors, tmp_path
):
    base = pg.url
    dataset = publish_dataset(
        official,
        admin_user,
        offers=({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"},),
    )
    offer = dataset.offers.get()
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer)

    login(page, base, buyer.email)
    page.goto(f"{base}/orders/cart/")
    expect(page.locator("#cart-lines")).to_contain_text("시흥시 대기질 측정 자료")
    expect(page.locator("#cart-total")).to_contain_text("33,000")
    page.locator("#checkout-link").click()

    page.locator(f"#accept-{offer.pk}").check()
    page.locator("input[name=method][value=card]").check()
    shot(page, "checkout")
    page.locator("#place-order-btn").click()

    # The PG's payment window (the simulator). First the card company declines: back on the order page,
    # told why, the order still waiting for payment.
    page.wait_for_url(re.compile(r"/pg-sim/checkout/"))
    expect(page.locator("#pgsim-amount")).to_have_text("33,000")
    page.locator("#decline-code").select_option("EXCEED_MAX_AMOUNT")
    page.locator("#pgsim-decline").click()
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    expect(page.locator(".site-messages")).to_contain_text("거래금액 한도를 초과했습니다.")
    expect(page.locator("#order-payments")).to_contain_text("거래금액 한도를 초과했습니다.")
    shot(page, "declined")
    assert Order.objects.get(buyer=buyer.active_organization).state == Order.State.AWAITING_PAYMENT

    # Again, with a card that goes through: amount fixed by the PG, a test card, approve.
    page.locator("#pay-card-btn").click()
    page.wait_for_url(re.compile(r"/pg-sim/checkout/"))
    expect(page.locator("#pgsim-amount")).to_have_text("33,000")
    expect(page.locator("#card-number")).to_have_value(re.compile(r"\d"))
    shot(page, "pg-window")
    page.locator("#card-number").fill("4330 1234 5678 9012")
    page.locator("#pgsim-approve").click()

    # Back on our order page: confirmed server-side, paid.
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get(buyer=buyer.active_organization)
    expect(page.locator("#order-number")).to_have_text(order.number)
    expect(page.locator(".site-messages")).to_contain_text(order.number)
    expect(page.locator("#order-state .krds-badge").first).to_have_class(
        re.compile("bg-light-(information|success)")
    )  # paid
    shot(page, "paid")
    order.refresh_from_db()
    assert order.state in (Order.State.PAID, Order.State.FULFILLED) and order.method == "card"
    payment = Payment.objects.get(order=order, state="done")
    assert (payment.amount_krw, payment.gateway_status) == (33_000, "DONE")
    assert list(order.payments.order_by("id").values_list("state", flat=True)) == ["failed", "done"]

    # The worker packages the data; the page follows without a reload and offers the download.
    download_button = page.locator("[id^=download-]")
    expect(download_button).to_be_visible(timeout=60_000)
    shot(page, "package-ready")
    with page.expect_download() as info:
        download_button.click()
    zip_path = tmp_path / "package.zip"
    info.value.save_as(zip_path)

    with zipfile.ZipFile(zip_path) as zf:
        manifest = zf.read("MANIFEST-SHA256").decode("utf-8")
        listed = dict(reversed(line.split(None, 1)) for line in manifest.splitlines() if line.strip())
        assert "data/대기질.csv" in listed and "datapackage.json" in listed
        for name, digest in listed.items():
            assert hashlib.sha256(zf.read(name.lstrip("*"))).hexdigest() == digest, name
    order.refresh_from_db()
    assert order.state == Order.State.FULFILLED

    simulator.wait_for_webhooks()
    assert [w["http"] for w in simulator.webhook_log()] == [200]  # the PG's notice changed nothing
    assert Payment.objects.filter(order=order, state="done").count() == 1
    assert PaymentEvent.objects.filter(order=order, kind="confirm_requested").count() == 1
    assert console_errors == []
