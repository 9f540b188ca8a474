"""현금영수증 of an order partly paid with a data voucher: only the buyer's own share (what went through the payment)
is on the receipt; a refund cancels only its own share of it, a refund of the voucher's share alone none; the record
of the receipt totals the amount the PG issued."""

import json
import uuid

import pytest

from tests.transactions.conftest import offer_of
from tests.transactions.test_cash_receipt_refunds import ACCOUNT, fake_pg  # noqa: F401
from tests.transactions.test_vouchers import eligible, verified_voucher  # noqa: F401
from transactions import selectors
from transactions.documents import services as documents
from transactions.documents.models import CashReceiptCancel
from transactions.models import Order
from transactions.payments import services as payments
from transactions.refunds import services as refunds
from transactions.services import cart as cart_services
from transactions.services import orders as order_services


def bank_voucher_order(buyer, admin_user, eligible, voucher):  # noqa: F811
    """33,000 won of a voucher-eligible dataset: the voucher pays 26,400, the buyer 6,600 by bank transfer."""
    organization = buyer.active_organization
    offer = offer_of(eligible, "one_off")
    cart_services.cart_add(actor=buyer, organization=organization, offer=offer)
    lines = selectors.cart_lines(selectors.cart_get(buyer, organization), organization)
    billing = {**order_services.billing_defaults(organization), "billing_brn": ""}
    order = order_services.checkout_place(
        actor=buyer,
        organization=organization,
        checkout_token=uuid.uuid4(),
        method="bank_transfer",
        billing=billing,
        accepted={line.offer.pk: line.licence_sha256 for line in lines},
        expected_total_krw=selectors.lines_total(lines).total_krw,
        voucher_id=voucher.pk,
    )
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="x", amount_krw=payment.amount_krw)
    order = Order.objects.get(pk=order.pk)
    assert (order.total_krw, order.voucher_krw, order.due_krw) == (33_000, 26_400, 6_600)
    return order


def refund(admin_user, order, lines=None):
    done = refunds.refund_create(actor=admin_user, order=order, reason="r", lines=lines, account=ACCOUNT)
    if done.state == "created":
        done = refunds.refund_bank_confirm(actor=admin_user, refund=done, bank="b", account_number="1", holder="h")
    return done


def ask(buyer, order):
    return documents.cash_receipt_request(
        actor=buyer, order=order, registration_number="01012345678", receipt_type="income_deduction"
    )


@pytest.mark.django_db
def test_the_receipt_record_is_the_buyers_share_and_a_refund_cancels_only_its_own_share(
    buyer,
    admin_user,
    eligible,
    fake_pg,  # noqa: F811
):
    order = bank_voucher_order(buyer, admin_user, eligible, verified_voucher(buyer, admin_user))
    cash = ask(buyer, order)
    sent = json.loads(fake_pg.calls[0].content)
    assert sent["amount"] == 6_600
    # The record totals what the PG issued (not the 33,000 of the order).
    assert cash.snapshot["cash_receipt"]["amount"] == 6_600
    assert (cash.total_krw, cash.supply_krw + cash.vat_krw) == (6_600, 6_600)
    assert sum(line["total_krw"] for line in cash.snapshot["lines"]) == 6_600
    assert (cash.supply_krw, cash.vat_krw) == (6_000, 600)

    done = refund(admin_user, order, {order.items.get().pk: 10_000})
    assert (done.amount_krw, done.voucher_krw, done.own_krw) == (10_000, 8_000, 2_000)
    # 2,000 went back through the payment: that is what comes off the receipt, not 6,600 (the whole of it).
    assert list(CashReceiptCancel.objects.values_list("amount_krw", "full")) == [(2_000, False)]


@pytest.mark.django_db
def test_a_receipt_after_a_partial_refund_is_for_the_buyers_share_left(buyer, admin_user, eligible, fake_pg):  # noqa: F811
    order = bank_voucher_order(buyer, admin_user, eligible, verified_voucher(buyer, admin_user))
    refund(admin_user, order, {order.items.get().pk: 10_000})  # 8,000 voucher, 2,000 the buyer's
    payment = order.payments.get()
    assert documents.cash_receipt_amounts(order, payment) == (4_600, 0)
    assert documents.cash_receipt_eligibility(order) is None
    cash = ask(buyer, order)
    assert json.loads(fake_pg.calls[0].content)["amount"] == 4_600
    assert cash.total_krw == 4_600 == sum(line["total_krw"] for line in cash.snapshot["lines"])
