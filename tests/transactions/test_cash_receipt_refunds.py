"""현금영수증 and refunds: a cash receipt asked after a partial refund is for what is left (and offered, not refused
with the wrong reason); a refund of an order with a cash receipt records its cancellation in the refund's own
transaction and cancels it at the PG after commit (``POST /v1/cash-receipts/{receiptKey}/cancel``, the amount for a
part, an Idempotency-Key), leaves it pending when the PG does not answer (the reconciliation finishes it with the same
key), marks it failed when the PG refuses; the same against the simulated PG."""

import base64
import json
import uuid

import httpx
import pytest
from django.urls import reverse

from devtools.pg_simulator import views as simulator
from tests.transactions.conftest import offer_of, place_order, publish_dataset
from tests.transactions.test_documents import EXEMPT, TAXABLE, exempt_official, pay_by_bank  # noqa: F401
from tests.transactions.test_payments import pg  # noqa: F401 (the simulated PG on the live server)
from transactions.documents import services as documents
from transactions.documents.models import CashReceiptCancel, Document
from transactions.payments.toss import TossGateway
from transactions.refunds import services as refunds
from transactions.tasks import refunds_reconcile_task

ACCOUNT = {"bank": "국민은행", "number": "123-45-6789", "holder": "문지호"}
BILLING = {"billing_name": "문지호", "billing_email": "buyer@company.test", "billing_brn": ""}


def _paid(buyer, admin_user, *datasets):
    order = place_order(buyer, *(offer_of(d, "one_off") for d in datasets), method="bank_transfer", billing=BILLING)
    return pay_by_bank(order, admin_user, buyer)


def _refund(admin_user, order, lines=None):
    refund = refunds.refund_create(actor=admin_user, order=order, reason="고객 요청", lines=lines, account=ACCOUNT)
    return refunds.refund_bank_confirm(
        actor=admin_user, refund=refund, bank=ACCOUNT["bank"], account_number=ACCOUNT["number"], holder="문지호"
    )


class FakePG:
    """A PG in the Toss shape behind httpx.MockTransport: issues cash receipts and cancels them; `mode` makes the
    cancel answer 503 (no usable answer) or refuse."""

    def __init__(self):
        self.calls, self.mode = [], "ok"

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        body = json.loads(request.content or b"{}")
        if request.url.path.endswith("/cancel"):
            if self.mode == "down":
                return httpx.Response(503, json={"code": "FAILED_INTERNAL_SYSTEM_PROCESSING", "message": "잠시 후"})
            if self.mode == "refuse":
                return httpx.Response(400, json={"code": "NOT_CANCELABLE_CASH_RECEIPT", "message": "취소 불가"})
            return httpx.Response(
                200,
                json={"receiptKey": "csk_test_1", "transactionType": "CANCEL", "issueStatus": "COMPLETED", **body},
            )
        return httpx.Response(
            200,
            json={
                "receiptKey": "csk_test_1",
                "issueNumber": "123456789",
                "receiptUrl": "https://pg.example/receipt/1",
                "amount": body["amount"],
                "taxFreeAmount": body["taxFreeAmount"],
                "issueStatus": "IN_PROGRESS",
            },
        )

    def gateway(self):
        return TossGateway(
            api_base="https://pg.example", secret_key="test_sk_x", transport=httpx.MockTransport(self.handler)
        )

    def cancels(self):
        return [c for c in self.calls if c.url.path.endswith("/cancel")]


@pytest.fixture
def fake_pg(monkeypatch):
    fake = FakePG()
    monkeypatch.setattr(documents, "get_card_gateway", fake.gateway)
    return fake


def _ask(buyer, order):
    return documents.cash_receipt_request(
        actor=buyer, order=order, registration_number="01012345678", receipt_type="income_deduction"
    )


# --- a cash receipt after a partial refund --------------------------------------------------------------------


@pytest.mark.django_db
def test_after_a_partial_refund_the_cash_receipt_is_offered_and_is_for_what_is_left(
    official, buyer, admin_user, reference_data, fake_pg, client
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _refund(admin_user, order, {order.items.get().pk: 20_000})
    assert documents.cash_receipt_eligibility(order) is None
    receipt = Document.objects.get(order=order, kind="receipt")
    client.force_login(buyer)
    assert (
        'id="cash-receipt-form"' in client.get(reverse("transactions:document", args=[receipt.number])).content.decode()
    )
    cash = _ask(buyer, order)
    (call,) = fake_pg.calls
    body = json.loads(call.content)
    assert (body["amount"], body["taxFreeAmount"]) == (13_000, 0)  # 33,000 paid less 20,000 given back
    assert cash.total_krw == 13_000 and cash.snapshot["cash_receipt"]["amount"] == 13_000


@pytest.mark.django_db
def test_the_tax_free_part_is_what_is_left_of_the_tax_free_lines(
    official, exempt_official, buyer, admin_user, reference_data, fake_pg
):
    taxable = publish_dataset(official, admin_user, offers=TAXABLE)
    exempt = publish_dataset(exempt_official, admin_user, title_ko="경기도 상권 분석 자료", offers=EXEMPT)
    order = _paid(buyer, admin_user, taxable, exempt)
    tax_free_line = order.items.get(tax_free=True)
    _refund(admin_user, order, {tax_free_line.pk: 5_000})
    cash = _ask(buyer, order)
    body = json.loads(fake_pg.calls[0].content)
    assert (body["amount"], body["taxFreeAmount"]) == (33_000 + 20_000 - 5_000, 20_000 - 5_000)
    assert cash.total_krw == 48_000 and cash.tax_free_krw == 15_000


@pytest.mark.django_db
def test_a_fully_refunded_order_gets_no_cash_receipt(official, buyer, admin_user, reference_data, fake_pg):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _refund(admin_user, order)
    order.refresh_from_db()
    assert "환불" in str(documents.cash_receipt_eligibility(order))
    with pytest.raises(documents.DomainError):
        _ask(buyer, order)
    assert not fake_pg.calls


# --- cancelling the cash receipt when the order is refunded ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_full_refund_cancels_the_cash_receipt_at_the_pg_after_commit(
    official, buyer, admin_user, reference_data, fake_pg, eager_celery
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    cash = _ask(buyer, order)
    refund = _refund(admin_user, order)
    cancel = CashReceiptCancel.objects.get(refund=refund)
    assert (cancel.receipt, cancel.amount_krw, cancel.full, cancel.state) == (cash, 33_000, True, "done")
    (call,) = fake_pg.cancels()
    assert call.method == "POST" and call.url.path == "/v1/cash-receipts/csk_test_1/cancel"
    assert json.loads(call.content) == {}  # the whole receipt: no amount
    assert call.headers["Idempotency-Key"] == str(cancel.idempotency_key)
    assert cancel.gateway_response["transactionType"] == "CANCEL" and cancel.attempts == 1
    # The reconciliation has nothing left to do and asks the PG nothing.
    refunds_reconcile_task.apply().get()
    assert len(fake_pg.cancels()) == 1


@pytest.mark.django_db(transaction=True)
def test_partial_refunds_cancel_their_part_then_the_rest(
    official, buyer, admin_user, reference_data, fake_pg, eager_celery
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _ask(buyer, order)
    line = order.items.get()
    first = _refund(admin_user, order, {line.pk: 20_000})
    second = _refund(admin_user, order, {line.pk: 13_000})
    one, two = (CashReceiptCancel.objects.get(refund=r) for r in (first, second))
    assert (one.amount_krw, one.full, two.amount_krw, two.full) == (20_000, False, 13_000, True)
    bodies = [json.loads(c.content) for c in fake_pg.cancels()]
    assert bodies == [{"amount": 20_000}, {}]
    keys = [c.headers["Idempotency-Key"] for c in fake_pg.cancels()]
    assert keys == [str(one.idempotency_key), str(two.idempotency_key)] and keys[0] != keys[1]


@pytest.mark.django_db(transaction=True)
def test_an_unanswered_cancel_stays_pending_and_the_reconciliation_finishes_it_with_the_same_key(
    official, buyer, admin_user, reference_data, fake_pg, eager_celery, settings
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _ask(buyer, order)
    fake_pg.mode = "down"
    refund = _refund(admin_user, order)
    refund.refresh_from_db()
    assert refund.state == "done"  # the refund is done whatever the PG says about the receipt
    cancel = CashReceiptCancel.objects.get(refund=refund)
    assert cancel.state == "pending" and cancel.attempted_at is None and cancel.attempts == 1
    settings.PAYMENT_RECONCILE_AFTER_SECONDS = 0
    fake_pg.mode = "ok"
    counts = refunds_reconcile_task.apply().get()
    assert counts.get("cash_receipt_done") == 1, counts
    cancel.refresh_from_db()
    assert cancel.state == "done" and cancel.attempts == 2
    keys = {c.headers["Idempotency-Key"] for c in fake_pg.cancels()}
    assert keys == {str(cancel.idempotency_key)} and len(fake_pg.cancels()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_refused_cancel_is_marked_failed_with_the_pg_s_reason(
    official, buyer, admin_user, reference_data, fake_pg, eager_celery, settings
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _ask(buyer, order)
    fake_pg.mode = "refuse"
    cancel = CashReceiptCancel.objects.get(refund=_refund(admin_user, order))
    assert cancel.state == "failed" and cancel.failure_code == "NOT_CANCELABLE_CASH_RECEIPT"
    assert cancel.failure_message == "취소 불가"
    settings.PAYMENT_RECONCILE_AFTER_SECONDS = 0
    refunds_reconcile_task.apply().get()
    assert len(fake_pg.cancels()) == 1  # failed is final: not asked again


@pytest.mark.django_db
def test_no_cancellation_without_a_cash_receipt(official, buyer, admin_user, reference_data, fake_pg):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _refund(admin_user, order)
    assert not CashReceiptCancel.objects.exists() and not fake_pg.calls


# --- against the simulated PG -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_simulated_pg_cancels_the_cash_receipt_in_parts_and_once_per_key(
    pg,
    official,
    buyer,
    admin_user,
    reference_data,
    eager_celery,
    settings,
    client,  # noqa: F811
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    cash = _ask(buyer, order)
    key = cash.snapshot["cash_receipt"]["receipt_key"]
    line = order.items.get()
    first = CashReceiptCancel.objects.get(refund=_refund(admin_user, order, {line.pk: 20_000}))
    assert first.state == "done" and simulator.cash_receipt(key)["canceledAmount"] == 20_000
    # A repeat of the same call (same Idempotency-Key) gets the first answer and cancels nothing more.
    again = documents.get_card_gateway().cancel_cash_receipt(key, 20_000, str(first.idempotency_key))
    assert again.amount == 20_000 and simulator.cash_receipt(key)["canceledAmount"] == 20_000
    second = CashReceiptCancel.objects.get(refund=_refund(admin_user, order, {line.pk: 13_000}))
    assert second.state == "done" and second.full
    assert simulator.cash_receipt(key)["canceledAmount"] == 33_000
    # More than is left is refused by the simulated PG, as a real one does.
    url = reverse("pg_sim_cash_receipt_cancel", args=[key])
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{settings.PG_SECRET_KEY}:".encode()).decode()}
    refused = client.post(
        url, json.dumps({"amount": 1}), content_type="application/json", **auth, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert refused.status_code == 400 and refused.json()["code"] == "ALREADY_CANCELED_CASH_RECEIPT"


# --- a refund done while the PG issues the cash receipt ---------------------------------------------------------


def _refund_during_the_issue(fake_pg, admin_user, order, lines):
    """The PG issues the receipt only after a refund of the order is done (the request holds no lock meanwhile)."""
    original, state = fake_pg.handler, {"refunded": False}

    def handler(request):
        if not state["refunded"] and not request.url.path.endswith("/cancel"):
            state["refunded"] = True
            _refund(admin_user, order, lines)
        return original(request)

    fake_pg.handler = handler


@pytest.mark.django_db(transaction=True)
def test_a_partial_refund_done_while_the_pg_issues_the_receipt_cancels_its_part(
    official, buyer, admin_user, reference_data, fake_pg, eager_celery
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _refund_during_the_issue(fake_pg, admin_user, order, {order.items.get().pk: 20_000})
    cash = _ask(buyer, order)
    # The record is what the PG issued (33,000), and the 20,000 refunded meanwhile is cancelled at the PG.
    assert cash.snapshot["cash_receipt"]["amount"] == 33_000 == cash.total_krw
    cancel = CashReceiptCancel.objects.get()
    assert (cancel.receipt, cancel.amount_krw, cancel.full, cancel.state) == (cash, 20_000, False, "done")
    assert [json.loads(c.content) for c in fake_pg.cancels()] == [{"amount": 20_000}]


@pytest.mark.django_db(transaction=True)
def test_a_full_refund_done_while_the_pg_issues_the_receipt_cancels_all_of_it(
    official, buyer, admin_user, reference_data, fake_pg, eager_celery
):
    order = _paid(buyer, admin_user, publish_dataset(official, admin_user, offers=TAXABLE))
    _refund_during_the_issue(fake_pg, admin_user, order, None)
    cash = _ask(buyer, order)  # no IntegrityError (a record of 0 won)
    order.refresh_from_db()
    assert order.state == "refunded"
    assert cash.total_krw == 33_000
    cancel = CashReceiptCancel.objects.get()
    assert (cancel.receipt, cancel.amount_krw, cancel.full, cancel.state) == (cash, 33_000, True, "done")
    assert [json.loads(c.content) for c in fake_pg.cancels()] == [{}]
