"""Refunds (issue 15): rows, never an edited total. Card refunds go to the simulated PG through the real Toss adapter
over HTTP (the live server plays the PG's servers; a spy transport under the adapter's httpx client sees each cancel
as it leaves); bank refunds are confirmed by an admin. A refused cancel changes nothing, no lock is held across the
call, a refund left `transmitted` by a killed process is finished by the reconciliation with the same
Idempotency-Key, the ledger balances, buyers ask within the policy, two admins deciding at once make one decision,
and a refund ends access at once (a link made before answers 403)."""

import threading
from datetime import timedelta

import httpx
import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone, translation

from core.errors import DomainError, NotAllowed
from core.models import AuditEvent
from devtools.pg_simulator import views as simulator
from tests.conftest import make_user
from tests.transactions.conftest import offer_of, place_order, wait_for_download_records
from tests.transactions.test_payments import _park_package_builds, approve_at_pg, make_order, pg  # noqa: F401
from transactions import ledger
from transactions.delivery import services as delivery
from transactions.models import (
    DownloadEvent,
    Entitlement,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Package,
    Payment,
    PaymentEvent,
    Refund,
    RefundRequest,
)
from transactions.payments import services as payments
from transactions.payments.gateway import get_card_gateway
from transactions.payments.toss import TossGateway
from transactions.refunds import services
from transactions.tasks import build_package, refunds_reconcile_task

P, O, R, RQ = Payment.State, Order.State, Refund.State, RefundRequest.State
K = LedgerAccount.Kind
pytestmark = pytest.mark.django_db(transaction=True)


class SpyTransport(httpx.BaseTransport):
    """Real HTTP to the PG; runs ``before_cancel`` as a cancel request leaves and ``after_cancel`` once the PG
    answered (before the answer reaches the adapter)."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.before_cancel = None
        self.after_cancel = None

    def handle_request(self, request):
        cancel = request.method == "POST" and request.url.path.endswith("/cancel")
        if cancel and self.before_cancel is not None:
            self.before_cancel()
        response = self.inner.handle_request(request)
        if cancel and self.after_cancel is not None:
            response.read()
            self.after_cancel()
        return response

    def close(self):
        pass


@pytest.fixture
def spy(monkeypatch):
    transport = SpyTransport()
    original = TossGateway.__init__

    def init(self, **kwargs):
        kwargs.setdefault("transport", transport)
        original(self, **kwargs)

    monkeypatch.setattr(TossGateway, "__init__", init)
    yield transport
    transport.inner.close()


@pytest.fixture
def mails(monkeypatch):
    """The e-mails enqueued after commit: (subject, recipients)."""
    from core.tasks import send_email_task

    sent = []
    monkeypatch.setattr(
        send_email_task, "delay", lambda **kwargs: sent.append((kwargs["subject"], sorted(kwargs["to"])))
    )
    return sent


def pay_by_card(buyer, order):
    _, back = approve_at_pg(payments.card_checkout_start(actor=buyer, order=order))
    payments.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=int(back["amount"]))
    order.refresh_from_db()
    assert order.state == O.PAID
    return order.payments.get(state=P.DONE)


@pytest.fixture
def card_order(pg, buyer, draft):
    """A paid card order of two lines of 55,000 won (50,000 + VAT)."""
    order = make_order(buyer, draft, lines=2)
    pay_by_card(buyer, order)
    return order


def balance(kind, organization=None) -> int:
    return (
        LedgerEntry.objects.filter(account__kind=kind, account__organization=organization).aggregate(
            total=Sum("amount_krw")
        )["total"]
        or 0
    )


def assert_every_transaction_balances():
    for booked in LedgerTransaction.objects.all():
        assert sum(booked.entries.values_list("amount_krw", flat=True)) == 0, booked


# --- rows, states, card -------------------------------------------------------------------------------------


def test_a_full_card_refund_is_rows_cancels_at_the_pg_books_the_ledger_and_ends_access(
    card_order, admin_user, mails, buyer
):
    order = card_order
    payment = order.payments.get(state=P.DONE)
    refund = services.refund_create(actor=admin_user, order=order, reason="제공기관 요청으로 판매 철회")

    assert refund.state == R.DONE and refund.amount_krw == 110_000 and refund.source == Refund.Source.ADMIN
    assert sorted(refund.lines.values_list("amount_krw", flat=True)) == [55_000, 55_000]
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.state, payment.state, order.refunded_krw) == (O.REFUNDED, P.REFUNDED, 110_000)
    assert "refunded_krw" not in {f.name for f in Order._meta.concrete_fields}  # derived, never an edited column
    assert all(e.revoked_at is not None for e in Entitlement.objects.filter(order_item__order=order))

    # The Toss shape: a full cancel omits cancelAmount, carries the reason and the refund's own Idempotency-Key.
    (call,) = simulator.cancel_calls()
    assert call["paymentKey"] == payment.payment_key
    assert call["idempotencyKey"] == str(refund.idempotency_key)
    assert call["body"] == {"cancelReason": "제공기관 요청으로 판매 철회"}
    assert get_card_gateway().fetch(payment.payment_key).gateway_status == "CANCELED"

    # The ledger: a refund and its payment back per line; everything the payment booked is reversed.
    assert LedgerTransaction.objects.filter(order=order, kind="refund").count() == 2
    assert LedgerTransaction.objects.filter(order=order, kind="refund_paid").count() == 2
    assert set(refund.lines.values_list("ledger_transaction__kind", flat=True)) == {"refund"}
    assert_every_transaction_balances()
    seller = order.items.first().seller
    assert balance(K.CASH) == 0 and balance(K.COMMISSION) == 0
    assert balance(K.PROVIDER_PAYABLE, seller) == 0 and balance(K.PROVIDER_VAT, seller) == 0
    assert balance(K.REFUND_PAYABLE, order.buyer) == 0 and ledger.owed_to(seller) == 0

    actions = set(
        AuditEvent.objects.filter(object_type="refund", object_id=str(refund.pk)).values_list("action", flat=True)
    )
    assert actions == {"refund.created", "refund.transmitted", "refund.done"}
    assert AuditEvent.objects.filter(action="entitlement.revoked").count() == 2
    buyer_mail = next(to for _subject, to in mails if buyer.email in to)
    assert "billing@company.test" in buyer_mail and seller.contact_email not in buyer_mail
    assert any(seller.contact_email in to and buyer.email not in to for _subject, to in mails)  # the provider

    with pytest.raises(DomainError) as exc:  # nothing is left
        services.refund_create(actor=admin_user, order=order, reason="again")
    assert exc.value.code in ("order_not_refundable", "nothing_to_refund")


def test_a_partial_refund_per_line_ends_only_that_lines_entitlement(card_order, admin_user):
    order = card_order
    first, second = order.items.order_by("id")
    refund = services.refund_create(
        actor=admin_user, order=order, reason="한 항목 환불 + 일부 감액", lines={first.pk: 55_000, second.pk: 10_000}
    )
    assert refund.state == R.DONE and refund.amount_krw == 65_000
    (call,) = simulator.cancel_calls()
    assert call["body"] == {"cancelReason": "한 항목 환불 + 일부 감액", "cancelAmount": 65_000}
    order.refresh_from_db()
    assert (order.state, order.refunded_krw) == (O.PAID, 65_000)
    assert order.payments.get(pk=refund.payment_id).state == P.PARTIALLY_REFUNDED
    assert Entitlement.objects.get(order_item=first).revoked_at is not None
    assert Entitlement.objects.get(order_item=second).revoked_at is None  # a partial amount keeps the access
    assert get_card_gateway().fetch(refund.payment.payment_key).balance_amount == 45_000

    with pytest.raises(DomainError) as exc:  # more than what is left of the line
        services.refund_create(actor=admin_user, order=order, reason="too much", lines={second.pk: 45_001})
    assert exc.value.code == "refund_amount"
    with pytest.raises(DomainError):
        services.refund_create(actor=admin_user, order=order, reason="line gone", lines={first.pk: 1})

    rest = services.refund_create(actor=admin_user, order=order, reason="나머지")
    assert rest.amount_krw == 45_000 and list(rest.lines.values_list("order_item", flat=True)) == [second.pk]
    order.refresh_from_db()
    assert (order.state, order.refunded_krw) == (O.REFUNDED, 110_000)
    assert order.payments.get(pk=refund.payment_id).state == P.REFUNDED
    assert Entitlement.objects.get(order_item=second).revoked_at is not None
    assert_every_transaction_balances()
    assert balance(K.CASH) == 0 and ledger.refunded_on(second) == 55_000


def test_only_an_admin_refunds_and_a_reason_is_required(card_order, admin_user, buyer):
    with pytest.raises(NotAllowed):
        services.refund_create(actor=buyer, order=card_order, reason="나도 환불")
    with pytest.raises(DomainError) as exc:
        services.refund_create(actor=admin_user, order=card_order, reason="  ")
    assert exc.value.code == "reason_required"
    assert not Refund.objects.exists()


def test_a_cancel_the_pg_refuses_leaves_everything_as_it_was_and_says_why(card_order, admin_user):
    order = card_order
    payment = order.payments.get(state=P.DONE)
    get_card_gateway().cancel(payment.payment_key, None, "PG 관리자 화면에서 취소", "console-cancel")  # elsewhere
    ledger_before = LedgerTransaction.objects.count()

    with pytest.raises(DomainError) as exc:
        services.refund_create(actor=admin_user, order=order, reason="환불")
    assert exc.value.code == "refund_declined"
    with translation.override("ko"):
        assert "결제대행사가 환불을 거절했습니다" in str(exc.value.message)
        assert "이미 취소된 결제 입니다." in str(exc.value.message)
    with translation.override("en"):
        assert str(exc.value.message).startswith("The payment company refused the refund: 이미 취소된 결제 입니다.")

    refund = Refund.objects.get()
    assert (refund.state, refund.failure_code) == (R.FAILED, "ALREADY_CANCELED_PAYMENT")
    assert refund.failure_message == "이미 취소된 결제 입니다."
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.state, payment.state, order.refunded_krw) == (O.PAID, P.DONE, 0)
    assert LedgerTransaction.objects.count() == ledger_before
    assert not Entitlement.objects.filter(order_item__order=order, revoked_at__isnull=False).exists()
    # A failed refund holds nothing: the whole order may be refunded again (e.g. by bank transfer, outside).
    from transactions.refunds import policy  # noqa: PLC0415 - only this test reads it

    assert policy.committed(order.items.all()) == {}


def test_no_row_lock_or_transaction_is_held_while_the_pg_is_asked_to_cancel(card_order, admin_user, spy):
    order = card_order
    seen = {}

    def lock_now():
        with transaction.atomic():
            Order.objects.select_for_update(nowait=True).get(pk=order.pk)
            refund = Refund.objects.select_for_update(nowait=True).get(order=order)
            Payment.objects.select_for_update(nowait=True).get(order=order, state=P.DONE)
        return refund.state, refund.transmitted_at is not None

    def during_the_call():
        seen["in_transaction"] = connection.in_atomic_block
        seen["other_connection"] = in_other_connection(lock_now)

    spy.before_cancel = during_the_call
    refund = services.refund_create(actor=admin_user, order=order, reason="락 없이")
    assert refund.state == R.DONE
    assert seen == {"in_transaction": False, "other_connection": (R.TRANSMITTED, True)}


def in_other_connection(fn):
    box = {}

    def run():
        try:
            box["value"] = fn()
        except Exception as exc:  # noqa: BLE001 - returned to the caller
            box["value"] = exc
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(20)
    return box.get("value")


class Killed(BaseException):
    """The process dies (SIGKILL-like: nothing of ours catches it) after the PG did the cancel."""


def test_a_refund_left_transmitted_by_a_killed_process_is_finished_by_the_reconciliation(
    card_order, admin_user, spy, settings
):
    order = card_order
    payment = order.payments.get(state=P.DONE)

    def die():
        raise Killed()

    spy.after_cancel = die
    with pytest.raises(Killed):
        services.refund_create(
            actor=admin_user, order=order, reason="중간에 죽음", lines={order.items.first().pk: 55_000}
        )
    spy.after_cancel = None
    refund = Refund.objects.get()
    assert refund.state == R.TRANSMITTED and refund.transmitted_at is not None
    assert get_card_gateway().fetch(payment.payment_key).balance_amount == 55_000  # the PG did cancel
    assert not LedgerTransaction.objects.filter(kind="refund").exists()

    assert refunds_reconcile_task() == {}  # the lease is fresh: the request might still be alive
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS + 1)):
        assert refunds_reconcile_task() == {"done": 1}
        assert refunds_reconcile_task() == {}
    refund.refresh_from_db()
    assert refund.state == R.DONE
    calls = simulator.cancel_calls()
    assert len(calls) == 2 and {c["idempotencyKey"] for c in calls} == {str(refund.idempotency_key)}
    assert get_card_gateway().fetch(payment.payment_key).balance_amount == 55_000  # cancelled once, not twice
    assert LedgerTransaction.objects.filter(kind="refund").count() == 1
    assert_every_transaction_balances()
    order.refresh_from_db()
    assert (order.state, order.refunded_krw) == (O.PAID, 55_000)


def test_a_refund_the_pg_did_not_answer_stays_transmitted_and_is_finished_later(card_order, admin_user, settings):
    settings.PG_API_BASE = "http://127.0.0.1:9"  # nobody listens there
    with pytest.raises(DomainError) as exc:
        services.refund_create(actor=admin_user, order=card_order, reason="PG 장애")
    assert exc.value.code == "pg_unavailable"
    refund = Refund.objects.get()
    assert refund.state == R.TRANSMITTED and refund.transmitted_at is None  # the lease ended: ask again at once
    settings.PG_API_BASE = f"{pg_url(settings)}"
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS + 1)):
        assert refunds_reconcile_task() == {"done": 1}
    card_order.refresh_from_db()
    assert card_order.state == O.REFUNDED


def pg_url(settings):
    return settings.PG_CHECKOUT_URL.rsplit("/checkout/", 1)[0]


# --- bank transfer --------------------------------------------------------------------------------------------


def test_a_bank_transfer_refund_records_the_account_and_is_done_when_the_admin_confirms(
    pg, buyer, draft, admin_user, mails
):
    order = make_order(buyer, draft, method=Order.Method.BANK_TRANSFER)
    payment = payments.bank_transfer_start(actor=buyer, order=order)
    payments.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name="에어데이터랩")
    request = services.refund_request(
        actor=buyer,
        order=order,
        item_ids=[order.items.get().pk],
        kind=RefundRequest.Kind.CHANGE_OF_MIND,
        reason="잘못 주문했습니다",
        account={"bank": "KB국민은행", "number": "123-45-6789", "holder": "(주)에어데이터랩"},
    )
    refund = services.refund_request_approve(actor=admin_user, request=request)
    assert refund.state == R.CREATED and refund.source == Refund.Source.BUYER and refund.requested_by == buyer
    assert (refund.refund_bank, refund.refund_account_number) == ("KB국민은행", "123-45-6789")
    assert simulator.cancel_calls() == []  # no gateway for bank transfers
    assert Entitlement.objects.get(order_item__order=order).revoked_at is None  # not until the money is back

    with pytest.raises(DomainError):
        services.refund_bank_confirm(actor=admin_user, refund=refund, bank="", account_number="", holder="")
    done = services.refund_bank_confirm(
        actor=admin_user,
        refund=refund,
        bank="KB국민은행",
        account_number="123-45-6789",
        holder="(주)에어데이터랩",
        reference="이체 20250101-01",
    )
    assert done.state == R.DONE and done.confirmed_by == admin_user and done.transfer_reference == "이체 20250101-01"
    assert (
        services.refund_bank_confirm(
            actor=admin_user, refund=refund, bank="x", account_number="y", holder="z"
        ).transfer_reference
        == "이체 20250101-01"
    )  # twice: once only
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.state, payment.state, order.refunded_krw) == (O.REFUNDED, P.REFUNDED, 55_000)
    assert Entitlement.objects.get(order_item__order=order).revoked_at is not None
    assert_every_transaction_balances()
    assert balance(K.CASH) == 0 and balance(K.REFUND_PAYABLE, order.buyer) == 0
    assert any(buyer.email in to for _subject, to in mails)


# --- the buyer's request and the policy ---------------------------------------------------------------------


def _ask(buyer, order, kind=RefundRequest.Kind.CHANGE_OF_MIND, items=None):
    return services.refund_request(
        actor=buyer, order=order, item_ids=items or [order.items.first().pk], kind=kind, reason="필요 없어졌습니다"
    )


def test_a_buyer_asks_within_the_policy_and_is_refused_outside_it(card_order, buyer, outsider, admin_user):
    order = card_order
    first, second = order.items.order_by("id")
    with pytest.raises(NotAllowed):
        _ask(outsider, order)

    # Downloaded: withdrawal is over for that line (전자상거래법 제17조②5), "not as described" is still possible.
    package = Package.objects.filter(entitlement__order_item=second).first()
    DownloadEvent.objects.create(package=package, organization=order.buyer, user=buyer, status=200, via="stream")
    with pytest.raises(DomainError) as exc:
        _ask(buyer, order, items=[second.pk])
    assert exc.value.code == "outside_policy"

    with time_machine.travel(order.paid_at + timedelta(days=8)):
        with pytest.raises(DomainError) as exc:
            _ask(buyer, order)  # 7 days are over
        assert exc.value.code == "outside_policy"
        request = _ask(buyer, order, kind=RefundRequest.Kind.NOT_AS_DESCRIBED, items=[first.pk, second.pk])
    assert request.state == RQ.REQUESTED and set(request.items.all()) == {first, second}
    with pytest.raises(DomainError) as exc:  # one open request at a time
        _ask(buyer, order)
    assert exc.value.code == "request_open"
    services.refund_request_refuse(actor=admin_user, request=request, reason="자료 설명과 일치함을 확인했습니다")

    with time_machine.travel(order.paid_at + timedelta(days=91)):
        with pytest.raises(DomainError) as exc:
            _ask(buyer, order, kind=RefundRequest.Kind.NOT_AS_DESCRIBED)
        assert exc.value.code == "outside_policy"

    inside = _ask(buyer, order)  # within 7 days, not downloaded
    assert inside.kind == RefundRequest.Kind.CHANGE_OF_MIND


def test_refusing_needs_a_reason_and_tells_the_buyer(card_order, buyer, admin_user, mails):
    request = _ask(buyer, card_order)
    with pytest.raises(DomainError):
        services.refund_request_refuse(actor=admin_user, request=request, reason="")
    with pytest.raises(NotAllowed):
        services.refund_request_refuse(actor=buyer, request=request, reason="스스로 거절")
    services.refund_request_refuse(actor=admin_user, request=request, reason="이미 내려받은 자료입니다")
    request.refresh_from_db()
    assert (request.state, request.decided_by, request.decision_reason) == (
        RQ.REFUSED,
        admin_user,
        "이미 내려받은 자료입니다",
    )
    assert not Refund.objects.exists()
    assert any("거절" in subject and buyer.email in to for subject, to in mails)


@pytest.mark.parametrize("second", ["approve", "refuse"])
def test_two_admins_deciding_at_once_make_one_decision(card_order, buyer, admin_user, second):
    request = _ask(buyer, card_order)
    other = make_user("admin2@test.example", name="관리자2", staff=True)
    barrier = threading.Barrier(2)
    results = {}

    def decide(name, admin, how):
        try:
            barrier.wait(10)
            if how == "approve":
                results[name] = services.refund_request_approve(actor=admin, request=request).state
            else:
                results[name] = services.refund_request_refuse(actor=admin, request=request, reason="거절").state
        except DomainError as exc:
            results[name] = exc.code
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=("a", admin_user, "approve")),
        threading.Thread(target=decide, args=("b", other, second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results.values()).count("request_decided") == 1, results
    request.refresh_from_db()
    assert request.state in (RQ.APPROVED, RQ.REFUSED)
    expected = 1 if request.state == RQ.APPROVED else 0
    assert Refund.objects.count() == expected and len(simulator.cancel_calls()) == expected


# --- a refund ends access at once -------------------------------------------------------------------------------


def test_a_refund_ends_access_at_once_even_with_a_link_made_before(pg, client, buyer, publish, admin_user):
    dataset = publish(
        data_kind="private",
        licence="cc-by-nc-4.0",
        offers=({"kind": "one_off", "price_krw": 30_000, "contract_type": "provision"},),
    )
    order = place_order(buyer, offer_of(dataset, "one_off"), method="card")
    pay_by_card(buyer, order)
    package = Package.objects.get(entitlement__order_item__order=order)
    assert build_package.apply(args=[package.pk]).get() == "ready"
    link = delivery.download_link(user=buyer, package=package)

    client.force_login(buyer)
    before = client.get(link)
    assert before.status_code == 200
    b"".join(before.streaming_content)
    before.close()
    wait_for_download_records()

    refund = services.refund_create(actor=admin_user, order=order, reason="제공 중단")
    assert refund.state == R.DONE
    after = client.get(link)  # the same link, made before the refund
    assert after.status_code == 403
    assert client.get(link, HTTP_RANGE="bytes=0-9").status_code == 403
    client.logout()
    assert client.get(link).status_code == 403  # anyone holding the link
    with pytest.raises(NotAllowed):
        delivery.download_link(user=buyer, package=package)  # and no new link
    assert DownloadEvent.objects.filter(package=package).count() == 1


# --- pages --------------------------------------------------------------------------------------------------


def test_the_pages_request_decide_and_show_the_history(card_order, client, buyer, admin_user, outsider):
    order = card_order
    policy_page = client.get(reverse("transactions:refund_policy"))
    assert policy_page.status_code == 200 and "7일" in policy_page.content.decode()

    client.force_login(buyer)
    page = client.get(reverse("transactions:order", args=[order.number])).content.decode()
    assert 'id="refund-request-form"' in page and reverse("transactions:refund_policy") in page
    first = order.items.order_by("id").first()
    answer = client.post(
        reverse("transactions:refund_request", args=[order.number]),
        {"items": [first.pk], "kind": "change_of_mind", "reason": "주문 실수"},
    )
    assert answer.status_code == 302
    request = RefundRequest.objects.get()
    page = client.get(reverse("transactions:order", args=[order.number])).content.decode()
    assert 'id="refund-request-waiting"' in page and 'id="refund-request-form"' not in page
    assert client.get(reverse("staff_refunds:queue")).status_code in (302, 403)
    assert client.post(reverse("staff_refunds:approve", args=[request.pk])).status_code in (302, 403)
    request.refresh_from_db()
    assert request.state == RQ.REQUESTED

    client.force_login(admin_user)
    queue = client.get(reverse("staff_refunds:queue")).content.decode()
    assert f'id="staff-request-{request.pk}"' in queue and "주문 실수" in queue
    assert client.post(reverse("staff_refunds:approve", args=[request.pk]), {"reason": ""}).status_code == 302
    request.refresh_from_db()
    assert request.state == RQ.APPROVED and request.refund.state == R.DONE
    staff_page = client.get(reverse("staff_orders:detail", args=[order.number])).content.decode()
    assert f'id="staff-refund-{request.refund.pk}"' in staff_page and 'id="staff-refund-form"' in staff_page
    answer = client.post(
        reverse("staff_refunds:create", args=[order.number]),
        {f"line_{order.items.order_by('id').last().pk}": "5000", "reason": "부분 감액"},
    )
    assert answer.status_code == 302
    order.refresh_from_db()
    assert order.refunded_krw == 60_000

    client.force_login(buyer)
    page = client.get(reverse("transactions:order", args=[order.number])).content.decode()
    assert page.count('data-refund-state="done"') == 2 and "부분 감액" in page
    client.force_login(outsider)
    assert client.post(
        reverse("transactions:refund_request", args=[order.number]),
        {"items": [first.pk], "kind": "change_of_mind", "reason": "x"},
    ).status_code in (302, 403, 404)
    assert RefundRequest.objects.count() == 1


# --- no promise without a way ------------------------------------------------------------------------------------


def test_money_the_pg_took_with_a_wrong_amount_is_cancelled_there_instead_of_a_promise(buyer, draft, monkeypatch):
    """The PG's servers are mocked (httpx.MockTransport under the real Toss adapter): the confirm answers DONE for
    another amount. The payment is refused and the money voided at the PG at once (it used to say "we will refund it"
    and nothing could)."""
    import json  # noqa: PLC0415 - only this test builds PG answers

    order = make_order(buyer, draft)
    payments.card_checkout_start(actor=buyer, order=order)
    seen = []

    def pg_servers(request):
        body = json.loads(request.content or b"{}")
        seen.append((request.url.path, body, request.headers.get("Idempotency-Key")))
        payment = {
            "paymentKey": "tsim-mismatch-1",
            "orderId": order.number,
            "status": "DONE",
            "totalAmount": 50_000,
            "balanceAmount": 50_000,
            "approvedAt": "2025-01-01T10:00:00+09:00",
        }
        if request.url.path.endswith("/cancel"):
            payment |= {"status": "CANCELED", "balanceAmount": 0}
        return httpx.Response(200, json=payment)

    original = TossGateway.__init__

    def init(self, **kwargs):
        kwargs.setdefault("transport", httpx.MockTransport(pg_servers))
        original(self, **kwargs)

    monkeypatch.setattr(TossGateway, "__init__", init)
    with pytest.raises(DomainError) as exc:
        payments.card_payment_confirm(order_number=order.number, payment_key="tsim-mismatch-1", amount=55_000)
    with translation.override("ko"):
        assert "결제대행사에서 결제를 취소하고 있습니다" in str(exc.value.message)
    with translation.override("en"):
        assert "refund it" not in str(exc.value.message)
    paths = [path.split("/v1/", 1)[1] for path, _body, _key in seen]
    assert paths == ["payments/confirm", "payments/tsim-mismatch-1/cancel"]
    assert "cancelAmount" not in seen[1][1] and seen[1][2]  # the whole payment, with an Idempotency-Key
    payment = Payment.objects.get(payment_key="tsim-mismatch-1")
    order.refresh_from_db()
    assert (payment.state, payment.failure_code, order.state) == (P.FAILED, "AMOUNT_MISMATCH", O.AWAITING_PAYMENT)
    assert PaymentEvent.objects.filter(payment=payment, kind="voided").exists()
