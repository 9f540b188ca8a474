"""Provider statements and payouts (transactions.statements): monthly totals read from the ledger (sales, refunds,
commission, VAT, voucher), statements that sum to the ledger for any activity (hypothesis), bookings after a close
landing on the next statement, paid statements frozen (service and database), payouts booked in the ledger and never
beyond what is owed, one payout when two admins click at once, who may see and pay what, and the sales charts."""

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import ProgrammingError
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Organization
from core.errors import DomainError, NotAllowed
from tests.conftest import make_org, make_user
from tests.transactions.test_ledger import _order as _ledger_order
from tests.transactions.test_ledger import world  # noqa: F401  (the ledger test's two providers and buyer)
from transactions import ledger
from transactions.models import (
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    ProviderStatement,
    StatementLine,
)
from transactions.statements import selectors, services

K = LedgerAccount.Kind
FUTURE = timezone.now() + timedelta(days=3 * 366)  # lets a test close the month under way, and the ones after it
THIS = selectors.month_of(timezone.now())


def _order(world, prices):
    """The ledger test's order (rows made directly), with a number of the real shape (the pages link to it)."""
    order = _ledger_order(world, prices)
    order.number = f"20260101-{uuid.uuid4().hex[:8].upper()}"
    Order.objects.filter(pk=order.pk).update(number=order.number)
    return order


def months(n: int):
    m = THIS
    for _i in range(n):
        yield m
        m = selectors.next_month(m)


def close(month, admin=None):
    return services.statements_close_month(month=month, actor=admin, now=FUTURE)


def pay_voucher_order(world, supply: int, voucher: int):
    """An order of one line of provider 0 paid partly by data voucher, booked as the voucher contract says
    (Dr cash own share, Dr voucher_receivable voucher share on the line; the usual credits)."""
    order = _order(world, [(0, supply)])
    item = order.items.get()
    commission = ledger.commission_of(item.supply_krw)
    seller = item.seller_id
    return ledger.post(
        kind="payment",
        order=order,
        lines=[
            ledger.Line(ledger.account(K.CASH), item.total_krw - voucher),
            ledger.Line(ledger.account(K.VOUCHER_RECEIVABLE), voucher, item),
            ledger.Line(ledger.account(K.PROVIDER_PAYABLE, seller), -(item.supply_krw - commission), item),
            ledger.Line(ledger.account(K.COMMISSION), -commission, item),
            ledger.Line(ledger.account(K.PROVIDER_VAT, seller), -item.vat_krw, item),
        ],
    ), item


@pytest.mark.django_db
def test_a_statement_adds_up_sales_refunds_commission_vat_and_voucher(world, admin_user, settings):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    provider = world["sellers"][0]
    order = _order(world, [(0, 30_000), (1, 50_000)])  # one line each for the two providers
    ledger.record_payment(order=order, payment=None)
    line = order.items.get(seller=provider)
    ledger.record_refund(item=line, amount_krw=11_000)  # a third back: 10,000 supply + 1,000 VAT
    _booked, voucher_line = pay_voucher_order(world, 100_000, voucher=80_000)
    ledger.post(
        kind="voucher_settlement",
        lines=[
            ledger.Line(ledger.account(K.CASH), 80_000, voucher_line),
            ledger.Line(ledger.account(K.VOUCHER_RECEIVABLE), -80_000, voucher_line),
        ],
    )

    statement = next(s for s in close(THIS, admin_user) if s.organization_id == provider.pk)
    assert statement.state == "closed" and statement.period == THIS
    assert (
        statement.sales_krw,
        statement.refunds_krw,
        statement.commission_krw,
        statement.vat_krw,
        statement.voucher_krw,
        statement.voucher_settled_krw,
    ) == (33_000 + 110_000, 11_000, 3_000 - 1_000 + 10_000, 3_000 - 1_000 + 10_000, 80_000, 80_000)
    assert statement.net_krw == 33_000 + 110_000 - 11_000 - 12_000 == ledger.owed_to(provider)
    assert statement.payable_krw == statement.net_krw and statement.other_krw == 0
    # Each of its transactions is on it once (payment, refund, voucher payment, voucher settlement); the other
    # provider's line of the first order is on the other provider's statement.
    assert statement.lines.count() == 4
    other = ProviderStatement.objects.get(organization=world["sellers"][1])
    assert other.net_krw == 45_000 == ledger.owed_to(world["sellers"][1])  # VAT-exempt: 50,000 less 10 %
    rows = selectors.statement_rows(statement)
    assert sum(r.net_krw for r in rows) == statement.net_krw
    assert {r.order_item.pk for r in rows} == {line.pk, voucher_line.pk}


@pytest.mark.django_db
def test_bookings_after_a_close_land_on_the_next_statement_and_closing_again_changes_nothing(world, settings):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    provider = world["sellers"][0]
    m0, m1, _m2 = months(3)
    order = _order(world, [(0, 30_000)])
    ledger.record_payment(order=order, payment=None)
    (first,) = close(m0)
    ledger.record_refund(item=order.items.get(), amount_krw=33_000)  # a correction after the month closed
    assert close(m0) == []  # idempotent: the late refund waits for the next month
    assert first.lines.count() == 1 and selectors.unassigned_transactions(provider).count() == 1
    current = selectors.statement_current(provider)
    assert current.totals.refunds_krw == 33_000 and current.carried_krw == 27_000 + 3_000
    (second,) = close(m1)
    assert second.previous == first and second.refunds_krw == 33_000 and second.net_krw == -30_000
    assert second.carried_krw == first.payable_krw == 30_000 and second.payable_krw == 0
    assert ledger.owed_to(provider) == 0
    every = StatementLine.objects.filter(organization=provider)
    assert every.count() == 2 == every.values("transaction").distinct().count()


@pytest.mark.django_db
def test_a_month_under_way_cannot_be_closed_and_only_admins_close(world, official):
    with pytest.raises(DomainError) as refused:
        services.statements_close_month(month=THIS)
    assert refused.value.code == "month_not_ended"
    with pytest.raises(NotAllowed):
        services.statements_close_month(month=selectors.previous_month(THIS), actor=official)


@pytest.mark.django_db
def test_mark_paid_books_the_payout_in_the_ledger_and_never_beyond_what_is_owed(world, admin_user, settings):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    provider = world["sellers"][0]
    m0, m1, m2 = months(3)
    order = _order(world, [(0, 30_000), (0, 20_000)])
    ledger.record_payment(order=order, payment=None)
    (first,) = close(m0)
    assert first.payable_krw == 50_000 - 5_000 + 5_000
    # A refund after the close: the provider is owed less than the statement says. The payout pays what is owed.
    ledger.record_refund(item=order.items.order_by("pk").last(), amount_krw=22_000)
    owed = ledger.owed_to(provider)
    paid = services.statement_mark_paid(statement=first, transfer_reference="신한 0123-45", actor=admin_user)
    assert paid.state == "paid" and paid.paid_krw == owed == 50_000 - 20_000 and paid.left_krw == 20_000
    assert paid.payout.kind == "payout" and paid.paid_by == admin_user and paid.transfer_reference == "신한 0123-45"
    assert sum(e.amount_krw for e in paid.payout.entries.filter(account__organization=provider)) == owed
    assert ledger.owed_to(provider) == 0
    # The refund lands on the next statement: its net is negative, what the payout left is carried: nothing to pay.
    (second,) = close(m1)
    assert second.net_krw == -20_000 and second.carried_krw == 20_000 and second.payable_krw == 0
    with pytest.raises(DomainError) as refused:
        services.statement_mark_paid(statement=second, transfer_reference="x", actor=admin_user)
    assert refused.value.code == "statement_nothing_to_pay"
    # A month with only a refund: a negative statement, not paid, carried into the next one.
    ledger.record_refund(item=order.items.order_by("pk").first(), amount_krw=11_000)
    (third,) = close(m2)
    assert third.payable_krw == -10_000 and ledger.owed_to(provider) == -10_000
    with pytest.raises(DomainError):
        services.statement_mark_paid(statement=third, transfer_reference="x", actor=admin_user)
    assert LedgerTransaction.objects.filter(kind="payout").count() == 1


@pytest.mark.django_db
def test_an_unpaid_statement_is_carried_into_the_next_and_then_paid_through_it(world, admin_user, settings):
    settings.PLATFORM_COMMISSION_PERCENT = 0
    m0, m1 = list(months(2))
    ledger.record_payment(order=_order(world, [(0, 10_000)]), payment=None)
    (first,) = close(m0)
    ledger.record_payment(order=_order(world, [(0, 20_000)]), payment=None)
    (second,) = close(m1)
    assert second.carried_krw == 11_000 and second.payable_krw == 33_000
    assert list(selectors.statements_to_pay()) == [second]
    with pytest.raises(DomainError) as refused:
        services.statement_mark_paid(statement=first, transfer_reference="x", actor=admin_user)
    assert refused.value.code == "statement_carried"
    assert services.statement_mark_paid(statement=second, transfer_reference="T-1", actor=admin_user).paid_krw == 33_000


@pytest.mark.django_db(transaction=True)
def test_a_paid_statement_never_changes_in_the_service_or_the_database(world, admin_user):
    m0, m1 = list(months(2))
    ledger_order = _order(world, [(0, 10_000)])
    with transaction.atomic():
        ledger.record_payment(order=ledger_order, payment=None)
    (statement,) = close(m0)
    services.statement_mark_paid(statement=statement, transfer_reference="T-1", actor=admin_user)
    with pytest.raises(DomainError) as refused:
        services.statement_mark_paid(statement=statement, transfer_reference="T-2", actor=admin_user)
    assert refused.value.code == "statement_paid"
    with transaction.atomic():
        ledger.record_payment(order=_order(world, [(0, 5_000)]), payment=None)
    late = LedgerTransaction.objects.order_by("pk").last()
    for sql in (
        f"UPDATE transactions_providerstatement SET transfer_reference = 'edited' WHERE id = {statement.pk}",
        f"UPDATE transactions_providerstatement SET net_krw = 0, payable_krw = 0 WHERE id = {statement.pk}",
        f"DELETE FROM transactions_providerstatement WHERE id = {statement.pk}",
        f"DELETE FROM transactions_statementline WHERE statement_id = {statement.pk}",
        "INSERT INTO transactions_statementline (statement_id, organization_id, transaction_id) "
        f"VALUES ({statement.pk}, {statement.organization_id}, {late.pk})",
    ):
        with pytest.raises((ProgrammingError, InternalError, IntegrityError)), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    statement.refresh_from_db()
    assert statement.transfer_reference == "T-1" and statement.lines.count() == 1
    # A closed (unpaid) statement keeps its totals too; only its payment may be recorded.
    (closed,) = close(m1)
    with pytest.raises((ProgrammingError, InternalError, IntegrityError)), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE transactions_providerstatement SET sales_krw = 1 WHERE id = {closed.pk}")


@pytest.mark.django_db(transaction=True)
def test_two_admins_marking_paid_at_once_make_one_payout(world, admin_user):
    other_admin = make_user("admin2@test.example", name="관리자2", staff=True)
    with transaction.atomic():
        ledger.record_payment(order=_order(world, [(0, 40_000)]), payment=None)
    (statement,) = close(THIS)
    barrier, results = threading.Barrier(2), []

    def pay(actor, reference):
        try:
            barrier.wait(timeout=10)
            services.statement_mark_paid(statement=statement, transfer_reference=reference, actor=actor)
            results.append("paid")
        except DomainError as exc:
            results.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(a, r)) for a, r in ((admin_user, "A-1"), (other_admin, "B-1"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["paid", "statement_paid"]
    assert LedgerTransaction.objects.filter(kind="payout").count() == 1
    assert ledger.owed_to(world["sellers"][0]) == 0


# --- the property: statements sum to the ledger ----------------------------------------------------------------------

step = st.one_of(
    st.tuples(
        st.just("order"), st.lists(st.tuples(st.integers(0, 1), st.integers(1, 2_000_000)), min_size=1, max_size=3)
    ),
    st.tuples(st.just("voucher"), st.integers(1, 2_000_000), st.floats(0.0, 1.0)),
    st.tuples(st.just("refund"), st.integers(0, 50), st.floats(0.0, 1.0)),
    st.tuples(st.just("close")),
    st.tuples(st.just("pay"), st.integers(0, 1)),
    st.tuples(st.just("rate"), st.integers(0, 30)),
)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=16))
def test_statements_sum_to_the_ledger_for_any_activity(world, admin_user, steps):
    from django.conf import settings as django_settings

    default_rate = django_settings.PLATFORM_COMMISSION_PERCENT
    try:
        with transaction.atomic():
            _run(world, admin_user, steps)
            transaction.set_rollback(True)
    finally:
        django_settings.PLATFORM_COMMISSION_PERCENT = default_rate


def _run(world, admin_user, steps):
    from django.conf import settings as django_settings

    month_iter, items, paid = months(40), [], 0
    for action, *args in steps:
        if action == "rate":
            django_settings.PLATFORM_COMMISSION_PERCENT = args[0]
        elif action == "order":
            order = _order(world, args[0])
            ledger.record_payment(order=order, payment=None)
            items += list(order.items.all())
        elif action == "voucher":
            supply = args[0]
            _booked, item = pay_voucher_order(world, supply, voucher=int((supply + supply // 10) * args[1]))
            items.append(item)
        elif action == "refund" and items:
            item = items[args[0] % len(items)]
            left = item.total_krw - ledger.refunded_on(item)
            if left:
                ledger.record_refund(item=item, amount_krw=min(left, max(1, int(left * args[1]))))
        elif action == "close":
            close(next(month_iter))
        elif action == "pay":
            seller = world["sellers"][args[0]]
            payable = selectors.statements_to_pay().filter(organization=seller).first()
            if payable is not None:
                try:
                    paid += services.statement_mark_paid(
                        statement=payable, transfer_reference="T", actor=admin_user
                    ).paid_krw
                except DomainError as exc:
                    assert exc.code == "nothing_owed"
    total_paid = 0
    for seller in world["sellers"]:
        statements = ProviderStatement.objects.filter(organization=seller)
        nets = sum(s.net_krw for s in statements)
        current = selectors.statement_current(seller, with_rows=False)
        seller_paid = sum(s.paid_krw for s in statements)
        total_paid += seller_paid
        # Before payouts, what the statements say is what the ledger says; no payout went beyond what was owed.
        assert nets + current.totals.net_krw == ledger.owed_to(seller) + seller_paid
        check = selectors.ledger_check(seller)
        assert check.matches and check.paid_out_krw == seller_paid
        # The latest statement's amount (carried + net) is what was owed at its close, less payouts.
        assert current.payable_krw == ledger.owed_to(seller)
        # Every statement transaction is on at most one of its statements; after a final close, on exactly one.
        lines = StatementLine.objects.filter(organization=seller)
        assert lines.count() == lines.values("transaction").distinct().count()
    assert total_paid == paid
    close(next(month_iter))
    for seller in world["sellers"]:
        assert not selectors.unassigned_transactions(seller).exists()
        on_statements = set(StatementLine.objects.filter(organization=seller).values_list("transaction", flat=True))
        assert on_statements == set(selectors.statement_transactions(seller).values_list("pk", flat=True))
        nets = sum(s.net_krw for s in ProviderStatement.objects.filter(organization=seller))
        assert nets == -sum(
            e.amount_krw
            for e in LedgerEntry.objects.filter(
                account__organization=seller, account__kind__in=selectors.PROVIDER_KINDS
            ).exclude(transaction__kind="payout")
        )


# --- pages and permissions --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_provider_sees_its_statements_and_another_organizations_are_404(world, official, client, admin_user):
    ledger.record_payment(order=_order(world, [(0, 30_000), (1, 10_000)]), payment=None)
    mine, theirs = sorted(close(THIS), key=lambda s: s.organization_id != official.active_organization_id)
    client.force_login(official)
    page = client.get(reverse("statements:statement", args=[mine.pk]))
    assert page.status_code == 200 and "33,000" in page.content.decode()
    assert client.get(reverse("statements:statement", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("statements:sales")).status_code == 200
    # Only platform admins pay: the provider's POST is refused, and so is a direct call to the service.
    assert (
        client.post(reverse("staff_statements:mark_paid", args=[mine.pk]), {"transfer_reference": "x"}).status_code
        == 403
    )
    assert client.get(reverse("staff_statements:payouts")).status_code == 403
    with pytest.raises(NotAllowed):
        services.statement_mark_paid(statement=mine, transfer_reference="x", actor=official)
    mine.refresh_from_db()
    assert mine.state == "closed" and not LedgerTransaction.objects.filter(kind="payout").exists()


@pytest.mark.django_db
def test_the_admin_pays_from_the_statement_page_and_the_ledger_page_agrees(world, admin_user, client):
    provider = world["sellers"][0]
    ledger.record_payment(order=_order(world, [(0, 30_000)]), payment=None)
    (statement,) = close(THIS)
    client.force_login(admin_user)
    assert f'data-statement="{statement.pk}"' in client.get(reverse("staff_statements:payouts")).content.decode()
    answer = client.post(reverse("staff_statements:mark_paid", args=[statement.pk]), {"transfer_reference": "KB-77"})
    assert answer.status_code == 302
    statement.refresh_from_db()
    assert statement.state == "paid" and statement.transfer_reference == "KB-77"
    ledger_page = client.get(reverse("staff_statements:ledger", args=[provider.pk])).content.decode()
    assert 'data-matches="true"' in ledger_page and "KB-77" in ledger_page


@pytest.mark.django_db
def test_the_sales_charts_count_won_and_downloads_per_dataset_and_buyer_type(world, reference_data, settings):
    """Sales by the month booked (Seoul) less refunds, per dataset and per buyer type; a research institute's
    purchase shows under its own type."""
    settings.PLATFORM_COMMISSION_PERCENT = 10
    provider = world["sellers"][0]
    order = _order(world, [(0, 30_000)])  # the company buyer
    ledger.record_payment(order=order, payment=None)
    ledger.record_refund(item=order.items.get(), amount_krw=3_300)
    researcher = make_user("lab@research.test", name="연구원")
    institute = make_org(
        researcher, name_ko="도시연구소", name_en="Urban lab", kind="consumer", brn="1048213138", org_type="research"
    )
    world_research = {**world, "buyer": researcher}
    research_order = _order(world_research, [(0, 100_000)])
    assert research_order.buyer == institute
    ledger.record_payment(order=research_order, payment=None)
    charts = selectors.sales_charts(provider)
    assert len(charts.months) == 12 and charts.months[-1] == f"{THIS:%Y-%m}"
    (series,) = charts.sales_by_dataset.series
    assert series.values[-1] == 33_000 - 3_300 + 110_000 and sum(series.values[:-1]) == 0
    by_type = {s.label: s.values[-1] for s in charts.sales_by_buyer_type.series}
    assert by_type == {
        str(Organization.OrgType.COMPANY.label): 29_700,
        str(Organization.OrgType.RESEARCH.label): 110_000,
    }
    assert charts.downloads_by_dataset.series == []
    data = charts.as_json()
    assert data["sales-by-dataset"]["series"][0]["values"][-1] == 139_700


def test_months_are_korean_months():
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    # 2026-01-31 16:00 UTC is already 1 February in Seoul.
    assert selectors.month_of(datetime(2026, 1, 31, 16, 0, tzinfo=utc)) == date(2026, 2, 1)
    assert selectors.month_of(datetime(2026, 1, 31, 14, 59, tzinfo=utc)) == date(2026, 1, 1)
    start, end = selectors.month_bounds(date(2026, 12, 1))
    assert start.isoformat() == "2026-12-01T00:00:00+09:00" and end.isoformat() == "2027-01-01T00:00:00+09:00"
    assert selectors.previous_month(date(2026, 1, 1)) == date(2025, 12, 1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "month,korean,english",
    [
        ("0000-01", "2000년", "from 2000 on"),
        ("1999-12", "2000년", "from 2000 on"),
        ("9999-12", "앞으로 올 달", "in the future"),
        (f"{selectors.next_month(THIS):%Y-%m}", "앞으로 올 달", "in the future"),
    ],
)
def test_closing_a_month_out_of_range_is_a_form_error_not_a_500(admin_user, client, month, korean, english):
    client.force_login(admin_user)
    url = reverse("staff_statements:close")
    answer = client.post(url, {"month": month})
    assert answer.status_code == 200 and korean in answer.content.decode()
    client.cookies["django_language"] = "en"
    answer = client.post(url, {"month": month})
    assert answer.status_code == 200 and english in answer.content.decode()
    assert not ProviderStatement.objects.exists()


# --- pagination (bench/money.py: a busy provider books thousands of lines a month) ------------------------------------


@pytest.mark.django_db
def test_statement_lines_and_the_ledger_are_paginated_with_the_running_balance_of_every_entry(
    world, official, admin_user, client, monkeypatch
):
    """Five orders on one statement, two lines a page: the pages hold every line once in date order, the API says
    how many there are, and the admin's ledger shows the most recent entries with balances counting the earlier
    ones (the old pages listed every row: a year of a busy provider was 10 MB and 18 s)."""
    monkeypatch.setattr(selectors, "ROWS_PER_PAGE", 2)
    monkeypatch.setattr(selectors, "ENTRIES_PER_PAGE", 2)
    orders = [_order(world, [(0, 10_000 * (i + 1))]) for i in range(5)]
    for order in orders:
        ledger.record_payment(order=order, payment=None)
    (statement,) = [s for s in close(THIS) if s.organization_id == official.active_organization_id]
    client.force_login(official)
    url = reverse("statements:statement", args=[statement.pk])
    seen = []
    for number in (1, 2, 3):
        page = client.get(url, {"page": number}).content.decode()
        seen += [o.number for o in orders if o.number in page]
        assert page.count("data-ledger-transaction=") == (2 if number < 3 else 1)
    assert seen == [o.number for o in orders]
    assert "?page=2" in client.get(url).content.decode()
    api = client.get(f"/api/v1/provider/statements/{statement.pk}/", {"page": 3}).json()
    assert (api["transactions_count"], api["rows_page"], api["rows_pages"]) == (5, 3, 3)
    assert [r["order"] for r in api["rows"]] == [orders[4].number]
    assert sum(r.net_krw for r in selectors.statement_rows(statement)) == statement.net_krw  # the whole list still

    client.force_login(admin_user)
    ledger_url = reverse("staff_statements:ledger", args=[statement.organization_id])
    views = {v.account.kind: v for v in selectors.organization_ledger(statement.organization)}
    payable = views[K.PROVIDER_PAYABLE]
    assert payable.page.number == payable.page.paginator.num_pages == 3 and len(payable.entries) == 1
    assert payable.entries[-1][1] == payable.balance_krw == ledger.balance(payable.account) == -135_000
    first = selectors.organization_ledger(statement.organization, account_kind=K.PROVIDER_PAYABLE, page=1)
    (payable_first,) = [v for v in first if v.account.kind == K.PROVIDER_PAYABLE]
    entries = list(LedgerEntry.objects.filter(account=payable.account).order_by("transaction__created_at", "id"))
    assert [running for _e, running in payable_first.entries] == [
        entries[0].amount_krw,
        entries[0].amount_krw + entries[1].amount_krw,
    ]
    page = client.get(ledger_url, {"account": K.PROVIDER_PAYABLE, "page": 1}).content.decode()
    assert f"account={K.PROVIDER_PAYABLE}&amp;page=2" in page and 'data-matches="true"' in page
    api = client.get(f"/api/v1/admin/ledger/{statement.organization_id}/").json()
    (payable_api,) = [a for a in api["accounts"] if a["kind"] == K.PROVIDER_PAYABLE]
    assert (payable_api["entries_count"], payable_api["page"], payable_api["pages"]) == (5, 3, 3)
    assert payable_api["entries"][-1]["running_krw"] == payable_api["balance_krw"]
