"""The monthly bill of metered API plans (issue 16): calls × price / 1,000 rounded down, VAT by the supplier, made
once per plan and month (even by two runs at once), paid through the normal payment pages and booked in the ledger
like any sale."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import Organization
from catalog.models import Offer
from transactions.apiplans import billing
from transactions.apiplans.models import ApiBill, ApiUsage
from transactions.models import Entitlement, LedgerTransaction, Order
from transactions.payments import services as payments
from transactions.statements.selectors import next_month

from .conftest import offer_of
from .test_apiplans_plans import API_OFFERS, take

LAST_MONTH = billing.previous_month()  # the month the beat bills on the 1st (Korean time)
THIS_MONTH = next_month(LAST_MONTH)


@pytest.fixture
def metered(buyer, publish):
    dataset = publish(offers=API_OFFERS)
    offer = offer_of(dataset, Offer.Kind.API_METERED)
    Offer.objects.filter(pk=offer.pk).update(price_per_1000_krw=2_345)
    offer.refresh_from_db()
    plan = take(buyer, offer, monthly_cap_krw=1_000_000)
    # Calls persisted for last month (two tables, two days) and one call this month, which is not billed yet.
    last_day = THIS_MONTH - timedelta(days=1)
    for day, table, calls in (
        (LAST_MONTH, "t1", 10_000),
        (last_day, "t2", 2_345),
        (LAST_MONTH.replace(day=15), "t1", 1),
    ):
        ApiUsage.objects.create(
            organization_id=plan.organization_id, plan=plan, dataset=dataset, table=table, day=day, calls=calls
        )
    ApiUsage.objects.create(
        organization_id=plan.organization_id, plan=plan, dataset=dataset, table="t1", day=THIS_MONTH, calls=7
    )
    return plan


@pytest.mark.django_db
def test_the_bill_is_calls_times_price_rounded_down_with_vat_and_is_made_once(metered, buyer):
    bills = billing.bills_make_month(month=LAST_MONTH)
    assert len(bills) == 1
    bill = bills[0]
    assert bill.calls == 12_346
    # 12,346 × 2,345 / 1,000 = 28,951.37 → 28,951 won (rounded down); VAT 10 % rounded down: 2,895.
    assert bill.amount_krw == 28_951
    order = bill.order
    assert (order.supply_krw, order.vat_krw, order.total_krw) == (28_951, 2_895, 31_846)
    assert order.state == Order.State.AWAITING_PAYMENT and order.buyer_id == buyer.active_organization_id
    item = order.items.get()
    assert item.kind == "api_metered" and item.terms["api_bill"] is True and item.terms["calls"] == 12_346
    assert "rounded down" in item.terms["rounding"]
    # Running again (the beat twice, or a retry) bills nothing more.
    assert billing.bills_make_month(month=LAST_MONTH)[0].pk == bill.pk
    assert ApiBill.objects.count() == 1 and Order.objects.filter(items__terms__api_bill=True).count() == 1


@pytest.mark.django_db
def test_a_vat_exempt_supplier_bills_no_vat(metered, official):
    Organization.objects.filter(pk=official.active_organization_id).update(vat_status=Organization.VatStatus.EXEMPT)
    order = billing.bills_make_month(month=LAST_MONTH)[0].order
    assert (order.supply_krw, order.vat_krw, order.total_krw, order.tax_free_krw) == (28_951, 0, 28_951, 28_951)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_make_one_bill(metered):
    start = threading.Barrier(2)
    errors = []

    def run():
        start.wait()
        try:
            billing.bills_make_month(month=LAST_MONTH)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert ApiBill.objects.count() == 1
    assert Order.objects.filter(items__terms__api_bill=True).count() == 1


@pytest.mark.django_db
def test_the_bill_is_paid_through_the_payment_pages_and_booked_like_any_sale(metered, buyer, admin_user, official):
    order = billing.bills_make_month(month=LAST_MONTH)[0].order
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    assert payment.amount_krw == 31_846
    assert not LedgerTransaction.objects.filter(order=order).exists()
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=31_846)
    order.refresh_from_db()
    # Paid; nothing to package: the bill gives no entitlement, so the order is delivered at once.
    assert order.state == Order.State.FULFILLED
    assert not Entitlement.objects.filter(order_item__order=order).exists()
    booked = LedgerTransaction.objects.get(order=order)
    entries = {
        (e.account.kind, e.account.organization_id): e.amount_krw for e in booked.entries.select_related("account")
    }
    provider = official.active_organization_id
    assert entries[("cash", None)] == 31_846
    assert entries[("provider_vat", provider)] == -2_895
    assert entries[("provider_payable", provider)] + entries[("commission", None)] == -28_951
    # The receipt / tax document of the supplier is issued as for any sale.
    assert order.documents.filter(supplier_id=provider).exists()
    # The buyer's page shows the bill with its order.
    from transactions.apiplans.selectors import buyer_usage

    row = buyer_usage(buyer.active_organization).plans[0]
    assert row.bills[0].order.number == order.number
    assert row.month_calls == 7 and row.month_amount_krw == 16  # 7 × 2,345 / 1,000 = 16.4 → 16 won
