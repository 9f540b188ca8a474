"""The API of money on an order partly paid with a data voucher: a refund says how much of it is the voucher's (back
on the voucher's balance) and how much the buyer's own (back through the payment), per refund and per line; a voucher
says what refunds returned to it of each order, and the admin's voucher what is owed back to the agency."""

from datetime import date

import pytest

from tests.api.test_money import ACCOUNT, as_key, keys  # noqa: F401
from tests.transactions.test_cash_receipt_vouchers import bank_voucher_order
from tests.transactions.test_vouchers import eligible, verified_voucher  # noqa: F401
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
