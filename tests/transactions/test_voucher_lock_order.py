"""A refund of a voucher order locks the order, then the voucher; the agency's settlement and the payment back to
it take the same locks in the same order (taking the voucher first, they deadlocked with the refund: what they book
refers to the order): run at once, both finish, one after the other."""

import threading
import time
from datetime import date

import pytest
from django.db import connection

from tests.transactions.test_cash_receipt_vouchers import bank_voucher_order
from tests.transactions.test_refunds import assert_every_transaction_balances
from tests.transactions.test_vouchers import eligible, verified_voucher  # noqa: F401
from transactions import ledger
from transactions.models import Order, Refund
from transactions.refunds import services as refunds
from transactions.vouchers import services as vouchers

pytestmark = pytest.mark.django_db(transaction=True)
ACCOUNT = {"bank": "b", "number": "1", "holder": "h"}


def _race(monkeypatch, admin_user, refund, other):
    """Confirm the bank refund in one thread; once it holds the order lock (and before it takes the voucher's), run
    `other` in a second thread, which takes the voucher lock first. Returns the errors of each."""
    holds_order = threading.Event()
    original = refunds.vouchers.voucher_return_for_refund

    def slow(**kwargs):
        holds_order.set()
        time.sleep(1.5)  # longer than PostgreSQL's deadlock_timeout (1 s)
        return original(**kwargs)

    monkeypatch.setattr(refunds.vouchers, "voucher_return_for_refund", slow)
    errors = {}

    def run(name, work):
        try:
            work()
        except Exception as exc:  # noqa: BLE001 (reported by the test)
            errors[name] = repr(exc)
        finally:
            connection.close()

    def confirm():
        refunds.refund_bank_confirm(actor=admin_user, refund=refund, bank="b", account_number="1", holder="h")

    def second():
        assert holds_order.wait(10)
        other()

    threads = [
        threading.Thread(target=run, args=("refund", confirm)),
        threading.Thread(target=run, args=("other", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_a_refund_and_the_agency_s_settlement_at_once(buyer, admin_user, eligible, monkeypatch):  # noqa: F811
    voucher = verified_voucher(buyer, admin_user)
    order = bank_voucher_order(buyer, admin_user, eligible, voucher)
    item = order.items.get()
    refund = refunds.refund_create(actor=admin_user, order=order, reason="r", lines={item.pk: 10_000}, account=ACCOUNT)
    assert refund.state == Refund.State.CREATED

    def settle():
        vouchers.voucher_settle(
            actor=admin_user,
            voucher=voucher,
            orders=[Order.objects.get(pk=order.pk)],
            paid_on=date.today(),
            reference="K-1",
            amount_krw=18_400,  # what is due once the refund (which holds the order) gave the voucher its 8,000
        )

    assert _race(monkeypatch, admin_user, refund, settle) == {}
    assert Refund.objects.get(pk=refund.pk).state == Refund.State.DONE
    # The refund came first (it held the order): the settlement is of what was left of the receivable.
    assert ledger.voucher_outstanding_on(item) == 0 and ledger.voucher_payable_on(item) == 0
    assert_every_transaction_balances()


def test_a_refund_and_the_payment_back_to_the_agency_at_once(buyer, admin_user, eligible, monkeypatch):  # noqa: F811
    voucher = verified_voucher(buyer, admin_user)
    order = bank_voucher_order(buyer, admin_user, eligible, voucher)
    item = order.items.get()
    vouchers.voucher_settle(
        actor=admin_user, voucher=voucher, orders=[order], paid_on=date.today(), reference="K-1", amount_krw=26_400
    )
    first = refunds.refund_create(actor=admin_user, order=order, reason="r", lines={item.pk: 10_000}, account=ACCOUNT)
    refunds.refund_bank_confirm(actor=admin_user, refund=first, bank="b", account_number="1", holder="h")
    assert ledger.voucher_payable_on(item) == 8_000
    second = refunds.refund_create(actor=admin_user, order=order, reason="r", lines={item.pk: 10_000}, account=ACCOUNT)

    def repay():
        vouchers.voucher_repay(actor=admin_user, voucher=voucher, order=Order.objects.get(pk=order.pk), reference="R-1")

    assert _race(monkeypatch, admin_user, second, repay) == {}
    assert Refund.objects.get(pk=second.pk).state == Refund.State.DONE
    # The refund came first (it held the order): the payment back is of both refunds' voucher shares.
    assert ledger.voucher_payable_on(item) == 0
    assert_every_transaction_balances()
