"""The ledger (transactions.ledger): a paid order books balanced entries in the payment's own transaction; entries
are never edited; an unbalanced transaction cannot commit; and, for any sequence of payments, partial refunds,
refunds paid back, payouts, orders partly paid by a data voucher, their refunds, the agency's settlements and paying
the agency back (hypothesis), every transaction balances, what the voucher agency owes is never negative, a refund
splits between the buyer and the voucher by the cumulative rule (the buyer never gets back more than it paid), each provider is owed exactly what its
entries say, nothing is paid out beyond what is owed, and a line refunded in full leaves nothing behind."""

import uuid

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import ProgrammingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from transactions import ledger
from transactions.models import LedgerAccount, LedgerEntry, LedgerTransaction, Order, OrderItem
from transactions.payments import services as payments
from transactions.vouchers.services import voucher_split

K = LedgerAccount.Kind
PAID = ({"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용"},)


def entries_of(booked: LedgerTransaction) -> dict:
    return {(e.account.kind, e.account.organization_id): e.amount_krw for e in booked.entries.select_related("account")}


@pytest.mark.django_db
def test_a_paid_order_books_cash_the_providers_share_the_commission_and_the_vat(
    official, buyer, admin_user, reference_data, settings
):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    dataset = publish_dataset(official, admin_user, offers=PAID)
    order = place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    assert not LedgerTransaction.objects.exists()  # nothing moves before the money does
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=33_000)
    booked = LedgerTransaction.objects.get()
    provider = official.active_organization_id
    assert booked.kind == "payment" and booked.payment == payment and booked.order == order
    assert entries_of(booked) == {
        ("cash", None): 33_000,
        ("provider_payable", provider): -27_000,  # 30,000 supply less 10 % commission
        ("commission", None): -3_000,
        ("provider_vat", provider): -3_000,
    }
    assert ledger.owed_to(provider) == 30_000
    # Confirming again changes nothing (the payment is booked once).
    assert ledger.record_payment(order=Order.objects.get(pk=order.pk), payment=payment) == booked
    assert LedgerTransaction.objects.count() == 1


@pytest.mark.django_db
def test_a_free_order_moves_no_money(official, buyer, admin_user, reference_data):
    dataset = publish_dataset(official, admin_user)
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    assert Order.objects.get(pk=order.pk).state == "paid" and not LedgerTransaction.objects.exists()


def test_the_commission_rounds_down_to_the_won(settings):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    assert [ledger.commission_of(s) for s in (0, 9, 10, 19, 30_000, 33_333)] == [0, 0, 1, 1, 3_000, 3_333]
    settings.PLATFORM_COMMISSION_PERCENT = 7
    assert ledger.commission_of(14_999) == 1_049  # 1,049.93 → 1,049


@pytest.mark.django_db(transaction=True)
def test_entries_are_never_edited_and_an_unbalanced_transaction_cannot_commit(
    official, buyer, admin_user, reference_data
):
    dataset = publish_dataset(official, admin_user, offers=PAID)
    order = place_order(buyer, offer_of(dataset, "one_off"), method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=33_000)
    entry = LedgerEntry.objects.first()
    for statement in (
        f"UPDATE transactions_ledgerentry SET amount_krw = 1 WHERE id = {entry.pk}",
        f"DELETE FROM transactions_ledgerentry WHERE id = {entry.pk}",
        f"UPDATE transactions_ledgertransaction SET memo = 'x' WHERE id = {entry.transaction_id}",
    ):
        with pytest.raises((ProgrammingError, InternalError, IntegrityError)), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
    cash = ledger.account(K.CASH)
    with pytest.raises(IntegrityError, match="does not balance"):
        with transaction.atomic():
            booked = LedgerTransaction.objects.create(kind="correction", memo="raw")
            LedgerEntry.objects.create(transaction=booked, account=cash, amount_krw=100)
    with pytest.raises(IntegrityError, match="no entries"):
        with transaction.atomic():
            LedgerTransaction.objects.create(kind="correction", memo="empty")
    with pytest.raises(ValueError, match="unbalanced"), transaction.atomic():
        ledger.post(kind="correction", lines=[ledger.Line(cash, 5)])
    assert LedgerEntry.objects.count() == 4


# --- the property -----------------------------------------------------------------------------------------------


@pytest.fixture
def world(official, buyer, admin_user, reference_data):
    """Two providers (one VAT-exempt) and a buyer; orders are made directly as rows (the checkout is tested
    elsewhere), so hypothesis can try many sequences quickly."""
    exempt_owner = make_user("exempt@welfare.test", name="복지")
    exempt = make_org(
        exempt_owner, name_ko="복지정책과", name_en="Welfare", kind="provider", brn="1348310016", vat_status="exempt"
    )
    dataset = publish_dataset(official, admin_user, offers=PAID)
    return {"sellers": [official.active_organization, exempt], "buyer": buyer, "dataset": dataset}


def _order(world, prices: list[tuple[int, int]], copay: int | None = None) -> Order:
    """An order of lines (seller index, supply): 10 % VAT for a taxable seller, none for an exempt one. With
    `copay`, a data voucher pays its share of every line (transactions.vouchers.services.voucher_split)."""
    buyer = world["buyer"]
    lines = []
    for seller_index, supply in prices:
        seller = world["sellers"][seller_index]
        vat = 0 if seller.vat_status == "exempt" else supply // 10
        lines.append((seller, supply, vat))
    shares = [0] * len(lines)
    if copay is not None:
        shares = voucher_split(lines=[(s + v, True) for _o, s, v in lines], copay_percent=copay, balance_krw=10**12)
    order = Order.objects.create(
        number=uuid.uuid4().hex[:16],
        buyer=buyer.active_organization,
        placed_by=buyer,
        state="paid",
        method="bank_transfer",
        supply_krw=sum(s for _o, s, _v in lines),
        vat_krw=sum(v for _o, _s, v in lines),
        total_krw=sum(s + v for _o, s, v in lines),
        voucher_krw=sum(shares),
        billing_name="에어데이터랩",
        billing_email=buyer.email,
    )
    for (seller, supply, vat), share in zip(lines, shares, strict=True):
        OrderItem.objects.create(
            order=order,
            dataset=world["dataset"],
            seller=seller,
            kind="one_off",
            title="자료",
            supply_krw=supply,
            vat_krw=vat,
            total_krw=supply + vat,
            tax_free=vat == 0,
            voucher_krw=share,
        )
    return order


line = st.tuples(st.integers(0, 1), st.integers(1, 2_000_000))
step = st.one_of(
    st.tuples(st.just("order"), st.lists(line, min_size=1, max_size=3)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.floats(0.0, 1.0)),
    st.tuples(st.just("pay_back"), st.integers(0, 50), st.floats(0.0, 1.0)),
    st.tuples(st.just("payout"), st.integers(0, 1), st.floats(0.0, 1.2)),
    st.tuples(st.just("rate"), st.integers(0, 30)),
    # A data voucher pays part of an order (own share 1–99 %); later the agency pays it (a settlement).
    st.tuples(st.just("voucher_order"), st.lists(line, min_size=1, max_size=3), st.integers(1, 99)),
    st.tuples(st.just("settle"), st.integers(0, 50)),
    # Refunds of voucher orders (the "refund" step picks any line; this one a voucher order's), and paying the
    # agency back what refunds after its settlement owe it.
    st.tuples(st.just("voucher_refund"), st.integers(0, 50), st.floats(0.0, 1.0)),
    st.tuples(st.just("repay"), st.integers(0, 50)),
)


def _back(item) -> tuple[int, int]:
    """What refunds of a line gave back (their credits): to the buyer (refund_payable), to the voucher (the
    receivable reversed, or owed back to the agency)."""
    buyer = voucher = 0
    for e in LedgerEntry.objects.filter(order_item=item, transaction__kind="refund").select_related("account"):
        if e.account.kind == K.REFUND_PAYABLE:
            buyer -= e.amount_krw
        elif e.account.kind in ("voucher_receivable", "voucher_payable"):
            voucher -= e.amount_krw
    return buyer, voucher


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=16), commission=st.integers(0, 30))
def test_any_sequence_keeps_the_ledger_balanced_and_never_pays_out_more_than_is_owed(world, steps, commission):
    from django.conf import settings as django_settings

    default_rate = django_settings.PLATFORM_COMMISSION_PERCENT
    try:
        _run(world, steps, commission)
    finally:
        django_settings.PLATFORM_COMMISSION_PERCENT = default_rate


voucher_order_step = st.tuples(st.just("voucher_order"), st.lists(line, min_size=1, max_size=2), st.integers(1, 99))
voucher_step = st.one_of(
    voucher_order_step,
    st.tuples(st.just("voucher_refund"), st.integers(0, 50), st.sampled_from([0.0, 0.3, 0.5, 1.0]) | st.floats(0, 1)),
    st.tuples(st.just("settle"), st.integers(0, 50)),
    st.tuples(st.just("repay"), st.integers(0, 50)),
    st.tuples(st.just("pay_back"), st.integers(0, 50), st.floats(0.0, 1.0)),
)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.tuples(voucher_order_step, st.lists(voucher_step, min_size=2, max_size=14)).map(
        lambda first_and_rest: [first_and_rest[0], *first_and_rest[1]]
    ),
    commission=st.integers(0, 30),
)
def test_refunds_of_voucher_orders_before_and_after_the_agency_paid_keep_every_part_right(world, steps, commission):
    """The same invariants, on sequences made mostly of voucher orders, their refunds (partial and full, before and
    after the agency's settlement), refunds paid back and paying the agency back."""
    from django.conf import settings as django_settings

    default_rate = django_settings.PLATFORM_COMMISSION_PERCENT
    try:
        _run(world, steps, commission)
    finally:
        django_settings.PLATFORM_COMMISSION_PERCENT = default_rate


def _run(world, steps, commission):
    from django.conf import settings as django_settings

    with transaction.atomic():
        django_settings.PLATFORM_COMMISSION_PERCENT = commission
        items, paid_in, paid_back, paid_out, voucher_orders, repaid = [], 0, 0, 0, [], 0
        paid_to = {seller.pk: 0 for seller in world["sellers"]}
        for action, *args in steps:
            if action == "rate":  # the rate changes between events; what was booked stays as booked
                django_settings.PLATFORM_COMMISSION_PERCENT = args[0]
            elif action in ("order", "voucher_order"):
                order = _order(world, args[0], copay=args[1] if action == "voucher_order" else None)
                ledger.record_payment(order=order, payment=None)
                items += list(order.items.all())
                paid_in += order.due_krw  # the buyer's own part; the voucher part is due from the agency
                voucher_orders += [order] if order.voucher_krw else []
            elif action == "settle" and voucher_orders:
                order = voucher_orders[args[0] % len(voucher_orders)]
                outstanding = sum(ledger.voucher_outstanding_on(item) for item in order.items.all())
                if outstanding == 0:
                    with pytest.raises(DomainError):  # settled already: never twice, never below zero
                        ledger.record_voucher_settlement(order=order)
                    continue
                # What is due is the voucher part less the voucher shares of the refunds made before.
                assert outstanding == order.voucher_krw - sum(_back(item)[1] for item in order.items.all())
                ledger.record_voucher_settlement(order=order)
                paid_in += outstanding
            elif action == "repay" and voucher_orders:
                order = voucher_orders[args[0] % len(voucher_orders)]
                owed = -sum(
                    e.amount_krw
                    for e in LedgerEntry.objects.filter(order_item__order=order, account__kind=K.VOUCHER_PAYABLE)
                )
                if owed == 0:
                    with pytest.raises(DomainError):
                        ledger.record_voucher_repaid(order=order)
                    continue
                ledger.record_voucher_repaid(order=order)
                repaid += owed
            elif action in ("refund", "pay_back", "voucher_refund") and items:
                voucher_items = [item for item in items if item.voucher_krw]
                if action == "voucher_refund" and not voucher_items:
                    continue
                pool = voucher_items if action == "voucher_refund" else items
                item = pool[args[0] % len(pool)]
                action = "refund" if action == "voucher_refund" else action
                if action == "refund":
                    left = item.total_krw - ledger.refunded_on(item)
                    amount = max(1, int(left * args[1]))
                    if left == 0:
                        with pytest.raises(DomainError):
                            ledger.record_refund(item=item, amount_krw=1)
                        continue
                    ledger.record_refund(item=item, amount_krw=min(amount, left))
                else:
                    owed_back = -sum(
                        e.amount_krw
                        for e in LedgerEntry.objects.filter(order_item=item, account__kind=K.REFUND_PAYABLE)
                    )
                    if owed_back:
                        amount = max(1, int(owed_back * args[1]))
                        ledger.record_refund_paid(item=item, amount_krw=min(amount, owed_back))
                        paid_back += min(amount, owed_back)
            elif action == "payout":
                seller = world["sellers"][args[0]]
                owed = ledger.owed_to(seller)
                amount = int(owed * args[1])
                if amount <= 0 or amount > owed:
                    with pytest.raises(DomainError):
                        ledger.record_payout(organization=seller, amount_krw=amount if amount > 0 else 0)
                else:
                    ledger.record_payout(organization=seller, amount_krw=amount)
                    paid_out += amount
                    paid_to[seller.pk] += amount

        # Every transaction balances (the deferred trigger also refuses to commit one that does not).
        for booked in LedgerTransaction.objects.prefetch_related("entries"):
            assert sum(e.amount_krw for e in booked.entries.all()) == 0, booked
        # Each provider's balance is the sum of its entries and equals what its lines earned (supply less the
        # commission booked, plus VAT, less what was granted back) less what it was paid; a payout beyond what
        # was owed at that moment was refused above (a refund after a payout may leave the provider owing).
        for seller in world["sellers"]:
            owed = ledger.owed_to(seller)
            assert owed == -sum(
                e.amount_krw
                for e in LedgerEntry.objects.filter(
                    account__organization=seller, account__kind__in=["provider_payable", "provider_vat"]
                )
            )
            earned = sum(
                -e.amount_krw
                for e in LedgerEntry.objects.filter(
                    order_item__seller=seller, account__kind__in=["provider_payable", "provider_vat"]
                )
            )
            assert owed == earned - paid_to[seller.pk]
        # What the voucher agency owes is the voucher part of the orders not settled, never negative, line by line.
        for item in items:
            assert 0 <= ledger.voucher_outstanding_on(item) <= item.voucher_krw
        assert ledger.balance(ledger.account(K.VOUCHER_RECEIVABLE)) == sum(
            ledger.voucher_outstanding_on(item) for item in items
        )
        # Refunds of a voucher line split between the buyer and the voucher: the voucher's share of everything
        # refunded of the line is ⌊refunded × W / T⌋ (cumulative rounding), so the buyer never gets back more than it
        # paid (T − W) and a line refunded in full gives back exactly W and T − W. The voucher's share reversed the
        # receivable while unsettled, else it is owed back to the agency (never negative, paid back at most once).
        for item in items:
            buyer_back, voucher_back = _back(item)
            refunded = buyer_back + voucher_back
            assert refunded == ledger.refunded_on(item) <= item.total_krw
            assert voucher_back == refunded * item.voucher_krw // item.total_krw, (item.pk, buyer_back, voucher_back)
            assert 0 <= buyer_back <= item.total_krw - item.voucher_krw
            if refunded == item.total_krw:
                assert (buyer_back, voucher_back) == (item.total_krw - item.voucher_krw, item.voucher_krw)
            owed_agency = ledger.voucher_payable_on(item)
            assert 0 <= owed_agency <= voucher_back
            assert 0 <= ledger.voucher_outstanding_on(item) <= item.voucher_krw - voucher_back
        assert -ledger.balance(ledger.account(K.VOUCHER_PAYABLE)) == sum(ledger.voucher_payable_on(i) for i in items)
        # Cash is what came in (buyers and the agency) less what went back (to buyers, to the agency) and out;
        # commission is never negative.
        assert ledger.balance(ledger.account(K.CASH)) == paid_in - paid_back - paid_out - repaid
        assert ledger.balance(ledger.account(K.COMMISSION)) <= 0  # (credit balance: the platform's income)
        # A line refunded in full leaves nothing behind: its provider share, commission and VAT all net to zero.
        for item in items:
            if ledger.refunded_on(item) == item.total_krw:
                net = {}
                for e in LedgerEntry.objects.filter(order_item=item).exclude(
                    account__kind__in=[K.CASH, K.REFUND_PAYABLE, K.VOUCHER_RECEIVABLE, K.VOUCHER_PAYABLE]
                ):
                    net[e.account.kind] = net.get(e.account.kind, 0) + e.amount_krw
                assert set(net.values()) <= {0}, net
        transaction.set_rollback(True)
