"""Card confirmation without a lock across the network (issue 12): the order and payment rows are free while
the PG is asked, concurrent confirmations do not queue behind one PG call, and the reconciliation task
finishes what no request finished (PG unreachable, a request that died, an authorisation never confirmed)
or cancels at the PG what an order can no longer take.

The PG's servers are the simulator on the live server, behind the real Toss adapter; the only addition is a
spy transport under the adapter's httpx client that sees each request before it leaves (to act "during the
network call") and records the Idempotency-Keys."""

import threading
import time

import httpx
import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from core.models import AuditEvent
from devtools.pg_simulator import views as simulator
from tests.transactions.test_payments import _park_package_builds, approve_at_pg, kinds, order, pg  # noqa: F401
from transactions.models import Entitlement, Order, Payment, PaymentEvent
from transactions.payments import services
from transactions.payments.gateway import WebhookNotice, get_card_gateway
from transactions.payments.toss import TossGateway

P, O = Payment.State, Order.State
pytestmark = pytest.mark.django_db(transaction=True)


class SpyTransport(httpx.BaseTransport):
    """Real HTTP to the PG; runs ``before_confirm`` (in the calling thread) as a confirm request leaves."""

    def __init__(self):
        self.inner = httpx.HTTPTransport()
        self.confirm_keys: list[str] = []
        self.before_confirm = None
        self._lock = threading.Lock()

    def handle_request(self, request):
        if request.method == "POST" and request.url.path.endswith("/v1/payments/confirm"):
            with self._lock:
                self.confirm_keys.append(request.headers.get("Idempotency-Key"))
            if self.before_confirm is not None:
                self.before_confirm()
        return self.inner.handle_request(request)

    def close(self):  # the adapter closes its client after each call; the spy lives for the test
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
def sent_mail(monkeypatch):
    """The subjects of the e-mails enqueued (the real task still gets them)."""
    from core.tasks import send_email_task

    subjects, original = [], send_email_task.delay

    def delay(*args, **kwargs):
        subjects.append(kwargs.get("subject", ""))
        return original(*args, **kwargs)

    monkeypatch.setattr(send_email_task, "delay", delay)
    return subjects


def reconcile():
    from transactions.tasks import payments_reconcile_task

    return payments_reconcile_task()


def in_other_connection(fn):
    """Run fn in another thread (its own database connection); returns what it returned or raised."""
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


def test_no_row_lock_or_transaction_is_held_while_the_pg_is_asked(pg, spy, buyer, order):
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    seen = {}

    def lock_order_and_payment_now():
        with transaction.atomic():
            Order.objects.select_for_update(nowait=True).get(pk=order.pk)
            payment = Payment.objects.select_for_update(nowait=True).get(order=order, payment_key=back["paymentKey"])
        return payment.state, payment.confirm_started_at is not None

    def during_the_call():
        seen["in_transaction"] = connection.in_atomic_block
        seen["other_connection"] = in_other_connection(lock_order_and_payment_now)

    spy.before_confirm = during_the_call
    payment = services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    # The old code held the order's row lock here ("could not obtain lock on row"), inside its transaction.
    assert seen == {"in_transaction": False, "other_connection": (P.CONFIRMING, True)}
    assert payment.state == P.DONE
    order.refresh_from_db()
    assert order.state == O.PAID


def test_concurrent_confirmations_and_webhooks_do_not_queue_behind_the_pg_call(pg, spy, buyer, order, sent_mail):
    """12 success-URL calls and 4 webhooks at once while the PG takes 2 s: one asks the PG (one Idempotency-Key),
    the others answer at once ("being confirmed") instead of each waiting for the lock; one payment, one
    fulfilment, one e-mail."""
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    slow_pg = 2.0
    spy.before_confirm = lambda: time.sleep(slow_pg)
    notice = WebhookNotice(
        event_type="PAYMENT_STATUS_CHANGED", payment_key=back["paymentKey"], order_number=order.number
    )
    callers = 16
    barrier = threading.Barrier(callers)
    results, errors = [], []

    def call(i):
        try:
            barrier.wait(timeout=20)
            started = time.perf_counter()
            if i % 4 == 3:
                payment = services.card_payment_webhook(notice=notice)
            else:
                payment = services.card_payment_confirm(
                    order_number=order.number, payment_key=back["paymentKey"], amount=55_000, source="redirect"
                )
            results.append((payment.pk, payment.state, time.perf_counter() - started))
        except Exception as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == callers and len({pk for pk, _, _ in results}) == 1
    # Only the request that asked the PG took the PG's time; on the old code every one waited for the lock.
    assert sum(seconds >= slow_pg for _, _, seconds in results) == 1, sorted(round(s, 2) for _, _, s in results)
    assert {state for _, state, _ in results} <= {P.DONE, P.CONFIRMING}

    payment = Payment.objects.get(order=order)
    order.refresh_from_db()
    assert (payment.state, order.state) == (P.DONE, O.PAID)
    assert spy.confirm_keys == [str(payment.idempotency_key)]
    assert simulator.confirm_count() == 1
    assert Entitlement.objects.filter(order_item__order=order).count() == 1
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1
    assert len([s for s in sent_mail if order.number in s]) == 1
    assert kinds(order).count("confirm_requested") == 1 and kinds(order).count("confirm_answer") == 1
    assert kinds(order).count("confirm_in_progress") >= 1


def test_an_unreachable_pg_leaves_it_confirming_and_the_reconciliation_finishes_it(
    pg, spy, settings, buyer, order, sent_mail
):
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    live = settings.PG_API_BASE
    settings.PG_API_BASE = "http://127.0.0.1:9/pg-sim"  # the PG is down
    with pytest.raises(DomainError) as exc:
        services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert exc.value.code == "pg_unavailable"
    payment = order.payments.get()
    assert (payment.state, payment.payment_key) == (P.CONFIRMING, back["paymentKey"])
    assert reconcile() == {"pg_unavailable": 1}  # still down: it stays confirming, tried again next run
    assert Payment.objects.get(pk=payment.pk).state == P.CONFIRMING

    settings.PG_API_BASE = live
    assert reconcile() == {P.DONE: 1}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.state, order.state) == (P.DONE, O.PAID)
    assert reconcile() == {}  # nothing left: idempotent
    assert set(spy.confirm_keys) == {str(payment.idempotency_key)}
    assert simulator.confirm_count() == 1
    assert len([s for s in sent_mail if order.number in s]) == 1
    assert PaymentEvent.objects.filter(order=order, kind="confirm_requested", data__source="reconcile").count() == 2


def test_a_request_that_died_after_the_pg_took_the_money_is_finished_once(pg, spy, settings, buyer, order):
    """The lease of a dead request runs out; the reconciliation asks again with the same Idempotency-Key and the PG
    answers with its first answer (the money is taken once)."""
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    claim = services._claim(get_card_gateway(), order.number, back["paymentKey"], 55_000, "redirect")
    payment = claim.payment
    get_card_gateway().confirm(back["paymentKey"], order.number, 55_000, str(payment.idempotency_key))  # then it died
    assert reconcile() == {}  # its lease is still fresh and the payment younger than the setting
    settings.PAYMENT_RECONCILE_AFTER_SECONDS = 0
    settings.PAYMENT_CONFIRM_LEASE_SECONDS = 0
    assert reconcile() == {P.DONE: 1}
    order.refresh_from_db()
    assert order.state == O.PAID and simulator.confirm_count() == 1
    assert set(spy.confirm_keys) == {str(payment.idempotency_key)}


def test_an_authorised_but_unconfirmed_payment_is_confirmed_by_the_reconciliation(pg, spy, buyer, order):
    """A payment left `ready` with the PG's key (e.g. by the code before issue 12 when the PG did not answer)."""
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    payment = order.payments.get()
    Payment.objects.filter(pk=payment.pk).update(
        payment_key=back["paymentKey"], created_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    assert reconcile() == {P.DONE: 1}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.state, payment.gateway_status, order.state) == (P.DONE, "DONE", O.PAID)
    assert spy.confirm_keys == [str(payment.idempotency_key)]
    assert Entitlement.objects.filter(order_item__order=order).count() == 1


def test_the_reconciliation_cancels_at_the_pg_what_a_cancelled_order_cannot_take(pg, settings, buyer, order):
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    gateway = get_card_gateway()
    payment = services._claim(gateway, order.number, back["paymentKey"], 55_000, "redirect").payment
    gateway.confirm(back["paymentKey"], order.number, 55_000, str(payment.idempotency_key))  # the answer was lost
    # The order can no longer take it (services refuse to cancel under a confirming payment; an order
    # changed by hand, or paid another way, is the same to the reconciliation).
    Order.objects.filter(pk=order.pk).update(state=O.CANCELLED)
    settings.PAYMENT_RECONCILE_AFTER_SECONDS = 0
    assert reconcile() == {"voided": 1}
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.state, payment.gateway_status, order.state) == (P.CANCELLED, "CANCELED", O.CANCELLED)
    pg_record = gateway.fetch(back["paymentKey"])
    assert (pg_record.gateway_status, pg_record.balance_amount) == ("CANCELED", 0)  # the card is not charged
    assert not Entitlement.objects.filter(order_item__order=order).exists()
    assert AuditEvent.objects.filter(action="payment.voided_at_pg", data__order=order.number).count() == 1
    assert kinds(order)[-2:] == ["reconcile_check", "voided"]
    assert reconcile() == {}


def test_an_authorisation_for_a_cancelled_order_is_closed_without_charging(pg, spy, buyer, order):
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    payment = order.payments.get()
    Payment.objects.filter(pk=payment.pk).update(
        payment_key=back["paymentKey"], created_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    Order.objects.filter(pk=order.pk).update(state=O.CANCELLED)  # cancelled by code that left the payment ready
    assert reconcile() == {"cancelled": 1}
    payment.refresh_from_db()
    assert payment.state == P.CANCELLED and spy.confirm_keys == []
    assert get_card_gateway().fetch(back["paymentKey"]).gateway_status == "IN_PROGRESS"  # never confirmed: lapses


def test_an_order_is_not_cancelled_while_its_payment_is_being_confirmed(pg, spy, buyer, order):
    """Overdue cancellation (beat) and the buyer's cancel, run while the PG is asked to take the money: the
    first skips the order, the second is refused; the confirmation then pays the order once (with the old
    lock gone, the order used to be cancelled under the payment and the money voided)."""
    from transactions.services import orders as order_services

    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    Order.objects.filter(pk=order.pk).update(payment_due_at=timezone.now() - timezone.timedelta(minutes=1))
    seen = {}

    def cancel_now():
        overdue = order_services.orders_cancel_overdue()
        try:
            order_services.order_cancel(actor=buyer, order=Order.objects.get(pk=order.pk))
        except DomainError as exc:
            return overdue, exc.code
        return overdue, None

    spy.before_confirm = lambda: seen.update(result=in_other_connection(cancel_now))
    payment = services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert seen["result"] == (0, "payment_in_progress")
    assert payment.state == P.DONE and Order.objects.get(pk=order.pk).state == O.PAID
    assert not PaymentEvent.objects.filter(order=order, kind__in=["void_needed", "voided"]).exists()
