"""The last won of a voucher order's line are the voucher's (its share is rounded down): once the buyer's share is
all back (the payment refunded), what is left, the voucher's only, can still be refunded, without the PG, and the
order ends refunded with access ended."""

import pytest

from devtools.pg_simulator import views as simulator
from tests.transactions.test_payments import _park_package_builds, pg  # noqa: F401
from tests.transactions.test_refunds import assert_every_transaction_balances
from tests.transactions.test_voucher_refunds import used, voucher_order  # noqa: F401
from tests.transactions.test_vouchers import eligible  # noqa: F401
from transactions.models import Entitlement, Order, Payment, Refund
from transactions.refunds import services

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_last_won_of_the_voucher_s_part_are_refunded_and_the_order_ends_refunded(voucher_order, admin_user):  # noqa: F811
    order, voucher = voucher_order
    item = order.items.get()
    first = services.refund_create(actor=admin_user, order=order, reason="거의 전부", lines={item.pk: 32_999})
    assert (first.state, first.voucher_krw, first.own_krw) == (Refund.State.DONE, 26_399, 6_600)
    assert Payment.objects.get(pk=first.payment_id).state == Payment.State.REFUNDED
    assert Entitlement.objects.get(order_item=item).revoked_at is None  # 1 won of the line is left
    calls = len(simulator.cancel_calls())

    rest = services.refund_create(actor=admin_user, order=order, reason="나머지")

    assert (rest.state, rest.amount_krw, rest.voucher_krw, rest.own_krw) == (Refund.State.DONE, 1, 1, 0)
    assert rest.payment_id == first.payment_id
    assert len(simulator.cancel_calls()) == calls  # nothing asked of the PG
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED
    assert Entitlement.objects.get(order_item=item).revoked_at is not None
    assert used(voucher) == 0
    assert_every_transaction_balances()
