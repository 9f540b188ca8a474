"""Refunds of orders partly paid with a data voucher (issue 15): a refund of A on a line with total T and voucher part
W splits into the voucher's share ⌊A × W / T⌋ (cumulatively rounded, so the whole line gives back exactly W) and the
buyer's (the rest). Only the buyer's share goes to the PG (cancel amount and taxFreeAmount) or the bank transfer;
the voucher's goes back on the voucher's balance and reverses the agency's receivable, or, once the agency paid,
is owed back to it (voucher_payable). The provider side and the cancelling documents cover the whole amount."""

import pytest
from django.urls import reverse

from accounts.models import Organization
from core.errors import DomainError, NotAllowed
from core.models import AuditEvent
from devtools.pg_simulator import views as simulator
from tests.transactions.conftest import offer_of
from tests.transactions.test_payments import _park_package_builds, pg  # noqa: F401
from tests.transactions.test_refunds import assert_every_transaction_balances, balance, pay_by_card
from tests.transactions.test_vouchers import TODAY, checkout, eligible, verified_voucher  # noqa: F401
from transactions import ledger
from transactions.documents.models import Document
from transactions.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Payment,
    Refund,
    Voucher,
    VoucherUse,
)
from transactions.payments import services as payments
from transactions.payments.gateway import get_card_gateway
from transactions.refunds import services
from transactions.vouchers import services as vouchers

P, O, R = Payment.State, Order.State, Refund.State
K = LedgerAccount.Kind
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def voucher_order(pg, buyer, admin_user, eligible):  # noqa: F811
    """33,000 won (30,000 + VAT) of a voucher-eligible dataset: the voucher pays 80 % (26,400), the buyer 6,600
    by card (the simulated PG)."""
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher)
    assert (order.total_krw, order.voucher_krw, order.due_krw) == (33_000, 26_400, 6_600)
    payment = pay_by_card(buyer, order)
    assert payment.amount_krw == 6_600
    return order, voucher


def used(voucher) -> int:
    return Voucher.objects.get(pk=voucher.pk).used_krw


def test_a_full_refund_cancels_only_the_buyers_part_at_the_pg_and_gives_the_voucher_its_part_back(
    voucher_order, admin_user
):
    order, voucher = voucher_order
    payment = order.payments.get(state=P.DONE)
    assert used(voucher) == 26_400
    refund = services.refund_create(actor=admin_user, order=order, reason="제공기관 요청으로 판매 철회")

    assert refund.state == R.DONE
    assert (refund.amount_krw, refund.voucher_krw, refund.own_krw) == (33_000, 26_400, 6_600)
    # The PG took 6,600: all of it is cancelled (a full cancel: no cancelAmount), never 33,000.
    (call,) = simulator.cancel_calls()
    assert call["body"] == {"cancelReason": "제공기관 요청으로 판매 철회"}
    at_pg = get_card_gateway().fetch(payment.payment_key)
    assert (at_pg.gateway_status, at_pg.balance_amount) == ("CANCELED", 0)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.state, payment.state, order.refunded_krw) == (O.REFUNDED, P.REFUNDED, 33_000)

    # The voucher's balance is whole again; the use remembers what refunds returned.
    use = VoucherUse.objects.get(order=order)
    assert used(voucher) == 0 and use.returned_krw == 26_400 and use.released_at is None
    assert AuditEvent.objects.filter(action="voucher.returned").count() == 1

    # The ledger: the receivable is reversed, the buyer is owed (and paid back) only its 6,600; nothing is left.
    item = order.items.get()
    booked = refund.lines.get().ledger_transaction
    entries = {}
    for e in booked.entries.select_related("account"):
        entries[e.account.kind] = entries.get(e.account.kind, 0) + e.amount_krw
    assert entries["refund_payable"] == -6_600 and entries["voucher_receivable"] == -26_400
    assert "voucher_payable" not in entries
    assert_every_transaction_balances()
    seller = item.seller
    for kind in (K.CASH, K.COMMISSION, K.VOUCHER_RECEIVABLE, K.VOUCHER_PAYABLE):
        assert balance(kind) == 0, kind
    assert balance(K.REFUND_PAYABLE, order.buyer) == 0 and ledger.owed_to(seller) == 0
    assert ledger.voucher_outstanding_on(item) == 0 and ledger.refunded_on(item) == 33_000
    paid_back = LedgerEntry.objects.filter(transaction__kind="refund_paid", account__kind=K.CASH)
    assert sum(paid_back.values_list("amount_krw", flat=True)) == -6_600

    # The supplier's cancelling document covers the whole supply refunded, whoever paid it.
    cancelling = Document.objects.get(order=order, kind="cancellation")
    assert (cancelling.supply_krw, cancelling.vat_krw, cancelling.total_krw) == (-30_000, -3_000, -33_000)

    # Nothing is due from the agency any more: a settlement is refused.
    with pytest.raises(DomainError) as exc:
        vouchers.voucher_settle(
            actor=admin_user, voucher=voucher, orders=[order], paid_on=TODAY(), reference="K-1", amount_krw=26_400
        )
    assert exc.value.code == "voucher_nothing_due"


def test_partial_refunds_split_in_proportion_and_add_up_to_each_part(voucher_order, admin_user, login):
    order, voucher = voucher_order
    item = order.items.get()
    payment = order.payments.get(state=P.DONE)

    # 1 won: the voucher's share ⌊1 × 26,400 / 33,000⌋ = 0, the buyer's 1.
    first = services.refund_create(actor=admin_user, order=order, reason="1원 감액", lines={item.pk: 1})
    # 10,000 more: cumulatively ⌊10,001 × 0.8⌋ = 8,000 to the voucher, 2,000 to the buyer.
    second = services.refund_create(actor=admin_user, order=order, reason="일부 감액", lines={item.pk: 10_000})
    assert [(r.amount_krw, r.voucher_krw, r.own_krw) for r in (first, second)] == [(1, 0, 1), (10_000, 8_000, 2_000)]
    first_call, second_call = simulator.cancel_calls()
    assert first_call["body"] == {"cancelReason": "1원 감액", "cancelAmount": 1}
    assert second_call["body"] == {"cancelReason": "일부 감액", "cancelAmount": 2_000}
    assert get_card_gateway().fetch(payment.payment_key).balance_amount == 6_600 - 2_001
    assert used(voucher) == 26_400 - 8_000
    assert ledger.voucher_outstanding_on(item) == 18_400
    assert Payment.objects.get(pk=payment.pk).state == P.PARTIALLY_REFUNDED
    assert_every_transaction_balances()

    # The admin's form shows both parts of what is left; so do the order pages.
    page = login(admin_user).get(reverse("staff_orders:detail", args=[order.number])).content.decode()
    assert "카드 환불 4,599원 · 바우처 복원 18,400원" in page.split('id="staff-refund-split"')[1].split("</p>")[0]
    assert "카드 환불 2,000원 · 바우처 복원 8,000원" in page.split(f'id="staff-refund-{second.pk}"')[1]

    # The rest: exactly what is left of each part (4,599 and 18,400), so the parts add up to 6,600 and 26,400.
    rest = services.refund_create(actor=admin_user, order=order, reason="나머지")
    assert (rest.amount_krw, rest.voucher_krw, rest.own_krw) == (22_999, 18_400, 4_599)
    *_, last_call = simulator.cancel_calls()
    assert last_call["body"] == {"cancelReason": "나머지", "cancelAmount": 4_599}
    at_pg = get_card_gateway().fetch(payment.payment_key)
    assert at_pg.balance_amount == 0
    assert Payment.objects.get(pk=payment.pk).state == P.REFUNDED
    assert Order.objects.get(pk=order.pk).state == O.REFUNDED
    assert used(voucher) == 0 and VoucherUse.objects.get(order=order).returned_krw == 26_400
    assert_every_transaction_balances()
    for kind in (K.CASH, K.COMMISSION, K.VOUCHER_RECEIVABLE, K.VOUCHER_PAYABLE):
        assert balance(kind) == 0, kind
    assert ledger.voucher_refunded_on(item) == 26_400 and ledger.refunded_on(item) == 33_000
    documents = Document.objects.filter(order=order, kind="cancellation")
    assert sum(documents.values_list("total_krw", flat=True)) == -33_000


def test_a_refund_after_the_agency_paid_is_owed_back_to_it_and_the_receivable_never_goes_negative(
    voucher_order, admin_user, login
):
    order, voucher = voucher_order
    item = order.items.get()
    vouchers.voucher_settle(
        actor=admin_user, voucher=voucher, orders=[order], paid_on=TODAY(), reference="KDATA-7", amount_krw=26_400
    )
    assert balance(K.CASH) == 33_000 and balance(K.VOUCHER_RECEIVABLE) == 0

    refund = services.refund_create(actor=admin_user, order=order, reason="정산 후 환불")
    assert (refund.state, refund.voucher_krw, refund.own_krw) == (R.DONE, 26_400, 6_600)
    (call,) = simulator.cancel_calls()
    assert "cancelAmount" not in call["body"]  # the 6,600 paid by card, in full
    # The balance comes back; the agency's money is now owed back to it, not a negative receivable.
    assert used(voucher) == 0
    assert balance(K.VOUCHER_RECEIVABLE) == 0 and ledger.voucher_outstanding_on(item) == 0
    assert balance(K.VOUCHER_PAYABLE) == -26_400 and ledger.voucher_payable_on(item) == 26_400
    assert balance(K.CASH) == 26_400  # the agency's payment, held until it is paid back
    assert balance(K.REFUND_PAYABLE, order.buyer) == 0 and ledger.owed_to(item.seller) == 0
    assert_every_transaction_balances()

    # The admin's voucher page says what is owed back; recording the payment back empties it, once.
    client = login(admin_user)
    detail = client.get(reverse("staff_vouchers:detail", args=[voucher.pk])).content.decode()
    assert "26,400" in detail.split(f'id="voucher-owed-back-{order.pk}"')[1].split("</span>")[0]
    repay = reverse("staff_vouchers:repay", args=[voucher.pk, order.pk])
    assert client.post(repay, {"reference": "반환-001"}).status_code == 302
    assert LedgerTransaction.objects.filter(kind="voucher_repaid", order=order).count() == 1
    assert balance(K.VOUCHER_PAYABLE) == 0 and balance(K.CASH) == 0
    assert_every_transaction_balances()
    with pytest.raises(DomainError) as exc:
        vouchers.voucher_repay(actor=admin_user, voucher=voucher, order=order, reference="again")
    assert exc.value.code == "voucher_nothing_owed"
    with pytest.raises(NotAllowed):
        vouchers.voucher_repay(actor=order.placed_by, voucher=voucher, order=order, reference="x")
    detail = client.get(reverse("staff_vouchers:detail", args=[voucher.pk])).content.decode()
    assert f'id="voucher-owed-back-{order.pk}"' not in detail


def test_a_tax_free_line_sends_the_buyers_tax_free_part_to_the_pg(pg, buyer, admin_user, eligible, official):  # noqa: F811
    Organization.objects.filter(pk=official.active_organization.pk).update(vat_status="exempt")
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher)
    item = order.items.get()
    assert (item.total_krw, item.tax_free, item.voucher_krw, order.due_krw) == (30_000, True, 24_000, 6_000)
    pay_by_card(buyer, order)
    refund = services.refund_create(actor=admin_user, order=order, reason="면세 일부", lines={item.pk: 10_000})
    assert (refund.state, refund.voucher_krw, refund.own_krw) == (R.DONE, 8_000, 2_000)
    (call,) = simulator.cancel_calls()
    assert call["body"] == {"cancelReason": "면세 일부", "cancelAmount": 2_000, "taxFreeAmount": 2_000}


def test_a_bank_transfer_refund_is_transferred_only_for_the_buyers_part(buyer, admin_user, eligible, login):  # noqa: F811
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher, method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=6_600)
    refund = services.refund_create(
        actor=admin_user,
        order=order,
        reason="계좌 환불",
        account={"bank": "국민은행", "number": "123-45-6789", "holder": "에어데이터랩"},
    )
    assert (refund.state, refund.voucher_krw, refund.own_krw) == (R.CREATED, 26_400, 6_600)
    queue = login(admin_user).get(reverse("staff_refunds:queue")).content.decode()
    assert "계좌 환불 6,600원 · 바우처 복원 26,400원" in queue.split(f'id="staff-refund-{refund.pk}"')[1]
    assert used(voucher) == 26_400  # nothing goes back before the refund is done
    services.refund_bank_confirm(
        actor=admin_user, refund=refund, bank="국민은행", account_number="123-45-6789", holder="에어데이터랩"
    )
    assert used(voucher) == 0
    paid_back = LedgerEntry.objects.filter(transaction__kind="refund_paid", account__kind=K.CASH)
    assert sum(paid_back.values_list("amount_krw", flat=True)) == -6_600
    assert balance(K.CASH) == 0 and balance(K.VOUCHER_RECEIVABLE) == 0
    assert Payment.objects.get(pk=payment.pk).state == P.REFUNDED
    buyer_page = login(buyer).get(reverse("transactions:order", args=[order.number])).content.decode()
    assert "계좌 환불 6,600원 · 바우처 복원 26,400원" in buyer_page.split(f'id="refund-{refund.pk}"')[1]
