"""The data voucher (데이터바우처): a buyer organization's owner registers it, a platform admin verifies it; at checkout
it pays at most (100 − own share) % of the eligible lines and at most its balance (rounded down to the won), the
buyer pays the rest by card or bank transfer; a cancelled order gives the amount back; the ledger books the
voucher part as due from the agency, and the admin's settlement moves it to cash; two checkouts at once never take
the balance below zero; another organization can neither see nor use the voucher."""

import threading
import uuid
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone, translation

from accounts.models import Membership, User
from core.errors import DomainError, NotAllowed
from core.models import AuditEvent
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, publish_dataset
from tests.transactions.test_payments import approve_at_pg, pg  # noqa: F401 (pg: the simulated PG fixture)
from transactions import ledger, selectors
from transactions.models import LedgerEntry, LedgerTransaction, Order, Voucher, VoucherUse
from transactions.payments import services as payments
from transactions.services import cart as cart_services
from transactions.services import orders as order_services
from transactions.vouchers import services as vouchers

ELIGIBLE = {
    "kind": "one_off",
    "price_krw": 30_000,
    "cost_basis": "파일 가공·전송 비용 (건당)",
    "voucher_eligible": True,
}
NOT_ELIGIBLE = {"kind": "one_off", "price_krw": 30_000, "cost_basis": "파일 가공·전송 비용 (건당)"}
TODAY = date.today


def owner_of(user) -> User:
    return Membership.objects.get(organization=user.active_organization, role="owner").user


def verified_voucher(buyer, admin, *, granted=1_000_000, copay=20, number="2025-DV-0001") -> Voucher:
    voucher = vouchers.voucher_register(
        actor=owner_of(buyer),
        organization=buyer.active_organization,
        agreement_number=number,
        granted_krw=granted,
        starts_on=TODAY() - timedelta(days=30),
        ends_on=TODAY() + timedelta(days=300),
        copay_percent=copay,
    )
    return vouchers.voucher_verify(actor=admin, voucher=voucher)


def checkout(user, *offers, voucher=None, method="card", expected_voucher=None, token=None):
    organization = user.active_organization
    for offer in offers:
        cart_services.cart_add(actor=user, organization=organization, offer=offer)
    lines = selectors.cart_lines(selectors.cart_get(user, organization), organization)
    return order_services.checkout_place(
        actor=user,
        organization=organization,
        checkout_token=token or uuid.uuid4(),
        method=method,
        billing=order_services.billing_defaults(organization),
        accepted={line.offer.pk: line.licence_sha256 for line in lines},
        expected_total_krw=selectors.lines_total(lines).total_krw,
        voucher_id=voucher.pk if voucher else None,
        expected_voucher_krw=expected_voucher,
    )


@pytest.fixture
def eligible(official, admin_user, reference_data):
    """One dataset with a voucher-eligible one-off (30,000 won + 10 % VAT = 33,000) and one with a plain one-off."""
    return publish_dataset(official, admin_user, offers=(ELIGIBLE,))


@pytest.fixture
def plain(official, admin_user, reference_data):
    return publish_dataset(official, admin_user, title_ko="교통량 자료", title_en="Traffic", offers=(NOT_ELIGIBLE,))


# --- the split and its rounding ------------------------------------------------------------------------------


def test_the_voucher_pays_at_most_its_share_of_the_eligible_lines_rounded_down_and_at_most_its_balance():
    split = vouchers.voucher_split
    assert split(lines=[(33_000, True)], copay_percent=20, balance_krw=10**9) == [26_400]
    # 33,333 × 75 % = 24,999.75 → 24,999: the buyer's own share is never below the co-payment.
    assert split(lines=[(33_333, True)], copay_percent=25, balance_krw=10**9) == [24_999]
    # Not-eligible lines get nothing; eligible ones share in proportion, cumulatively rounded: they add up exactly.
    shares = split(lines=[(10_001, True), (5_000, False), (20_002, True)], copay_percent=20, balance_krw=10**9)
    assert shares == [8_000, 0, 16_002] and sum(shares) == 30_003 * 80 // 100
    # The balance caps it.
    shares = split(lines=[(10_001, True), (5_000, False), (20_002, True)], copay_percent=20, balance_krw=5_000)
    assert shares == [1_666, 0, 3_334] and sum(shares) == 5_000
    # Nothing eligible, or nothing left: nothing.
    assert split(lines=[(33_000, False)], copay_percent=20, balance_krw=10**9) == [0]
    assert split(lines=[(33_000, True)], copay_percent=20, balance_krw=0) == [0]
    # Even a 1 % co-payment leaves the buyer something to pay, and no line gets more than its total.
    for total in (1, 2, 99, 100, 101, 12_345):
        (share,) = split(lines=[(total, True)], copay_percent=1, balance_krw=10**9)
        assert 0 <= share < total


# --- registration and verification --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_owner_registers_a_platform_admin_verifies_and_the_rules_hold(buyer, admin_user, settings):
    owner = owner_of(buyer)
    organization = buyer.active_organization
    period = {"starts_on": TODAY(), "ends_on": TODAY() + timedelta(days=90)}
    with pytest.raises(NotAllowed):  # a buyer, not an owner
        vouchers.voucher_register(
            actor=buyer, organization=organization, agreement_number="A-1", granted_krw=10_000_000, **period
        )
    settings.VOUCHER_COPAY_PERCENT_MIN, settings.VOUCHER_COPAY_PERCENT_MAX = 10, 30
    with pytest.raises(DomainError) as exc:
        vouchers.voucher_register(
            actor=owner, organization=organization, agreement_number="A-1", granted_krw=1, copay_percent=5, **period
        )
    assert exc.value.code == "voucher_copay"
    with pytest.raises(DomainError) as exc:
        vouchers.voucher_register(
            actor=owner,
            organization=organization,
            agreement_number="A-1",
            granted_krw=1,
            starts_on=TODAY(),
            ends_on=TODAY() - timedelta(days=1),
        )
    assert exc.value.code == "voucher_period"
    settings.VOUCHER_COPAY_PERCENT_DEFAULT = 25
    voucher = vouchers.voucher_register(
        actor=owner, organization=organization, agreement_number=" A-1 ", granted_krw=10_000_000, **period
    )
    assert (voucher.state, voucher.copay_percent, voucher.agreement_number, voucher.balance_krw) == (
        "registered",
        25,
        "A-1",
        10_000_000,
    )
    with pytest.raises(DomainError) as exc:
        vouchers.voucher_register(
            actor=owner, organization=organization, agreement_number="A-1", granted_krw=5, **period
        )
    assert exc.value.code == "voucher_duplicate"
    with pytest.raises(NotAllowed):
        vouchers.voucher_verify(actor=owner, voucher=voucher)
    with pytest.raises(DomainError):
        vouchers.voucher_reject(actor=admin_user, voucher=voucher, reason=" ")
    vouchers.voucher_verify(actor=admin_user, voucher=voucher)
    voucher.refresh_from_db()
    assert (voucher.state, voucher.decided_by) == ("verified", admin_user)
    assert AuditEvent.objects.filter(action="voucher.verified", organization=organization).exists()


@pytest.mark.django_db
def test_the_registration_page_is_for_the_organizations_owner_and_invisible_to_others(login, buyer, admin_user, client):
    owner = owner_of(buyer)
    url = reverse("vouchers:mine")
    page = login(owner).get(url)
    assert page.status_code == 200 and 'id="voucher-register-form"' in page.content.decode()
    response = client.post(
        url,
        {
            "agreement_number": "2025-DV-77",
            "granted_krw": "10000000",
            "starts_on": TODAY().isoformat(),
            "ends_on": (TODAY() + timedelta(days=60)).isoformat(),
            "copay_percent": "20",
        },
    )
    assert response.status_code == 302
    voucher = Voucher.objects.get(agreement_number="2025-DV-77")
    assert voucher.organization == buyer.active_organization and voucher.state == "registered"
    # A buyer of the organization sees it, without the form, and cannot register.
    html = login(buyer).get(url).content.decode()
    assert "2025-DV-77" in html and 'id="voucher-register-form"' not in html
    assert client.post(url, {"agreement_number": "X"}).status_code == 403
    # Another company does not see it.
    other_owner = make_user("owner@other.test", name="이도윤")
    make_org(other_owner, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2208139938")
    assert "2025-DV-77" not in login(other_owner).get(url).content.decode()
    # The admin verifies it on the staff page.
    staff = login(admin_user)
    assert "2025-DV-77" in staff.get(reverse("staff_vouchers:list")).content.decode()
    assert staff.post(reverse("staff_vouchers:verify", args=[voucher.pk])).status_code == 302
    voucher.refresh_from_db()
    assert voucher.state == "verified"
    assert login(buyer).get(reverse("staff_vouchers:list")).status_code == 403


# --- checkout -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_checkout_splits_the_total_and_reserves_the_voucher_amount(buyer, admin_user, eligible, plain):
    voucher = verified_voucher(buyer, admin_user, copay=20)
    order = checkout(
        buyer, offer_of(eligible, "one_off"), offer_of(plain, "one_off"), voucher=voucher, expected_voucher=26_400
    )
    assert (order.total_krw, order.voucher_krw, order.due_krw) == (66_000, 26_400, 39_600)
    by_title = {item.dataset_id: item.voucher_krw for item in order.items.all()}
    assert by_title == {eligible.pk: 26_400, plain.pk: 0}
    voucher.refresh_from_db()
    assert voucher.used_krw == 26_400 and voucher.balance_krw == 1_000_000 - 26_400
    use = VoucherUse.objects.get(order=order)
    assert (use.voucher, use.amount_krw, use.released_at) == (voucher, 26_400, None)


@pytest.mark.django_db
def test_checkout_refuses_a_changed_part_an_unverified_voucher_or_nothing_eligible(buyer, admin_user, eligible, plain):
    voucher = verified_voucher(buyer, admin_user, granted=10_000)
    with pytest.raises(DomainError) as exc:  # the page showed 26,400 but the balance is 10,000 now
        checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher, expected_voucher=26_400)
    assert exc.value.code == "voucher_changed"
    cart_services.cart_remove(
        actor=buyer, organization=buyer.active_organization, offer_id=offer_of(eligible, "one_off").pk
    )
    with pytest.raises(DomainError) as exc:  # only a dataset the provider did not mark
        checkout(buyer, offer_of(plain, "one_off"), voucher=voucher)
    assert exc.value.code == "voucher_nothing"
    pending = vouchers.voucher_register(
        actor=owner_of(buyer),
        organization=buyer.active_organization,
        agreement_number="PENDING-1",
        granted_krw=100_000,
        starts_on=TODAY(),
        ends_on=TODAY() + timedelta(days=5),
    )
    with pytest.raises(DomainError) as exc:
        checkout(buyer, voucher=pending)
    assert exc.value.code == "voucher_not_verified"
    assert not Order.objects.exists() and Voucher.objects.get(pk=voucher.pk).used_krw == 0


@pytest.mark.django_db
def test_another_organization_cannot_use_the_voucher(buyer, admin_user, eligible):
    voucher = verified_voucher(buyer, admin_user)
    other_owner = make_user("owner@other.test", name="이도윤")
    make_org(other_owner, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2208139938")
    with pytest.raises(DomainError) as exc:
        checkout(other_owner, offer_of(eligible, "one_off"), voucher=voucher)
    assert exc.value.code == "voucher_unknown"
    assert Voucher.objects.get(pk=voucher.pk).used_krw == 0 and not Order.objects.exists()


@pytest.mark.django_db
def test_a_voucher_out_of_its_period_is_refused(buyer, admin_user, eligible):
    voucher = verified_voucher(buyer, admin_user)
    Voucher.objects.filter(pk=voucher.pk).update(ends_on=TODAY() - timedelta(days=1))
    with pytest.raises(DomainError) as exc:
        checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher)
    assert exc.value.code == "voucher_out_of_period"


@pytest.mark.django_db
def test_the_checkout_page_offers_the_voucher_and_the_order_page_shows_both_parts(login, buyer, admin_user, eligible):
    voucher = verified_voucher(buyer, admin_user)
    client = login(buyer)
    cart_services.cart_add(actor=buyer, organization=buyer.active_organization, offer=offer_of(eligible, "one_off"))
    html = client.get(reverse("transactions:checkout")).content.decode()
    assert f'value="{voucher.pk}:26400"' in html and "26,400" in html and "6,600" in html
    organization = buyer.active_organization
    lines = selectors.cart_lines(selectors.cart_get(buyer, organization), organization)
    response = client.post(
        reverse("transactions:checkout"),
        {
            "checkout_token": str(uuid.uuid4()),
            "expected_total_krw": "33000",
            "method": "bank_transfer",
            "voucher": f"{voucher.pk}:26400",
            "accept": [f"{line.offer.pk}:{line.licence_sha256}" for line in lines],
            **order_services.billing_defaults(organization),
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    order = Order.objects.get()
    assert (order.voucher_krw, order.due_krw, order.method) == (26_400, 6_600, "bank_transfer")
    page = client.get(reverse("transactions:order", args=[order.number])).content.decode()
    section = page.split('id="order-voucher"')[1]
    assert "26,400" in section and "6,600" in section
    assert "6,600" in page.split('id="bank-details"')[1].split("</dl>")[0]  # the transfer asked is the own part


# --- payment, cancellation, ledger, settlement ----------------------------------------------------------------


@pytest.mark.django_db
def test_cancelling_gives_the_amount_back_to_the_voucher(buyer, admin_user, eligible):
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher)
    order_services.order_cancel(actor=buyer, order=order)
    voucher.refresh_from_db()
    use = VoucherUse.objects.get(order=order)
    assert voucher.used_krw == 0 and use.released_at is not None
    order_services.order_cancel(actor=buyer, order=order)  # again: nothing more comes back
    assert Voucher.objects.get(pk=voucher.pk).used_krw == 0


@pytest.mark.django_db
def test_an_overdue_order_gives_the_amount_back(buyer, admin_user, eligible):
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher)
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert order_services.orders_cancel_overdue() == 1
    assert Voucher.objects.get(pk=voucher.pk).used_krw == 0
    assert Order.objects.get(pk=order.pk).state == "cancelled"


def _entries(booked):
    totals = {}
    for e in booked.entries.select_related("account"):
        totals[e.account.kind] = totals.get(e.account.kind, 0) + e.amount_krw
    return totals


@pytest.mark.django_db
def test_the_bank_transfer_is_the_own_part_and_the_ledger_books_the_voucher_as_due_then_settled(
    login, buyer, admin_user, eligible, settings
):
    settings.PLATFORM_COMMISSION_PERCENT = 10
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher, method="bank_transfer")
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    assert payment.amount_krw == 6_600
    with pytest.raises(DomainError) as exc:  # the whole total is not what the buyer owes
        payments.bank_transfer_confirm(
            actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=33_000
        )
    assert exc.value.code == "amount_mismatch"
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=6_600)
    booked = LedgerTransaction.objects.get(kind="payment")
    assert _entries(booked) == {
        "cash": 6_600,
        "voucher_receivable": 26_400,
        "provider_payable": -27_000,
        "commission": -3_000,
        "provider_vat": -3_000,
    }
    item = order.items.get()
    assert booked.entries.get(account__kind="voucher_receivable").order_item == item
    assert ledger.voucher_outstanding_on(item) == 26_400

    # The admin records the agency's payment: a wrong amount is refused, the right one is booked per line.
    with pytest.raises(DomainError) as exc:
        vouchers.voucher_settle(
            actor=admin_user, voucher=voucher, orders=[order], paid_on=TODAY(), reference="KDATA-1", amount_krw=26_000
        )
    assert exc.value.code == "settlement_amount"
    with pytest.raises(NotAllowed):
        vouchers.voucher_settle(
            actor=buyer, voucher=voucher, orders=[order], paid_on=TODAY(), reference="KDATA-1", amount_krw=26_400
        )
    client = login(admin_user)
    response = client.post(
        reverse("staff_vouchers:settle", args=[voucher.pk]),
        {"paid_on": TODAY().isoformat(), "reference": "KDATA-2025-0042", "amount_krw": "26400", "orders": [order.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    settled = LedgerTransaction.objects.get(kind="voucher_settlement")
    assert {(e.account.kind, e.amount_krw, e.order_item_id) for e in settled.entries.select_related("account")} == {
        ("cash", 26_400, item.pk),
        ("voucher_receivable", -26_400, item.pk),
    }
    assert settled.order == order and ledger.voucher_outstanding_on(item) == 0
    assert ledger.balance(ledger.account("voucher_receivable")) == 0
    assert ledger.balance(ledger.account("cash")) == 33_000
    with pytest.raises(DomainError):  # never twice
        vouchers.voucher_settle(
            actor=admin_user, voucher=voucher, orders=[order], paid_on=TODAY(), reference="again", amount_krw=26_400
        )
    # Settled is visible on the order, to the staff and to the buyer.
    staff_page = client.get(reverse("staff_orders:detail", args=[order.number])).content.decode()
    assert "KDATA-2025-0042" in staff_page.split('id="order-voucher"')[1]
    buyer_page = login(buyer).get(reverse("transactions:order", args=[order.number])).content.decode()
    assert "KDATA-2025-0042" in buyer_page.split('id="order-voucher-status"')[1].split("</p>")[0]
    detail = login(admin_user).get(reverse("staff_vouchers:detail", args=[voucher.pk])).content.decode()
    assert order.number in detail and "KDATA-2025-0042" in detail


@pytest.mark.django_db
def test_the_database_refuses_a_balance_below_zero_and_a_voucher_paying_a_whole_order(buyer, admin_user, eligible):
    voucher = verified_voucher(buyer, admin_user, granted=1_000)
    with pytest.raises(IntegrityError), transaction.atomic():
        Voucher.objects.filter(pk=voucher.pk).update(used_krw=1_001)
    order = checkout(buyer, offer_of(eligible, "one_off"))
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(voucher_krw=order.total_krw)


# --- the race -------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_checkouts_at_once_cannot_take_the_balance_below_zero(buyer, admin_user, official, eligible):
    """Two buyers of one company check out two datasets at the same moment with a voucher that covers one order
    and a bit: the voucher row lock makes the second see what the first took; the balance ends at exactly zero.
    (Two datasets: one offer waiting for payment in two orders of one company is refused on its own.)"""
    other = publish_dataset(official, admin_user, title_ko="대기질 예보 자료", title_en="Forecast", offers=(ELIGIBLE,))
    voucher = verified_voucher(buyer, admin_user, granted=30_000)
    owner = owner_of(buyer)
    owner.active_organization = buyer.active_organization
    carts = []
    for user, dataset in ((buyer, eligible), (owner, other)):
        organization = user.active_organization
        cart_services.cart_add(actor=user, organization=organization, offer=offer_of(dataset, "one_off"))
        lines = selectors.cart_lines(selectors.cart_get(user, organization), organization)
        carts.append((user, {line.offer.pk: line.licence_sha256 for line in lines}))
    barrier = threading.Barrier(2)
    results, errors = [], []

    def place(user, accepted):
        try:
            barrier.wait(timeout=10)
            results.append(
                order_services.checkout_place(
                    actor=user,
                    organization=user.active_organization,
                    checkout_token=uuid.uuid4(),
                    method="card",
                    billing=order_services.billing_defaults(user.active_organization),
                    accepted=accepted,
                    voucher_id=voucher.pk,
                )
            )
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=cart) for cart in carts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    voucher.refresh_from_db()
    parts = sorted(order.voucher_krw for order in results)
    assert parts == [3_600, 26_400]  # 80 % of 33,000 for the first, what was left for the second
    assert (
        voucher.used_krw
        == 30_000
        == sum(VoucherUse.objects.filter(voucher=voucher).values_list("amount_krw", flat=True))
    )
    assert voucher.balance_krw == 0


# --- card payment of the own part, with the simulated PG ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_card_payment_sends_only_the_own_part_to_the_pg(
    pg, client, buyer, admin_user, eligible, parked_package_builds
):
    voucher = verified_voucher(buyer, admin_user)
    order = checkout(buyer, offer_of(eligible, "one_off"), voucher=voucher)
    url = payments.card_checkout_start(actor=buyer, order=order)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["amount"] == "6600"
    # A return claiming the whole total is refused before the PG is asked.
    with pytest.raises(DomainError) as exc:
        payments.card_payment_confirm(order_number=order.number, payment_key="tampered-key", amount=33_000)
    assert exc.value.code == "amount_mismatch"
    location, back = approve_at_pg(url)
    assert back["amount"] == "6600"
    client.force_login(buyer)
    response = client.get(location.split(pg.url, 1)[1])
    assert response.status_code == 302
    order.refresh_from_db()
    payment = order.payments.get()
    assert (order.state, payment.state, payment.amount_krw) == ("paid", "done", 6_600)
    assert LedgerEntry.objects.filter(account__kind="cash").get().amount_krw == 6_600
    assert LedgerEntry.objects.filter(account__kind="voucher_receivable").get().amount_krw == 26_400


@pytest.mark.django_db(transaction=True)
def test_two_owners_registering_one_agreement_number_at_once_get_one_voucher_and_a_clear_refusal(buyer, monkeypatch):
    """Both pass the duplicate check before either inserts (a barrier in front of the insert makes sure): the second
    insert waits for the first, breaks the partial unique constraint and is told in both languages, not a 500. The
    two spellings are one number once normalised (trimmed, spaces collapsed, upper-case)."""
    other_owner = make_user("owner@other.test", name="이도윤")
    make_org(other_owner, name_ko="(주)다른회사", name_en="Other", kind="consumer", brn="2208139938")
    owners = [owner_of(buyer), other_owner]
    barrier = threading.Barrier(2)
    create = Voucher.objects.create

    def create_after_both_checked(**fields):
        barrier.wait(timeout=10)
        return create(**fields)

    monkeypatch.setattr(Voucher.objects, "create", create_after_both_checked)
    results, errors = [], []

    def register(owner, number):
        try:
            results.append(
                vouchers.voucher_register(
                    actor=owner,
                    organization=owner.active_organization,
                    agreement_number=number,
                    granted_krw=1_000_000,
                    starts_on=TODAY(),
                    ends_on=TODAY() + timedelta(days=90),
                )
            )
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=register, args=(owner, number))
        for owner, number in zip(owners, (" 2025-dv   0009 ", "2025-DV 0009"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    (refused,) = errors
    assert isinstance(refused, DomainError) and refused.code == "voucher_duplicate", refused
    with translation.override("ko"):
        assert "이미 등록된 협약번호" in str(refused.message)
    with translation.override("en"):
        assert "already registered" in str(refused.message)
    assert list(Voucher.objects.values_list("agreement_number", flat=True)) == ["2025-DV 0009"]


@pytest.mark.django_db
def test_the_staff_voucher_filter_is_labelled_in_korean(login, admin_user):
    page = login(admin_user).get(reverse("staff_vouchers:list")).content.decode()
    assert 'aria-label="상태로 거르기"' in page
