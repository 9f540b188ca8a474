"""Issue 13: a 0-won order (free data) is not a payment: no billing or tax-invoice fields at checkout, worded as a
free order everywhere (order page, order list, audit trail, e-mail); and an organization whose name ends with a
full stop ("AirDataLab Inc.") never reads "Inc.." in a sentence."""

import re

import pytest
from django.utils import translation

from accounts.models import Organization
from transactions.models import Order
from transactions.services import cart as cart_services
from transactions.services import orders as order_services

from .conftest import offer_of, place_order

pytestmark = pytest.mark.django_db

BILLING_NAMES = ("billing_name", "billing_brn", "billing_email", "billing_phone", "billing_address")


def _main(html: str) -> str:
    html = html[html.find("<main") : html.find("</main>")]
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def _lang(client, lang):
    client.cookies["django_language"] = lang


def _run_emails(callbacks):
    for callback in callbacks:
        if "subject" in callback.__code__.co_freevars:
            callback()


def test_checkout_of_free_data_asks_for_no_billing_or_tax_invoice_details(client, buyer, free_dataset):
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer_of(free_dataset, "free"))
    client.force_login(buyer)
    html = client.get("/orders/checkout/").content.decode()
    for name in BILLING_NAMES:
        assert f'name="{name}"' not in html
    text = _main(html)
    assert "세금계산서" not in text and "청구 정보를 입력하지 않습니다" in text
    token = re.search(r'name="checkout_token" value="([^"]+)"', html).group(1)
    accept = re.search(r'name="accept" value="([^"]+)"', html).group(1)
    response = client.post(
        "/orders/checkout/", {"checkout_token": token, "expected_total_krw": "0", "accept": [accept]}, follow=True
    )
    order = Order.objects.get()
    assert (order.method, order.state, order.total_krw) == ("free", "paid", 0)
    assert (order.billing_name, order.billing_email, order.billing_brn) == ("", "", "")  # nothing kept
    assert "무료 신청이 완료되었습니다" in _main(response.content.decode())


def test_a_paid_checkout_still_asks_for_billing_details(client, buyer, free_dataset):
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer_of(free_dataset, "one_off"))
    client.force_login(buyer)
    html = client.get("/orders/checkout/").content.decode()
    assert all(f'name="{name}"' in html for name in BILLING_NAMES)


@pytest.mark.parametrize(
    "lang, complete, free, method, billing",
    [
        ("ko", "무료 신청 완료", "무료", "무료 신청", "청구 정보"),
        ("en", "Free order complete", "Free", "Free order", "Billing details"),
    ],
)
def test_the_free_order_reads_as_a_free_order_on_its_page_and_in_the_list(
    client, buyer, free_dataset, lang, complete, free, method, billing
):
    order = place_order(buyer, offer_of(free_dataset, "free"))
    client.force_login(buyer)
    _lang(client, lang)
    page = _main(client.get(f"/orders/{order.number}/").content.decode())
    assert complete in page and method in page
    assert billing not in page and "결제 완료" not in page and "Paid" not in page
    assert "0원" not in page and "0 won" not in page
    listing = client.get("/orders/").content.decode()
    row = next(r for r in re.findall(r"<tr>.*?</tr>", listing, re.S) if order.number in r)
    row = " ".join(re.sub(r"<[^>]+>", " ", row).split())
    assert free in row and "0원" not in row and "0 won" not in row and method in row


def test_the_free_order_e_mail_says_free_order_complete_without_amounts(
    buyer, free_dataset, django_capture_on_commit_callbacks, mailoutbox, eager_celery
):
    with django_capture_on_commit_callbacks() as callbacks:
        order = place_order(buyer, offer_of(free_dataset, "free"))
    _run_emails(callbacks)
    mail = mailoutbox[0]
    assert mail.subject.endswith(f"주문 {order.number}: 무료 신청 완료")
    assert "무료 신청이 완료되었습니다" in mail.body and "결제" not in mail.body
    assert "공급가액" not in mail.body and "0원" not in mail.body
    assert mail.to == [buyer.email]  # no invoice address: nothing was invoiced


def test_a_paid_order_e_mail_still_lists_the_amounts(
    buyer, private_dataset, django_capture_on_commit_callbacks, mailoutbox, eager_celery, admin_user
):
    from transactions.payments import services as payments

    order = place_order(buyer, offer_of(private_dataset, "one_off"), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    with django_capture_on_commit_callbacks() as callbacks:
        payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩")
    _run_emails(callbacks)
    mail = next(m for m in mailoutbox if order.number in m.subject)
    assert "결제 완료" in mail.subject and "공급가액" in mail.body and "330,000원" in mail.body


def test_a_name_ending_with_a_full_stop_never_reads_inc_dot_dot(client, buyer, free_dataset):
    Organization.objects.filter(pk=buyer.active_organization_id).update(name_en="AirDataLab Inc.")
    order = place_order(buyer, offer_of(free_dataset, "free"))
    client.force_login(buyer)
    _lang(client, "en")
    html = client.get(f"/orders/{order.number}/").content.decode()
    assert "for AirDataLab Inc." in html and "Inc.." not in html
    cart_html = client.get("/orders/cart/").content.decode()
    assert "for AirDataLab Inc." in cart_html and "Inc.." not in cart_html
    # The flash message of switching organizations, and e-mails (rendered through core.notify).
    response = client.post("/me/switch-organization/", {"organization": buyer.active_organization_id}, follow=True)
    assert "You now act for AirDataLab Inc." in response.content.decode() and "Inc.." not in response.content.decode()


def test_e_mails_collapse_the_double_full_stop(buyer, django_capture_on_commit_callbacks, mailoutbox, eager_celery):
    from core.notify import email_on_commit

    organization = buyer.active_organization
    organization.name_ko = "AirDataLab Inc."
    with django_capture_on_commit_callbacks(execute=True):
        email_on_commit(
            to=[buyer.email],
            template="email/org_verification_decided",
            context={"organization": organization, "verified": False, "reason": "-", "url": "x"},
            language="en",
        )
    assert "could not verify AirDataLab Inc.\n" in mailoutbox[0].body


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Placed by Kim for AirDataLab Inc..", "Placed by Kim for AirDataLab Inc."),
        ("You joined Foo Co.. Welcome.", "You joined Foo Co. Welcome."),
        ("Wait... and see.", "Wait... and see."),
        ("e.g.. next", "e.g. next"),
        ("Version 1.0.", "Version 1.0."),
        ("(주)에어데이터랩의 주문입니다.", "(주)에어데이터랩의 주문입니다."),
    ],
)
def test_tidy_sentence(text, expected):
    from core.text import tidy_sentence  # here, so the rest of the module also runs against code without it

    assert tidy_sentence(text) == expected


def test_the_audit_trail_words_a_free_order_as_one(client, buyer, free_dataset, admin_user):
    order = place_order(buyer, offer_of(free_dataset, "free"))
    client.force_login(admin_user)
    with translation.override("ko"):
        html = client.get("/staff/audit/").content.decode()
    assert "무료 신청 완료" in html and order.number in html


def test_billing_defaults_are_ignored_for_a_free_order(buyer, free_dataset):
    order = place_order(
        buyer, offer_of(free_dataset, "free"), billing=order_services.billing_defaults(buyer.active_organization)
    )
    assert order.billing_name == "" and order.billing_brn == ""


def test_the_staff_order_page_shows_no_billing_or_payment_date_for_a_free_order(
    client, buyer, free_dataset, admin_user
):
    order = place_order(buyer, offer_of(free_dataset, "free"))
    client.force_login(admin_user)
    _lang(client, "ko")
    page = _main(client.get(f"/staff/orders/{order.number}/").content.decode())
    assert "청구 정보" not in page and "무료 신청 완료" in page and "0원" not in page
    listing = client.get("/staff/orders/").content.decode()
    row = next(r for r in re.findall(r"<tr>.*?</tr>", listing, re.S) if order.number in r)
    assert "0원" not in row and "무료" in row
