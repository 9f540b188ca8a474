"""The API of money on an order partly paid with a data voucher: a refund says how much of it is the voucher's (back
on the voucher's balance) and how much the buyer's own (back through the payment), per refund and per line; a voucher
says what refunds returned to it of each order, and the admin's voucher what is owed back to the agency. An admin program
records the payment back to the agency, withdraws a bank refund, asks the PG again about a card refund; a company
program asks for the cash receipt of what it paid itself."""

import json
from datetime import date

import pytest

from devtools.pg_simulator import views as simulator
from tests.api.test_money import ACCOUNT, as_key, keys  # noqa: F401
from tests.transactions.conftest import parked_package_builds  # noqa: F401
from tests.transactions.test_cash_receipt_refunds import fake_pg  # noqa: F401
from tests.transactions.test_cash_receipt_vouchers import bank_voucher_order
from tests.transactions.test_payments import _park_package_builds, pg  # noqa: F401
from tests.transactions.test_voucher_refunds import voucher_order  # noqa: F401
from tests.transactions.test_vouchers import eligible, verified_voucher  # noqa: F401
from transactions.models import LedgerTransaction, Refund
from transactions.refunds import services as refund_services
from transactions.vouchers import services as voucher_services

pytestmark = pytest.mark.django_db


def test_a_refund_of_a_voucher_order_shows_the_voucher_s_share_and_the_buyer_s(
    api,
    keys,
    buyer,
    admin_user,
    eligible,  # noqa: F811
):
    voucher = verified_voucher(buyer, admin_user)
    order = bank_voucher_order(buyer, admin_user, eligible, voucher)
    voucher_services.voucher_settle(
        actor=admin_user, voucher=voucher, orders=[order], paid_on=date.today(), reference="K-1", amount_krw=26_400
    )
    item = order.items.get()
    admin = as_key(api, keys["admin"])
    made = admin.post(
        f"/api/v1/admin/orders/{order.number}/refunds/",
        {"reason": "일부", "lines": [{"order_item": item.pk, "amount_krw": 10_000}], **ACCOUNT},
        format="json",
    )
    assert made.status_code == 201, made.content
    refund = made.json()
    assert (refund["amount_krw"], refund["voucher_krw"], refund["own_krw"]) == (10_000, 8_000, 2_000)
    assert [(line["amount_krw"], line["voucher_krw"], line["own_krw"]) for line in refund["lines"]] == [
        (10_000, 8_000, 2_000)
    ]
    confirmed = admin.post(f"/api/v1/admin/refunds/{refund['id']}/bank-confirm/", ACCOUNT)
    assert confirmed.status_code == 200, confirmed.content

    detail = admin.get(f"/api/v1/admin/vouchers/{voucher.pk}/").json()
    (use,) = detail["uses"]
    assert (use["order"], use["returned_krw"], use["owed_back_krw"]) == (order.number, 8_000, 8_000)

    buyer_api = as_key(api, keys["buyer"])
    refunds = buyer_api.get(f"/api/v1/orders/{order.number}/refunds/").json()
    assert [(r["voucher_krw"], r["own_krw"]) for r in refunds["refunds"]] == [(8_000, 2_000)]
    (mine,) = buyer_api.get("/api/v1/vouchers/").json()
    assert [(u["order"], u["returned_krw"]) for u in mine["uses"]] == [(order.number, 8_000)]


def test_an_admin_program_records_the_payment_back_to_the_agency(api, keys, buyer, admin_user, eligible):  # noqa: F811
    voucher = verified_voucher(buyer, admin_user)
    order = bank_voucher_order(buyer, admin_user, eligible, voucher)
    voucher_services.voucher_settle(
        actor=admin_user, voucher=voucher, orders=[order], paid_on=date.today(), reference="K-1", amount_krw=26_400
    )
    done = refund_services.refund_create(actor=admin_user, order=order, reason="전부")
    refund_services.refund_bank_confirm(actor=admin_user, refund=done, bank="b", account_number="1", holder="h")
    path = f"/api/v1/admin/vouchers/{voucher.pk}/repay/"
    assert as_key(api, keys["buyer"]).post(path, {"order": order.number, "reference": "R-1"}).status_code == 403
    admin = as_key(api, keys["admin"])
    assert admin.post(path, {"order": order.number}).status_code == 400  # the reference is required
    foreign = admin.post(path, {"order": "20000101-AAAAAAAA", "reference": "R-1"})
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "settlement_foreign"
    repaid = admin.post(path, {"order": order.number, "reference": "R-1"})
    assert repaid.status_code == 201, repaid.content
    (use,) = repaid.json()["uses"]
    assert (use["returned_krw"], use["owed_back_krw"]) == (26_400, 0)
    assert LedgerTransaction.objects.filter(kind="voucher_repaid", order=order).count() == 1
    again = admin.post(path, {"order": order.number, "reference": "R-2"})
    assert again.status_code == 400 and again.json()["error"]["code"] == "voucher_nothing_owed"


def test_an_admin_program_withdraws_a_bank_refund_and_sends_only_card_refunds(
    api,
    keys,
    buyer,
    admin_user,
    eligible,  # noqa: F811
):
    order = bank_voucher_order(buyer, admin_user, eligible, verified_voucher(buyer, admin_user))
    made = refund_services.refund_create(
        actor=admin_user, order=order, reason="실수", lines={order.items.get().pk: 10_000}
    )
    assert (
        as_key(api, keys["admin_reader"])
        .post(f"/api/v1/admin/refunds/{made.pk}/withdraw/", {"reason": "x"})
        .status_code
        == 403
    )
    admin = as_key(api, keys["admin"])
    sent = admin.post(f"/api/v1/admin/refunds/{made.pk}/send/")
    assert sent.status_code == 400 and sent.json()["error"]["code"] == "not_card"
    assert admin.post(f"/api/v1/admin/refunds/{made.pk}/withdraw/", {}).status_code == 400  # a reason is required
    withdrawn = admin.post(f"/api/v1/admin/refunds/{made.pk}/withdraw/", {"reason": "잘못 만든 환불"})
    assert withdrawn.status_code == 200, withdrawn.content
    assert (withdrawn.json()["state"], withdrawn.json()["failure_message"]) == ("failed", "잘못 만든 환불")
    assert Refund.objects.get(pk=made.pk).state == Refund.State.FAILED
    twice = admin.post(f"/api/v1/admin/refunds/{made.pk}/withdraw/", {"reason": "다시"})
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "not_bank"


def test_a_company_program_asks_for_the_cash_receipt_of_its_own_share(
    api,
    keys,
    buyer,
    admin_user,
    eligible,
    fake_pg,  # noqa: F811
):
    order = bank_voucher_order(buyer, admin_user, eligible, verified_voucher(buyer, admin_user))
    path = f"/api/v1/orders/{order.number}/cash-receipt/"
    body = {"receipt_type": "income_deduction", "registration_number": "010-1234-5678"}
    assert as_key(api, keys["buyer_reader"]).post(path, body, format="json").status_code == 403
    buyer_api = as_key(api, keys["buyer"])
    bad = buyer_api.post(path, {**body, "receipt_type": "zzz"}, format="json")
    assert bad.status_code == 400
    issued = buyer_api.post(path, body, format="json")
    assert issued.status_code == 201, issued.content
    out = issued.json()
    assert out["kind"] == "cash_receipt" and out["snapshot"]["cash_receipt"]["amount"] == 6_600
    assert json.loads(fake_pg.calls[0].content)["amount"] == 6_600  # the voucher's 26,400 is not the buyer's cash
    twice = buyer_api.post(path, body, format="json")
    assert twice.status_code == 400 and twice.json()["error"]["code"] == "cash_receipt_not_available"


@pytest.mark.django_db(transaction=True)
def test_sending_a_card_refund_again_returns_it_as_the_pg_left_it(api, keys, voucher_order, admin_user):  # noqa: F811
    order, _voucher = voucher_order
    done = refund_services.refund_create(actor=admin_user, order=order, reason="전부")
    assert done.state == Refund.State.DONE
    calls = len(simulator.cancel_calls())
    again = as_key(api, keys["admin"]).post(f"/api/v1/admin/refunds/{done.pk}/send/")
    assert again.status_code == 200, again.content
    assert (again.json()["state"], again.json()["own_krw"], again.json()["voucher_krw"]) == ("done", 6_600, 26_400)
    assert len(simulator.cancel_calls()) == calls  # done already: the PG is not asked twice
