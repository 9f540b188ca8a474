"""Payments: the Toss-shaped card adapter against the simulated PG over real HTTP (the live server plays
the PG's servers), the idempotent and concurrency-safe confirmation, webhooks before and after the
redirect, refusals (amount mismatch, declines, an unreachable PG), bank transfers confirmed by an admin
once, and the payment state machine."""

import re
import secrets
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from catalog.pricing import price_of
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.models import AuditEvent
from core.transitions import transition
from devtools.pg_simulator import views as simulator
from tests.conftest import make_org, make_user
from transactions.models import Entitlement, Order, OrderItem, Payment, PaymentEvent
from transactions.payments import services
from transactions.payments.gateway import (
    GatewayAlreadyProcessed,
    GatewayDeclined,
    GatewayUnavailable,
    Status,
    get_card_gateway,
)
from transactions.payments.toss import TossGateway

P, O = Payment.State, Order.State
pytestmark = pytest.mark.django_db(transaction=True)


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _park_package_builds(parked_package_builds):
    """The orders of these tests are paid for draft versions without files: their package builds (proven by
    the delivery tests and the browser journeys) are parked, so a session worker started by other tests
    does not build and retry them while this module's rows are flushed."""


@pytest.fixture
def pg(live_server, settings):
    """The simulated PG on the live server, configured as a real one would be (base URL and keys)."""
    settings.SITE_URL = live_server.url
    settings.PG_API_BASE = f"{live_server.url}/pg-sim"
    settings.PG_CHECKOUT_URL = f"{live_server.url}/pg-sim/checkout/"
    settings.PG_SIMULATOR_WEBHOOKS = False  # tests send webhooks themselves, except where said
    settings.PG_TIMEOUT_SECONDS = 10
    simulator.reset()
    yield live_server
    simulator.wait_for_webhooks()


def _number():
    return (
        timezone.localdate().strftime("%Y%m%d")
        + "-"
        + "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(8))
    )


def make_order(buyer, version, *, supply=50_000, method=Order.Method.CARD, lines=1, state=O.AWAITING_PAYMENT):
    """An order as checkout makes it (checkout itself is tested with the orders)."""
    price = price_of(supply)
    order = Order.objects.create(
        number=_number(),
        buyer=buyer.active_organization,
        placed_by=buyer,
        method=method,
        state=state,
        supply_krw=price.supply_krw * lines,
        vat_krw=price.vat_krw * lines,
        total_krw=price.total_krw * lines,
        billing_name="(주)에어데이터랩",
        billing_email="billing@company.test",
        payment_due_at=timezone.now() + timezone.timedelta(minutes=30),
    )
    for n in range(lines):
        OrderItem.objects.create(
            order=order,
            dataset=version.dataset,
            version=version,
            seller=version.dataset.publisher,
            kind="one_off",
            title=f"{version.title_ko} {n + 1}" if lines > 1 else version.title_ko,
            supply_krw=price.supply_krw,
            vat_krw=price.vat_krw,
            total_krw=price.total_krw,
        )
    return order


@pytest.fixture
def order(buyer, draft):
    return make_order(buyer, draft)


def approve_at_pg(checkout_url, *, card="4330-1234-1234-1234", decision="approve", decline_code=None):
    """What the buyer does in the PG's window, over HTTP: open it, submit; returns (target URL, its query)."""
    with httpx.Client(timeout=10) as http:
        page = http.get(checkout_url)
        assert page.status_code == 200, page.text[:500]
        token = re.search(r'name="token" value="([^"]+)"', page.text).group(1)
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        data = {"csrfmiddlewaretoken": csrf, "token": token, "card_number": card, "decision": decision}
        if decline_code:
            data["decline_code"] = decline_code
        answer = http.post(checkout_url.split("?")[0], data=data, headers={"Referer": checkout_url})
    assert answer.status_code == 302, answer.text[:500]
    location = answer.headers["location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def kinds(order):
    return list(PaymentEvent.objects.filter(order=order).order_by("id").values_list("kind", flat=True))


# --- the adapter against the simulated PG, over HTTP ---------------------------------------------


def test_the_toss_adapter_speaks_the_toss_shape(pg, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{pg.url}/pg-sim/checkout/"
    assert query["clientKey"] == "test_ck_simulated" and query["orderId"] == order.number
    assert query["amount"] == "55000" and query["orderName"] == order.items.get().title
    assert query["successUrl"] == f"{pg.url}/orders/payments/card/success/"
    assert query["failUrl"] == f"{pg.url}/orders/payments/card/fail/"

    location, back = approve_at_pg(url)
    assert location.startswith(query["successUrl"])
    assert back["orderId"] == order.number and back["amount"] == "55000" and back["paymentType"] == "NORMAL"
    key = back["paymentKey"]

    gateway = get_card_gateway()
    assert isinstance(gateway, TossGateway)
    authorised = gateway.fetch(key)
    assert (authorised.status, authorised.gateway_status, authorised.amount) == (
        Status.AUTHORIZED,
        "IN_PROGRESS",
        55_000,
    )

    with pytest.raises(GatewayDeclined) as exc:  # the PG itself checks the amount the window was opened with
        gateway.confirm(key, order.number, 54_000, "idem-wrong-amount")
    assert exc.value.code == "INVALID_REQUEST" and exc.value.http_status == 400
    with pytest.raises(GatewayUnavailable) as exc:  # our secret key is wrong: not the buyer's fault, nothing happened
        TossGateway(secret_key="test_sk_wrong").confirm(key, order.number, 55_000, "idem-1")
    assert exc.value.code == "UNAUTHORIZED_KEY" and exc.value.http_status == 401

    done = gateway.confirm(key, order.number, 55_000, "idem-1")
    assert (done.status, done.gateway_status, done.order_number, done.amount) == (
        Status.DONE,
        "DONE",
        order.number,
        55_000,
    )
    assert (done.supplied_amount, done.vat, done.tax_free_amount) == (50_000, 5_000, 0)
    assert done.supplied_amount + done.vat + done.tax_free_amount == done.amount
    assert done.approved_at is not None and done.raw["method"] == "카드"

    again = gateway.confirm(key, order.number, 55_000, "idem-1")  # the same Idempotency-Key: the same answer
    assert again.raw == done.raw
    with pytest.raises(GatewayAlreadyProcessed) as exc:  # a new key: Toss's ALREADY_PROCESSED_PAYMENT
        gateway.confirm(key, order.number, 55_000, "idem-2")
    assert exc.value.code == "ALREADY_PROCESSED_PAYMENT"
    assert simulator.confirm_count() == 1

    with pytest.raises(GatewayDeclined) as exc:
        gateway.fetch("tsim-no-such-payment")
    assert exc.value.code == "NOT_FOUND_PAYMENT" and exc.value.http_status == 404

    partly = gateway.cancel(key, 5_000, "부분 환불 시험", "idem-cancel-1")
    assert (partly.status, partly.balance_amount) == (Status.PARTIALLY_CANCELLED, 50_000)
    assert gateway.cancel(key, 5_000, "부분 환불 시험", "idem-cancel-1").raw == partly.raw  # idempotent too
    with pytest.raises(GatewayDeclined) as exc:
        gateway.cancel(key, 60_000, "too much", "idem-cancel-2")
    assert exc.value.code == "NOT_CANCELABLE_AMOUNT"
    assert gateway.cancel(key, None, "전액 환불", "idem-cancel-3").status == Status.CANCELLED

    with pytest.raises(GatewayUnavailable) as exc:  # nobody listens there
        TossGateway(api_base="http://127.0.0.1:9").fetch(key)
    assert exc.value.code == "NETWORK_ERROR"


def test_the_simulated_window_refuses_bad_requests_and_paid_order_numbers(pg, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    bad = httpx.get(url.replace("clientKey=test_ck_simulated", "clientKey=test_ck_other"))
    assert bad.status_code == 400 and "clientKey" in bad.text
    _, back = approve_at_pg(url)
    services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=int(back["amount"]))
    location, query = approve_at_pg_expect_redirect(url)
    assert location.startswith(f"{pg.url}/orders/payments/card/fail/") and query["code"] == "DUPLICATED_ORDER_ID"


def approve_at_pg_expect_redirect(url):
    answer = httpx.get(url)
    assert answer.status_code == 302
    location = answer.headers["location"]
    return location, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_the_simulator_is_not_installed_unless_configured():
    """Production (PG_SIMULATOR unset): the simulator is neither an installed app nor routed, and the Toss
    adapter points at Toss. A fresh interpreter, since the setting is read when Django starts."""
    import json
    import os
    import subprocess
    import sys

    probe = (
        "import django, json; django.setup()\n"
        "from django.apps import apps; from django.conf import settings; from django.urls import resolve, Resolver404\n"
        "def routed(p):\n"
        "    try:\n        resolve(p); return True\n    except Resolver404:\n        return False\n"
        "print(json.dumps([apps.is_installed('devtools.pg_simulator'), routed('/pg-sim/checkout/'),"
        " routed('/pg-sim/v1/payments/confirm'), settings.PG_API_BASE]))"
    )
    answers = {}
    for flag in ("", "true"):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG_")}
        env.update(DJANGO_SETTINGS_MODULE="marketplace.settings", PG_SIMULATOR=flag)
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr[-2000:]
        answers[flag] = json.loads(out.stdout.strip().splitlines()[-1])
    assert answers[""] == [False, False, False, "https://api.tosspayments.com"]
    assert answers["true"][:3] == [True, True, True] and answers["true"][3].endswith("/pg-sim")


# --- card payments through our services -----------------------------------------------------


def test_success_url_confirms_once_and_a_repeated_callback_changes_nothing(pg, client, buyer, draft):
    order = make_order(buyer, draft, lines=2)
    url = services.card_checkout_start(actor=buyer, order=order)
    assert services.card_checkout_start(actor=buyer, order=order)  # a double click: still one attempt
    assert order.payments.count() == 1
    location, _back = approve_at_pg(url)
    path = location.split(pg.url, 1)[1]

    client.force_login(buyer)
    first = client.get(path)
    assert first.status_code == 302 and first["Location"] == reverse(
        "transactions:order", kwargs={"number": order.number}
    )
    order.refresh_from_db()
    payment = order.payments.get()
    assert (order.state, order.paid_at is not None) == (O.PAID, True)
    assert (payment.state, payment.amount_krw, payment.adapter, payment.gateway_status) == (
        P.DONE,
        110_000,
        "toss",
        "DONE",
    )
    assert payment.payment_key == parse_qs(urlsplit(location).query)["paymentKey"][0]
    assert Entitlement.objects.filter(order_item__order=order).count() == 2

    for _ in range(3):  # reload, back button, a second tab
        again = client.get(path)
        assert again.status_code == 302
    assert simulator.confirm_count() == 1
    assert Payment.objects.filter(order=order, state=P.DONE).count() == 1
    assert Entitlement.objects.filter(order_item__order=order).count() == 2
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1
    assert AuditEvent.objects.filter(action="payment.card_confirmed", data__order=order.number).count() == 1
    assert not AuditEvent.objects.filter(action="payment.done").exists()  # one audit row for the one change
    assert kinds(order) == [
        "checkout_started",
        "checkout_started",
        "confirm_requested",
        "confirm_answer",
        "confirm_repeated",
        "confirm_repeated",
        "confirm_repeated",
    ]
    messages = [str(m) for m in first.wsgi_request._messages]
    assert any(order.number in m for m in messages)


def test_eight_concurrent_confirmations_make_one_payment_and_one_fulfilment(pg, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    _, back = approve_at_pg(url)
    barrier = threading.Barrier(8)
    results, errors = [], []

    def confirm(source):
        try:
            barrier.wait(timeout=10)
            results.append(
                services.card_payment_confirm(
                    order_number=order.number, payment_key=back["paymentKey"], amount=55_000, source=source
                ).pk
            )
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=("webhook" if i % 2 else "redirect",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert len(results) == 8 and len(set(results)) == 1  # the others answered "being confirmed" or "done"
    order.refresh_from_db()
    assert order.state == O.PAID
    assert Payment.objects.filter(order=order).count() == 1
    assert Payment.objects.filter(order=order, state=P.DONE).count() == 1
    assert Entitlement.objects.filter(order_item__order=order).count() == 1
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1
    assert simulator.confirm_count() == 1  # the PG was asked to take the money once
    assert kinds(order).count("confirm_requested") == 1
    assert kinds(order).count("confirm_repeated") + kinds(order).count("confirm_in_progress") == 7


def test_two_card_payments_for_one_order_only_the_first_is_confirmed(pg, buyer, order):
    """Two tabs, two approved card windows: the second is never confirmed at the PG, so the card is not charged."""
    url = services.card_checkout_start(actor=buyer, order=order)
    _, first = approve_at_pg(url)
    _, second = approve_at_pg(url)
    barrier = threading.Barrier(2)
    outcomes = {}

    def confirm(back):
        try:
            barrier.wait(timeout=10)
            services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
            outcomes[back["paymentKey"]] = "done"
        except DomainError as exc:
            outcomes[back["paymentKey"]] = exc.code
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm, args=(back,)) for back in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # The second finds the first being confirmed, or already paid: either way it is not confirmed at the PG.
    assert sorted(outcomes.values()) in (["already_paid", "done"], ["done", "payment_in_progress"])
    refused = next(key for key, outcome in outcomes.items() if outcome != "done")
    assert get_card_gateway().fetch(refused).gateway_status == "IN_PROGRESS"  # never confirmed: lapses at the PG
    assert Payment.objects.filter(order=order, state=P.DONE).count() == 1
    assert simulator.confirm_count() == 1
    assert "duplicate_refused" in kinds(order)


def test_a_webhook_before_the_redirect_completes_the_payment(pg, client, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    location, back = approve_at_pg(url)
    # The buyer's browser is slow; the PG's notice arrives first (the simulator posts it to our webhook URL).
    assert simulator.send_webhook(back["paymentKey"]) == 200
    order.refresh_from_db()
    assert order.state == O.PAID and order.payments.get().state == P.DONE
    client.force_login(buyer)
    response = client.get(location.split(pg.url, 1)[1])
    assert response.status_code == 302
    assert any("paid" in str(m) or order.number in str(m) for m in response.wsgi_request._messages)
    assert simulator.confirm_count() == 1
    assert Payment.objects.filter(order=order, state=P.DONE).count() == 1
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1
    events = kinds(order)
    assert events.index("webhook") < events.index("fetch_answer") < events.index("confirm_requested")
    assert events[-1] == "confirm_repeated"
    assert PaymentEvent.objects.get(order=order, kind="webhook").data["trusted"] is False


def test_the_pgs_own_webhook_after_the_redirect_changes_nothing(pg, settings, buyer, order):
    settings.PG_SIMULATOR_WEBHOOKS = True
    url = services.card_checkout_start(actor=buyer, order=order)
    _, back = approve_at_pg(url)
    services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    simulator.wait_for_webhooks()
    assert [(w["status"], w["http"]) for w in simulator.webhook_log()] == [("DONE", 200)]
    assert kinds(order)[-3:] == ["webhook", "fetch_answer", "confirm_repeated"]
    assert Payment.objects.filter(order=order, state=P.DONE).count() == 1
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1


def test_an_amount_mismatch_is_refused_before_the_pg_is_asked(pg, client, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    location, back = approve_at_pg(url)
    tampered = location.split(pg.url, 1)[1].replace("amount=55000", "amount=100")
    client.force_login(buyer)
    response = client.get(tampered)
    assert response.status_code == 302
    assert any("100" in str(m) and "55,000" in str(m) for m in response.wsgi_request._messages)
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT and order.paid_at is None
    assert not Payment.objects.filter(order=order, state=P.DONE).exists()
    assert simulator.confirm_count() == 0
    assert get_card_gateway().fetch(back["paymentKey"]).gateway_status == "IN_PROGRESS"
    mismatch = PaymentEvent.objects.get(order=order, kind="amount_mismatch")
    assert (mismatch.data["amount"], mismatch.data["expected"]) == (100, 55_000)
    assert AuditEvent.objects.filter(action="payment.amount_mismatch", object_id=str(order.pk)).exists()
    # The honest callback still works afterwards.
    services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    order.refresh_from_db()
    assert order.state == O.PAID


def test_a_decline_in_the_window_leaves_the_order_open_for_another_try(pg, client, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    location, query = approve_at_pg(url, decision="decline", decline_code="EXCEED_MAX_AMOUNT")
    assert query == {"code": "EXCEED_MAX_AMOUNT", "message": "거래금액 한도를 초과했습니다.", "orderId": order.number}
    client.force_login(buyer)
    response = client.get(location.split(pg.url, 1)[1])
    assert response.status_code == 302
    assert any("거래금액 한도를 초과했습니다." in str(m) for m in response.wsgi_request._messages)
    failed = order.payments.get()
    assert (failed.state, failed.failure_code, failed.failure_message) == (
        P.FAILED,
        "EXCEED_MAX_AMOUNT",
        "거래금액 한도를 초과했습니다.",
    )
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT

    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))  # try again
    services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    order.refresh_from_db()
    assert order.state == O.PAID
    assert sorted(order.payments.values_list("state", flat=True)) == [P.DONE, P.FAILED]


def test_a_decline_at_confirm_fails_the_payment_with_the_pgs_message(pg, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    _, back = approve_at_pg(url, card="5000 0000 0000 0002")  # refused when we confirm
    with pytest.raises(DomainError) as exc:
        services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert exc.value.code == "payment_declined" and "한도초과 혹은 잔액부족" in exc.value.message
    payment = order.payments.get()
    assert (payment.state, payment.failure_code) == (P.FAILED, "REJECT_CARD_PAYMENT")
    assert payment.failure_message == "한도초과 혹은 잔액부족으로 결제에 실패했습니다."
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT and not Entitlement.objects.filter(order_item__order=order).exists()
    with pytest.raises(DomainError) as exc:  # the callback again: the recorded failure, the PG not asked again
        services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert exc.value.code == "payment_failed"
    assert kinds(order).count("confirm_requested") == 1


def test_an_unreachable_pg_leaves_the_payment_confirming_and_a_retry_completes(pg, settings, client, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    _, back = approve_at_pg(url)
    settings.PG_API_BASE = "http://127.0.0.1:9/pg-sim"  # the PG is down
    with pytest.raises(DomainError) as exc:
        services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert exc.value.code == "pg_unavailable"
    payment = order.payments.get()
    assert (payment.state, payment.payment_key, payment.confirm_started_at) == (P.CONFIRMING, back["paymentKey"], None)
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT
    assert PaymentEvent.objects.get(order=order, kind="confirm_unavailable").data["code"] == "NETWORK_ERROR"

    client.force_login(buyer)  # the buyer's browser meanwhile: a page that can ask again, not a dead end
    page = client.get(
        f"{reverse('transactions:payment_card_success')}?orderId={order.number}&paymentKey={back['paymentKey']}&amount=55000"
    )
    assert page.status_code == 202 and 'id="retry-confirm"' in page.content.decode()

    settings.PG_API_BASE = f"{pg.url}/pg-sim"  # back up: the retry uses the same Idempotency-Key
    done = services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert done.pk == payment.pk and done.state == P.DONE
    assert (
        PaymentEvent.objects.filter(order=order, kind="confirm_requested")
        .values_list("data__idempotency_key", flat=True)
        .distinct()
        .count()
        == 1
    )


def test_a_cancelled_order_is_not_paid_by_a_late_confirmation(pg, buyer, order):
    url = services.card_checkout_start(actor=buyer, order=order)
    _, back = approve_at_pg(url)
    from transactions.services.orders import order_cancel

    order_cancel(actor=buyer, order=order, reason="다른 자료로 바꿈")
    with pytest.raises(DomainError) as exc:
        services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    assert exc.value.code == "order_not_payable"
    assert simulator.confirm_count() == 0
    order.refresh_from_db()
    assert order.state == O.CANCELLED


def test_only_the_buyer_organization_may_start_a_payment(pg, buyer, outsider, draft, order):
    with pytest.raises(NotAllowed):
        services.card_checkout_start(actor=outsider, order=order)
    rival_owner = make_user("owner@rival.test")
    make_org(rival_owner, name_ko="(주)경쟁사", name_en="Rival", kind="consumer", brn="2208162517")
    with pytest.raises(NotAllowed):
        services.card_checkout_start(actor=rival_owner, order=order)
    with pytest.raises(NotAllowed):
        services.bank_transfer_start(actor=rival_owner, order=order)
    free = make_order(buyer, draft, supply=0)
    with pytest.raises(DomainError) as exc:
        services.card_checkout_start(actor=buyer, order=free)
    assert exc.value.code == "order_free"
    assert not Payment.objects.exists()


def test_payment_state_machine(buyer, order):
    payment = Payment.objects.create(order=order, method="card", adapter="toss", amount_krw=order.total_krw)
    for illegal in (P.REFUNDED, P.PARTIALLY_REFUNDED, P.READY):
        with pytest.raises(IllegalTransition):
            transition(payment, to=illegal, actor=None)
    transition(payment, to=P.DONE, actor=None)
    for illegal in (P.READY, P.FAILED, P.CANCELLED, P.DONE):
        with pytest.raises(IllegalTransition):
            transition(payment, to=illegal, actor=None)
    transition(payment, to=P.PARTIALLY_REFUNDED, actor=None)
    transition(payment, to=P.REFUNDED, actor=None)
    with pytest.raises(IllegalTransition):
        transition(payment, to=P.DONE, actor=None)
    failed = Payment.objects.create(order=order, method="card", adapter="toss", amount_krw=order.total_krw)
    transition(failed, to=P.FAILED, actor=None)
    for illegal in (P.DONE, P.READY, P.REFUNDED):
        with pytest.raises(IllegalTransition):
            transition(failed, to=illegal, actor=None)
    # The database keeps one done payment per order whatever the code does.
    from django.db import IntegrityError, transaction

    Payment.objects.create(order=order, method="card", adapter="toss", amount_krw=order.total_krw, state=P.DONE)
    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.create(
            order=order, method="bank_transfer", adapter="bank", amount_krw=order.total_krw, state=P.DONE
        )


# --- webhooks -------------------------------------------------------------------------------


def test_unusable_webhooks_are_refused_and_logged(pg, client):
    url = reverse("transactions:payment_webhook")
    assert client.post(url, data="not json", content_type="application/json").status_code == 400
    assert (
        client.post(
            url, data={"eventType": "PAYOUT_STATUS_CHANGED", "data": {}}, content_type="application/json"
        ).status_code
        == 400
    )
    assert PaymentEvent.objects.filter(kind="webhook_refused").count() == 2
    # A notice naming a payment the PG does not know (forged): logged, nothing else.
    forged = {
        "eventType": "PAYMENT_STATUS_CHANGED",
        "createdAt": "2026-01-01T00:00:00+09:00",
        "data": {"paymentKey": "tsim-forged", "orderId": "20260101-AAAAAAAA", "status": "DONE", "totalAmount": 1},
    }
    response = client.post(url, data=forged, content_type="application/json")
    assert response.status_code == 200
    assert PaymentEvent.objects.filter(kind="webhook_unknown_payment").count() == 1
    assert not Payment.objects.exists()


def test_a_webhook_answers_503_while_the_pg_cannot_be_asked(pg, settings, client, buyer, order):
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    settings.PG_API_BASE = "http://127.0.0.1:9/pg-sim"
    body = {"eventType": "PAYMENT_STATUS_CHANGED", "data": {"paymentKey": back["paymentKey"], "orderId": order.number}}
    response = client.post(reverse("transactions:payment_webhook"), data=body, content_type="application/json")
    assert response.status_code == 503  # the PG retries later
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT


# --- bank transfer --------------------------------------------------------------------------


def test_bank_transfer_confirmed_by_a_platform_admin_once(buyer, admin_user, draft):
    order = make_order(buyer, draft, method=Order.Method.BANK_TRANSFER)
    payment = services.bank_transfer_start(actor=buyer, order=order)
    assert services.bank_transfer_start(actor=buyer, order=order).pk == payment.pk  # idempotent
    order.refresh_from_db()
    assert (payment.state, payment.method, payment.adapter, payment.amount_krw) == (
        P.READY,
        "bank_transfer",
        "bank",
        55_000,
    )
    assert order.state == O.AWAITING_PAYMENT and order.payment_due_at > timezone.now()

    with pytest.raises(NotAllowed):  # the buyer cannot confirm their own deposit
        services.bank_transfer_confirm(actor=buyer, payment=payment, depositor_name="에어데이터랩", amount_krw=55_000)
    with pytest.raises(DomainError) as exc:
        services.bank_transfer_confirm(
            actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=50_000
        )
    assert exc.value.code == "amount_mismatch"
    assert AuditEvent.objects.filter(action="payment.amount_mismatch", object_id=str(order.pk)).exists()
    with pytest.raises(DomainError):
        services.bank_transfer_confirm(actor=admin_user, payment=payment, depositor_name=" ", amount_krw=55_000)
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT

    barrier = threading.Barrier(4)
    second_admin = make_user("admin2@test.example", staff=True)
    errors = []

    def confirm(admin):
        try:
            barrier.wait(timeout=10)
            services.bank_transfer_confirm(
                actor=admin, payment=payment, depositor_name="에어데이터랩", amount_krw=55_000
            )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=confirm, args=(a,)) for a in (admin_user, second_admin, admin_user, second_admin)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.state, payment.depositor_name, payment.approved_at is not None) == (P.DONE, "에어데이터랩", True)
    assert payment.confirmed_by in (admin_user, second_admin)
    assert order.state == O.PAID
    assert Entitlement.objects.filter(order_item__order=order).count() == 1
    assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1
    assert AuditEvent.objects.filter(action="payment.bank_transfer_confirmed", data__order=order.number).count() == 1
    assert not AuditEvent.objects.filter(action="payment.done").exists()  # one audit row for the one change
    assert kinds(order).count("bank_transfer_confirmed") == 1


def test_switching_from_bank_transfer_to_card_closes_the_waiting_transfer(pg, buyer, admin_user, order):
    bank_payment = services.bank_transfer_start(actor=buyer, order=order)
    _, back = approve_at_pg(services.card_checkout_start(actor=buyer, order=order))
    services.card_payment_confirm(order_number=order.number, payment_key=back["paymentKey"], amount=55_000)
    bank_payment.refresh_from_db()
    order.refresh_from_db()
    assert (order.state, order.method, bank_payment.state) == (O.PAID, "card", P.CANCELLED)
    with pytest.raises(DomainError) as exc:
        services.bank_transfer_confirm(actor=admin_user, payment=bank_payment, depositor_name="x", amount_krw=55_000)
    assert exc.value.code == "order_not_payable"


def test_the_admin_page_lists_waiting_transfers_and_confirms(client, buyer, admin_user, draft):
    order = make_order(buyer, draft, method=Order.Method.BANK_TRANSFER)
    payment = services.bank_transfer_start(actor=buyer, order=order)
    url = reverse("transactions:payment_bank_transfers")
    client.force_login(buyer)
    assert client.get(url).status_code == 403
    assert (
        client.post(
            reverse("transactions:payment_bank_confirm", args=[payment.pk]),
            {"depositor_name": "x", "amount_krw": 55_000},
        ).status_code
        == 403
    )
    client.force_login(admin_user)
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert order.number in html and "55,000" in html and "(주)에어데이터랩" in html
    assert reverse("transactions:payment_bank_transfers") in client.get(reverse("staff:home")).content.decode()

    invalid = client.post(
        reverse("transactions:payment_bank_confirm", args=[payment.pk]), {"depositor_name": "", "amount_krw": ""}
    )
    assert invalid.status_code == 200 and 'aria-invalid="true"' in invalid.content.decode()
    wrong = client.post(
        reverse("transactions:payment_bank_confirm", args=[payment.pk]),
        {"depositor_name": "에어데이터랩", "amount_krw": "50000"},
    )
    assert wrong.status_code == 200 and 'value="에어데이터랩"' in wrong.content.decode()  # what was typed is kept
    order.refresh_from_db()
    assert order.state == O.AWAITING_PAYMENT
    done = client.post(
        reverse("transactions:payment_bank_confirm", args=[payment.pk]),
        {"depositor_name": "에어데이터랩", "amount_krw": "55000"},
    )
    assert done.status_code == 302
    order.refresh_from_db()
    assert order.state == O.PAID
    after = client.get(url).content.decode()
    assert f'id="bank-transfer-{payment.pk}"' not in after  # no longer waiting
    assert order.number in after.split('id="bank-transfers-confirmed"')[1]  # listed as confirmed


def test_the_buyer_pay_endpoints(pg, client, buyer, draft):
    order = make_order(buyer, draft)
    rival = make_user("buyer@rival.test")
    make_org(
        rival, name_ko="(주)경쟁사", name_en="Rival", kind="consumer", brn="2208162517", role=Membership.Role.OWNER
    )
    client.force_login(rival)
    assert client.post(reverse("transactions:payment_card_start", args=[order.number])).status_code == 404
    client.force_login(buyer)
    response = client.post(reverse("transactions:payment_card_start", args=[order.number]))
    assert response.status_code == 302 and response["Location"].startswith(f"{pg.url}/pg-sim/checkout/?")
    assert "successUrl=http%3A%2F%2Ftestserver%2Forders%2Fpayments%2Fcard%2Fsuccess%2F" in response["Location"]
    response = client.post(reverse("transactions:payment_bank_start", args=[order.number]), follow=True)
    order.refresh_from_db()
    assert order.method == "bank_transfer" and order.payments.filter(method="bank_transfer", state=P.READY).exists()
    assert any("301-0000-0000-00" in str(m) for m in response.context["messages"])


def test_the_deploy_check_warns_when_no_card_gateway_is_configured(settings):
    """A stack without the simulator and without PG_CHECKOUT_URL cannot start a card payment: `check --deploy` says so."""
    from transactions.checks import card_gateway_configured

    settings.PG_SIMULATOR, settings.PG_CHECKOUT_URL = False, ""
    assert [message.id for message in card_gateway_configured(None)] == ["transactions.W001"]
    settings.PG_CHECKOUT_URL = "https://pg.example.kr/checkout/"
    assert card_gateway_configured(None) == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "orderId=%00&paymentKey=k&amount=1000",
        "orderId=20261205-ABCDEFGH&paymentKey=k&amount=%C2%B2",  # "²" is a digit to Python, not to int()
        "orderId=" + "9" * 80 + "&paymentKey=k&amount=1000",
    ],
)
def test_a_hostile_return_from_the_pg_is_an_incomplete_answer_not_a_server_error(client, query):
    response = client.get(f"/orders/payments/card/success/?{query}")
    assert response.status_code == 302
    failed = client.get(f"/orders/payments/card/fail/?{query}&code=X&message=y")
    assert failed.status_code in (302, 200)


@pytest.mark.django_db
def test_a_payment_start_for_an_impossible_order_number_is_not_found(client, buyer):
    client.force_login(buyer)
    assert client.post("/orders/payments/%00/card/").status_code == 404
    assert client.post("/orders/payments/not-a-number/bank-transfer/").status_code == 404
