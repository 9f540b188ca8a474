"""A company pays by bank transfer (무통장입금): checkout shows the account, the amount and the deadline;
a platform admin finds the order on the bank-transfer page, refuses a wrong amount, confirms the
deposit with the depositor's name; the order is paid, the buyer sees it and a real worker packages the data."""

import re

import pytest
from playwright.sync_api import expect

from core.models import AuditEvent
from tests.browser.test_purchase_card import login
from tests.conftest import make_org, make_user
from tests.transactions.conftest import publish_dataset
from transactions.models import Order, Payment
from transactions.services import cart as cart_services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_company_pays_by_bank_transfer_and_the_admin_confirms(
    live_server, page, browser, celery_worker, official, admin_user, reference_data, shot, console_errors
):
    base = live_server.url
    dataset = publish_dataset(
        official, admin_user, offers=({"kind": "one_off", "price_krw": 120_000, "cost_basis": "맞춤 추출 비용 (건당)"},)
    )
    offer = dataset.offers.get()
    company = make_user("finance@mobility.test", name="오세린")
    make_org(company, name_ko="(주)모빌리티랩", name_en="Mobility Lab", kind="consumer", brn="2208162517")
    cart_services.cart_add(actor=company, organization=company.active_organization, offer=offer)

    login(page, base, company.email)
    page.goto(f"{base}/orders/checkout/")
    page.locator(f"#accept-{offer.pk}").check()
    page.locator("input[name=method][value=bank_transfer]").check()
    page.locator("#place-order-btn").click()
    page.wait_for_url(re.compile(r"/orders/\d{8}-[0-9A-Z]{8}/$"))
    order = Order.objects.get(buyer=company.active_organization)
    details = page.locator("#bank-details")
    expect(details).to_contain_text("301-0000-0000-00")
    expect(details).to_contain_text("132,000")
    shot(page, "buyer-sees-account")
    assert order.state == Order.State.AWAITING_PAYMENT and order.method == "bank_transfer"
    payment = Payment.objects.get(order=order)
    assert (payment.state, payment.amount_krw) == ("ready", 132_000)

    # The buyer cannot reach the admin page.
    assert page.goto(f"{base}/orders/payments/staff/bank-transfers/").status == 403

    admin_context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    admin_page = admin_context.new_page()
    admin_errors = []
    admin_page.on("console", lambda msg: admin_errors.append(msg.text) if msg.type == "error" else None)
    login(admin_page, base, admin_user.email)
    admin_page.goto(f"{base}/staff/")
    admin_page.locator("#bank-transfers-link").click()
    row = admin_page.locator(f"#bank-transfer-{payment.pk}")
    expect(row).to_contain_text(order.number)
    expect(row).to_contain_text("(주)모빌리티랩")
    expect(row).to_contain_text("132,000")
    shot(admin_page, "admin-list")

    # A deposit of the wrong amount is refused with the reason, and nothing changes.
    row.locator(f"#depositor-{payment.pk}").fill("모빌리티랩")
    row.locator(f"#amount-{payment.pk}").fill("130000")
    row.locator(f"#confirm-btn-{payment.pk}").click()
    expect(admin_page.locator(".site-messages")).to_contain_text("132,000")
    order.refresh_from_db()
    assert order.state == Order.State.AWAITING_PAYMENT
    shot(admin_page, "admin-wrong-amount")

    row = admin_page.locator(f"#bank-transfer-{payment.pk}")
    row.locator(f"#depositor-{payment.pk}").fill("모빌리티랩")
    row.locator(f"#amount-{payment.pk}").fill("132000")
    row.locator(f"#confirm-btn-{payment.pk}").click()
    expect(admin_page.locator(".site-messages")).to_contain_text(order.number)
    expect(admin_page.locator(f"#bank-transfer-{payment.pk}")).to_have_count(0)
    expect(admin_page.locator("#bank-transfers-confirmed")).to_contain_text("모빌리티랩")
    shot(admin_page, "admin-confirmed")
    admin_context.close()

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.state in (Order.State.PAID, Order.State.FULFILLED) and order.paid_at is not None
    assert (payment.state, payment.depositor_name, payment.confirmed_by_id) == ("done", "모빌리티랩", admin_user.pk)
    assert (
        AuditEvent.objects.filter(
            action="payment.bank_transfer_confirmed", actor=admin_user, data__order=order.number
        ).count()
        == 1
    )

    page.goto(f"{base}/orders/{order.number}/")
    expect(page.locator("#order-state .krds-badge").first).to_have_class(re.compile("bg-light-(information|success)"))
    expect(page.locator("#order-payments")).to_contain_text("132,000")
    expect(page.locator("[id^=download-]")).to_be_visible(timeout=60_000)  # the worker packaged the data
    shot(page, "buyer-sees-paid")
    order.refresh_from_db()
    assert order.state == Order.State.FULFILLED
    assert [e for e in console_errors if "403" not in e] == []
    assert admin_errors == []
