"""A buyer asks for a refund and the admin grants it: the company paid by card and downloaded nothing yet; on the order
page it reads the policy, asks for the line back within the 7 days; the admin approves it on the refunds queue, the
simulated PG cancels the card payment, the order page shows the refund done, the download is gone and a link made
before answers 403; the order page and the documents page list the cancelling document (수정세금계산서, 마이너스) with
negative amounts next to the original, and its page and PDF open."""

import re

import httpx
import pytest
from playwright.sync_api import expect

from devtools.pg_simulator import views as simulator
from tests.browser.test_purchase_card import login
from tests.transactions.conftest import offer_of, parked_package_builds, place_order, publish_dataset  # noqa: F401
from tests.transactions.test_payments import approve_at_pg
from transactions.delivery import services as delivery
from transactions.documents.models import Document
from transactions.models import Entitlement, Order, Package, Refund
from transactions.payments import services as payments
from transactions.tasks import build_package

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pg(live_server, settings, parked_package_builds):
    settings.SITE_URL = live_server.url
    settings.PG_API_BASE = f"{live_server.url}/pg-sim"
    settings.PG_CHECKOUT_URL = f"{live_server.url}/pg-sim/checkout/"
    settings.PG_SIMULATOR_WEBHOOKS = False
    simulator.reset()
    yield live_server


def test_a_buyer_asks_for_a_refund_the_admin_grants_it_and_the_download_stops(
    pg, page, official, admin_user, buyer, reference_data, shot, console_errors
):
    base = pg.url
    dataset = publish_dataset(
        official,
        admin_user,
        title_ko="스마트폴 환경 센서(가공)",
        title_en="Smart pole sensors (processed)",
        data_kind="private",
        licence="cc-by-nc-4.0",
        offers=({"kind": "one_off", "price_krw": 300_000, "contract_type": "provision"},),
    )
    order = place_order(buyer, offer_of(dataset, "one_off"), method="card")
    _, back = approve_at_pg(payments.card_checkout_start(actor=buyer, order=order))
    payments.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=int(back["amount"]))
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    link = base + delivery.download_link(user=buyer, package=package)  # made before the refund

    login(page, base, buyer.email)
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("[id^=download-]")).to_be_visible()
    expect(page.locator("#refunds")).to_contain_text("환불")
    page.locator("#refund-request summary").click()
    shot(page, "order-with-refund-form")

    page.locator("#refund-policy-link").click()
    page.wait_for_url(re.compile(r"/orders/refunds/policy/$"))
    expect(page.locator("#policy-withdrawal")).to_contain_text("7일")
    shot(page, "policy")
    page.go_back()

    page.locator("#refund-request summary").click()
    page.locator(f"#refund-item-{order.items.get().pk}").check()
    page.locator("#refund-kind-change").check()
    page.locator("#refund-reason").fill("담당 부서에서 같은 자료를 이미 확보했습니다.")
    page.locator("#refund-request-btn").click()
    page.wait_for_url(re.compile(rf"/orders/{order.number}/"))
    expect(page.locator(".site-messages")).to_contain_text("환불 요청을 보냈습니다")
    expect(page.locator("#refund-request-waiting")).to_be_visible()
    shot(page, "requested")

    page.context.clear_cookies()
    login(page, base, admin_user.email)
    page.goto(f"{base}/staff/")
    page.locator("#staff-refunds-link").click()
    page.wait_for_url(re.compile(r"/staff/refunds/$"))
    request = order.refund_requests.get()
    card = page.locator(f"#staff-request-{request.pk}")
    expect(card).to_contain_text("담당 부서에서 같은 자료를 이미 확보했습니다.")
    shot(page, "staff-queue")
    page.locator(f"#approve-{request.pk}").click()
    page.wait_for_url(re.compile(r"/staff/refunds/$"))
    expect(page.locator(".site-messages")).to_contain_text("330,000원이 환불되었습니다.")
    expect(page.locator("#refunds-done")).to_contain_text(order.number)
    shot(page, "staff-approved")

    refund = Refund.objects.get(order=order)
    assert refund.state == Refund.State.DONE
    (call,) = simulator.cancel_calls()
    assert call["idempotencyKey"] == str(refund.idempotency_key) and "cancelAmount" not in call["body"]
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED
    assert Entitlement.objects.get(order_item__order=order).revoked_at is not None

    page.goto(f"{base}/staff/orders/{order.number}/")
    expect(page.locator(f"#staff-refund-{refund.pk}")).to_contain_text("330,000")
    shot(page, "staff-order")

    page.context.clear_cookies()
    login(page, base, buyer.email)
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator(f"#refund-{refund.pk}")).to_have_attribute("data-refund-state", "done")
    expect(page.locator("[id^=download-]")).to_have_count(0)
    shot(page, "refunded")
    assert page.request.get(link).status == 403  # the link made before, in the buyer's own session
    assert httpx.get(link, timeout=10).status_code == 403  # and for anyone holding it

    # The cancelling receipt appears: on the order page next to the original, then on the documents page.
    original = Document.objects.get(order=order, original=None)
    cancelling = Document.objects.get(order=order, original=original)
    documents = page.locator("#order-documents")
    expect(documents).to_contain_text(original.number)
    expect(documents.locator("li", has_text=cancelling.number)).to_contain_text("-330,000원")
    expect(documents.locator("li", has_text=cancelling.number)).to_contain_text("수정세금계산서")
    shot(page, "refunded-documents")
    page.locator("#order-documents a[href$='/orders/documents/']").click()
    page.wait_for_url(re.compile(r"/orders/documents/$"))
    row = page.locator("#document-list tr", has_text=cancelling.number)
    expect(row).to_contain_text("-330,000원")
    expect(row).to_contain_text(order.number)
    expect(page.locator("#document-list tr", has_text=original.number).first).to_contain_text("330,000원")
    shot(page, "documents-with-cancelling")
    row.locator("a", has_text=cancelling.number).click()
    page.wait_for_url(re.compile(rf"/orders/documents/{cancelling.number}/$"))
    expect(page.locator("#document-title")).to_contain_text("마이너스")
    expect(page.locator("#document-original")).to_contain_text(original.number)
    expect(page.locator("#document-totals .pc-amounts-total")).to_contain_text("-330,000원")
    expect(page.locator("#document-lines")).to_contain_text("-300,000원")
    shot(page, "cancelling-document")
    pdf = page.request.get(base + page.locator("#document-pdf").get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF")

    # The pages in English and on a phone.
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": base}])
    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("#refunds-title")).to_have_text("Refunds")
    shot(page, "refunded-en")
    page.goto(f"{base}/orders/refunds/policy/")
    shot(page, "policy-en")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/orders/{order.number}/")
    shot(page, "refunded-en-phone")
    page.context.add_cookies([{"name": "django_language", "value": "ko", "url": base}])
    page.goto(f"{base}/orders/refunds/policy/")
    shot(page, "policy-phone")
    assert console_errors == []
