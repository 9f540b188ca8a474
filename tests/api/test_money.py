"""The API of money after checkout (issue 15): a program does what the pages do with refunds, documents,
subscriptions, data vouchers, statements and payouts, through the same services and selectors. Each endpoint's
happy path, another organization's ids answer 404, keys without the scope are refused, and one walkthrough: a
company program lists its documents and downloads a PDF, asks for a refund, and an admin program approves it and
confirms the transfer back."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from core.models import AuditEvent
from tests.catalog.test_dataset_page import publish
from tests.conftest import make_org, make_user
from tests.transactions.conftest import offer_of, place_order
from transactions.models import Document, Order, Refund, RefundRequest, Subscription, Voucher
from transactions.payments import services as payment_services
from transactions.statements import selectors as statement_selectors
from transactions.statements import services as statement_services
from transactions.vouchers import services as voucher_services

pytestmark = pytest.mark.django_db

ONE_OFF = {"kind": "one_off", "price_krw": 20_000, "cost_basis": "파일 가공·전송 비용"}
SUBSCRIPTION = {"kind": "subscription", "price_krw": 10_000, "subscription_days": 30, "cost_basis": "갱신 비용"}
ACCOUNT = {"bank": "KB국민은행", "account_number": "123-45-6789", "holder": "(주)에어데이터랩"}


@pytest.fixture
def dataset(official, admin_user, reference_data):
    return publish(
        official, admin_user, fake_files=1, title_ko="시흥시 교통량 자료", offers=(ONE_OFF, SUBSCRIPTION)
    ).dataset


def paid(buyer, admin_user, offer) -> Order:
    """An order paid by bank transfer, the deposit confirmed by an admin (the services the pages call)."""
    order = place_order(buyer, offer, method="bank_transfer")
    payment = payment_services.bank_transfer_start(actor=buyer, order=order)
    payment_services.bank_transfer_confirm(
        actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=order.due_krw
    )
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    return order


@pytest.fixture
def order(buyer, admin_user, dataset):
    return paid(buyer, admin_user, offer_of(dataset, "one_off"))


@pytest.fixture
def keys(make_key, buyer, official, admin_user):
    return {
        "buyer": make_key(buyer, ("read", "buy")),
        "buyer_reader": make_key(buyer, ("read",)),
        "provider": make_key(official, ("read",)),
        "admin": make_key(admin_user, ("read", "admin"), organization=None),
        "admin_reader": make_key(admin_user, ("read",), organization=None),
    }


@pytest.fixture
def other(make_key, reference_data):
    """Another company (read + buy) and another department (read + publish), each with its key."""
    other_buyer = make_user("buyer@other.test", name="다른구매자")
    make_org(other_buyer, name_ko="(주)다른회사", name_en="Other Co", kind="consumer", brn="1078155843")
    other_official = make_user("official@other.test", name="다른공무원")
    make_org(other_official, name_ko="교통정책과", name_en="Transport", kind="provider", brn="2208162517")
    return {"buyer": make_key(other_buyer, ("read", "buy")), "provider": make_key(other_official, ("read", "publish"))}


def as_key(api, key):
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def error_code(response) -> str:
    return response.json()["error"]["code"]


# --- the walkthrough ---------------------------------------------------------------------------------------------


def test_a_company_program_reads_its_documents_asks_a_refund_and_an_admin_program_grants_it(api, keys, order):
    # The company's program: its documents, one of them in full, and its PDF.
    buyer = as_key(api, keys["buyer"])
    listed = buyer.get("/api/v1/documents/").json()
    assert listed["count"] == 1
    document = listed["results"][0]
    assert (document["order"], document["kind"], document["total_krw"]) == (order.number, "tax_invoice", 22_000)
    detail = buyer.get(document["url"]).json()
    assert detail["snapshot"]["total_krw"] == 22_000 and detail["cancellations"] == []
    pdf = buyer.get(document["pdf_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and f"document-{document['number']}.pdf" in pdf["Content-Disposition"]

    # It reads what the policy allows, and asks for the line back (a bank-transfer order names the account).
    refunds = buyer.get(f"/api/v1/orders/{order.number}/refunds/").json()
    line = refunds["lines"][0]
    assert refunds["can_request"] and refunds["bank"] and line["requestable"] and line["left_krw"] == 22_000
    assert line["problems"] == {"change_of_mind": None, "not_as_described": None}
    asked = buyer.post(
        f"/api/v1/orders/{order.number}/refunds/",
        {"items": [line["order_item"]], "kind": "change_of_mind", "reason": "필요 없어졌습니다", **ACCOUNT},
        format="json",
    )
    assert asked.status_code == 201, asked.content
    assert asked.json()["state"] == "requested" and asked.json()["requested_by"]["name"] == "문지호"
    again = buyer.post(
        f"/api/v1/orders/{order.number}/refunds/",
        {"items": [line["order_item"]], "kind": "change_of_mind", "reason": "다시", **ACCOUNT},
        format="json",
    )
    assert again.status_code == 400 and error_code(again) == "request_open"  # the service's own refusal
    assert set(again.json()["error"]) >= {"message_ko", "message_en"}

    # The admin's program: the queue, the approval (a bank refund waits for the transfer), the confirmation.
    admin = as_key(api, keys["admin"])
    queue = admin.get("/api/v1/admin/refunds/").json()
    assert [r["id"] for r in queue["requests"]] == [asked.json()["id"]]
    granted = admin.post(f"/api/v1/admin/refund-requests/{asked.json()['id']}/approve/", {"reason": "확인"})
    assert granted.status_code == 200, granted.content
    refund = granted.json()
    assert (refund["state"], refund["source"], refund["amount_krw"]) == ("created", "buyer", 22_000)
    assert refund["refund_account_number"] == "123-45-6789"
    assert [r["id"] for r in admin.get("/api/v1/admin/refunds/").json()["bank_to_confirm"]] == [refund["id"]]
    done = admin.post(
        f"/api/v1/admin/refunds/{refund['id']}/bank-confirm/",
        {"bank": "KB국민은행", "account_number": "123-45-6789", "holder": "(주)에어데이터랩", "reference": "T-1"},
    )
    assert done.status_code == 200 and done.json()["state"] == "done"
    order.refresh_from_db()
    assert order.state == Order.State.REFUNDED and order.refunded_krw == 22_000
    # The audit trail names the key each write was made with.
    writes = AuditEvent.objects.filter(action="api.write", data__path__startswith="/api/v1/admin/refund")
    assert sorted(row.data["path"].rsplit("/", 2)[-2] for row in writes) == ["approve", "bank-confirm"]

    # The company sees the refund done and the cancelling document with negative amounts.
    as_key(api, keys["buyer"])
    after = api.get(f"/api/v1/orders/{order.number}/refunds/").json()
    assert [(r["state"], r["amount_krw"]) for r in after["refunds"]] == [("done", 22_000)]
    assert after["requests"][0]["state"] == "approved" and not after["can_request"]
    cancelling = api.get("/api/v1/documents/", {"kind": "cancellation"}).json()["results"]
    assert [(d["total_krw"], d["original"]) for d in cancelling] == [(-22_000, document["number"])]
    assert api.get(document["url"]).json()["cancellations"] == [cancelling[0]["number"]]


# --- buyer ---------------------------------------------------------------------------------------------------


def test_the_refund_policy_is_public_and_states_the_settings(api, settings):
    settings.REFUND_WINDOW_DAYS, settings.REFUND_DEFECT_DAYS = 5, 60
    policy = api.get("/api/v1/refund-policy/").json()
    assert (policy["window_days"], policy["defect_days"]) == (5, 60)
    assert policy["kinds"] == ["change_of_mind", "not_as_described"]
    assert policy["policy_url"].endswith("/orders/refunds/policy/")


def test_documents_filter_by_month_and_kind(api, keys, order):
    buyer = as_key(api, keys["buyer_reader"])  # reading needs only `read`
    month = f"{timezone.localdate():%Y-%m}"
    assert buyer.get("/api/v1/documents/", {"month": month}).json()["count"] == 1
    assert buyer.get("/api/v1/documents/", {"month": "2020-01"}).json()["count"] == 0
    assert buyer.get("/api/v1/documents/", {"kind": "receipt"}).json()["count"] == 0
    wrong = buyer.get("/api/v1/documents/", {"month": "2026-13"})
    assert wrong.status_code == 400 and "month" in wrong.json()["error"]["fields"]


def test_a_request_outside_the_policy_is_refused_with_the_services_reason(api, keys, order, settings):
    line = order.items.get()
    with time_machine.travel(timezone.now() + timedelta(days=settings.REFUND_WINDOW_DAYS + 1)):
        refused = as_key(api, keys["buyer"]).post(
            f"/api/v1/orders/{order.number}/refunds/",
            {"items": [line.pk], "kind": "change_of_mind", "reason": "늦었습니다", **ACCOUNT},
            format="json",
        )
    assert refused.status_code == 400 and error_code(refused) == "outside_policy"
    assert "7" in refused.json()["error"]["message_en"]
    assert not RefundRequest.objects.exists()


def test_subscriptions_list_cancel_resume_and_renew(api, keys, buyer, admin_user, dataset):
    paid(buyer, admin_user, offer_of(dataset, "subscription"))
    subscription = Subscription.objects.get()
    client = as_key(api, keys["buyer"])
    rows = client.get("/api/v1/subscriptions/").json()
    assert [(r["id"], r["state"], r["dataset"]) for r in rows] == [(subscription.pk, "active", dataset.slug)]
    assert rows[0]["current"]["valid_until"] and rows[0]["renewal"]["offer"] == offer_of(dataset, "subscription").pk

    cancelled = client.post(f"/api/v1/subscriptions/{subscription.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert cancelled.json()["current"] is not None  # the period paid for runs to its end
    resumed = client.post(f"/api/v1/subscriptions/{subscription.pk}/resume/")
    assert resumed.status_code == 200 and resumed.json()["state"] == "active"

    early = client.post(f"/api/v1/subscriptions/{subscription.pk}/renew/")
    assert early.status_code == 400 and "2" in early.json()["error"]["message_en"]  # not open yet: says from when
    opens = client.get("/api/v1/subscriptions/").json()[0]["renew_opens_at"]
    with time_machine.travel(parse_datetime(opens) + timedelta(minutes=1)):
        renewed = client.post(f"/api/v1/subscriptions/{subscription.pk}/renew/")
        assert renewed.status_code == 200, renewed.content
        assert renewed.json()["offer"] == offer_of(dataset, "subscription").pk
        cart = client.get(renewed.json()["cart_url"]).json()
        assert [line["offer"]["id"] for line in cart["lines"]] == [renewed.json()["offer"]]


def test_vouchers_are_registered_by_the_owners_session_never_by_a_key(api, keys, buyer):
    owner = User.objects.get(email="owner@company.test")
    body = {"agreement_number": "2026-DV-0042", "granted_krw": 5_000_000, "starts_on": "2026-01-01",
            "ends_on": "2026-12-31", "copay_percent": 20}  # fmt: skip
    by_key = as_key(api, keys["buyer"]).post("/api/v1/vouchers/", body, format="json")
    assert by_key.status_code == 403 and not Voucher.objects.exists()
    api.credentials()
    api.force_authenticate(owner)  # the owner's own session (the browser's /api/ calls)
    made = api.post("/api/v1/vouchers/", body, format="json")
    assert made.status_code == 201 and made.json()["state"] == "registered"
    api.force_authenticate(buyer)  # a buyer, not an owner: the service refuses
    assert api.post("/api/v1/vouchers/", body | {"agreement_number": "X-1"}, format="json").status_code == 403
    api.force_authenticate(None)
    listed = as_key(api, keys["buyer_reader"]).get("/api/v1/vouchers/").json()
    assert [(v["agreement_number"], v["balance_krw"], v["uses"]) for v in listed] == [("2026-DV-0042", 5_000_000, [])]


# --- admin ---------------------------------------------------------------------------------------------------


def test_an_admin_refunds_part_of_a_line_then_the_rest_and_refuses_a_request(api, keys, buyer, order):
    admin = as_key(api, keys["admin"])
    line = order.items.get()
    missing = admin.post(f"/api/v1/admin/orders/{order.number}/refunds/", {}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    too_much = admin.post(
        f"/api/v1/admin/orders/{order.number}/refunds/",
        {"reason": "과다", "lines": [{"order_item": line.pk, "amount_krw": 30_000}]},
        format="json",
    )
    assert too_much.status_code == 400 and error_code(too_much) == "refund_amount"
    part = admin.post(
        f"/api/v1/admin/orders/{order.number}/refunds/",
        {"reason": "일부 오류", "lines": [{"order_item": line.pk, "amount_krw": 5_000}], **ACCOUNT},
        format="json",
    )
    assert part.status_code == 201 and (part.json()["amount_krw"], part.json()["state"]) == (5_000, "created")
    rest = admin.post(f"/api/v1/admin/orders/{order.number}/refunds/", {"reason": "나머지"}, format="json")
    assert rest.status_code == 201 and rest.json()["amount_krw"] == 17_000
    assert Refund.objects.filter(order=order).count() == 2

    request = RefundRequest.objects.create(order=order, kind="not_as_described", reason="안 열림", requested_by=buyer)
    no_reason = admin.post(f"/api/v1/admin/refund-requests/{request.pk}/refuse/", {}, format="json")
    assert no_reason.status_code == 400
    refused = admin.post(f"/api/v1/admin/refund-requests/{request.pk}/refuse/", {"reason": "이미 환불됨"})
    assert refused.status_code == 200 and refused.json()["state"] == "refused"
    twice = admin.post(f"/api/v1/admin/refund-requests/{request.pk}/approve/", {})
    assert twice.status_code == 400 and error_code(twice) == "request_decided"


def test_statements_close_pay_and_the_ledger_agrees(api, keys, order, official):
    provider = as_key(api, keys["provider"])
    current = provider.get("/api/v1/provider/statements/current/").json()
    assert current["totals"]["sales_krw"] == 22_000 and [r["order"] for r in current["rows"]] == [order.number]
    charts = provider.get("/api/v1/provider/sales-charts/").json()
    assert charts["sales_by_dataset"]["series"][0]["total"] == 22_000 and len(charts["months"]) == 12

    admin = as_key(api, keys["admin"])
    this_month = statement_selectors.month_of(timezone.now())
    early = admin.post("/api/v1/admin/statements/close/", {"month": f"{this_month:%Y-%m}"})
    assert early.status_code == 400 and error_code(early) == "month_not_ended"
    _start, end = statement_selectors.month_bounds(this_month)
    with time_machine.travel(end + timedelta(hours=1)):
        closed = admin.post("/api/v1/admin/statements/close/", {"month": f"{this_month:%Y-%m}"})
        assert closed.status_code == 200, closed.content
        statement = closed.json()["statements"][0]
        assert statement["organization"]["id"] == official.active_organization.pk and statement["state"] == "closed"

        as_key(api, keys["provider"])
        listed = api.get("/api/v1/provider/statements/").json()
        assert [s["id"] for s in listed["results"]] == [statement["id"]]
        detail = api.get(listed["results"][0]["url"]).json()
        assert detail["sales_krw"] == 22_000 and [r["order"] for r in detail["rows"]] == [order.number]

        as_key(api, keys["admin"])
        overview = api.get("/api/v1/admin/statements/").json()
        assert [s["id"] for s in overview["to_pay"]] == [statement["id"]]
        no_reference = api.post(f"/api/v1/admin/statements/{statement['id']}/paid/", {})
        assert no_reference.status_code == 400
        payout = api.post(f"/api/v1/admin/statements/{statement['id']}/paid/", {"transfer_reference": "이체-0001"})
        assert payout.status_code == 200 and payout.json()["state"] == "paid"
        assert payout.json()["paid_krw"] == statement["payable_krw"] > 0
        twice = api.post(f"/api/v1/admin/statements/{statement['id']}/paid/", {"transfer_reference": "이체-0002"})
        assert twice.status_code == 400 and error_code(twice) == "statement_paid"
        ledger = api.get(f"/api/v1/admin/ledger/{official.active_organization.pk}/").json()
        assert ledger["check"]["matches"] and ledger["check"]["paid_out_krw"] == statement["payable_krw"]
        assert {a["kind"] for a in ledger["accounts"]} >= {"provider_payable", "provider_vat"}


def test_the_tax_invoice_export_in_json_and_csv(api, keys, order):
    provider = as_key(api, keys["provider"])
    month = f"{timezone.localdate():%Y-%m}"
    data = provider.get("/api/v1/provider/tax-invoices/", {"month": month}).json()
    document = Document.objects.get(order=order)
    assert [r["number"] for r in data["rows"]] == [document.number]
    assert len(data["rows"][0]["hometax"]) == len(data["columns"]) and data["columns"][0] == "종류"
    csv = provider.get("/api/v1/provider/tax-invoices/", {"month": month, "format": "csv"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8")
    assert text.startswith("\ufeff종류,작성일자") and document.number in text
    wrong = provider.get("/api/v1/provider/tax-invoices/", {"format": "xml"})
    assert wrong.status_code == 400 and "format" in wrong.json()["error"]["fields"]


def test_an_admin_verifies_rejects_and_reads_vouchers(api, keys, buyer):
    owner = User.objects.get(email="owner@company.test")
    made = [
        voucher_services.voucher_register(
            actor=owner,
            organization=owner.active_organization,
            agreement_number=number,
            granted_krw=1_000_000,
            starts_on=timezone.localdate(),
            ends_on=timezone.localdate() + timedelta(days=90),
        )
        for number in ("DV-1", "DV-2")
    ]
    admin = as_key(api, keys["admin"])
    assert admin.get("/api/v1/admin/vouchers/", {"state": "registered"}).json()["count"] == 2
    verified = admin.post(f"/api/v1/admin/vouchers/{made[0].pk}/verify/")
    assert verified.status_code == 200 and verified.json()["state"] == "verified"
    assert admin.post(f"/api/v1/admin/vouchers/{made[1].pk}/reject/", {}).status_code == 400
    rejected = admin.post(f"/api/v1/admin/vouchers/{made[1].pk}/reject/", {"reason": "협약 확인 불가"})
    assert rejected.json()["state"] == "rejected" and rejected.json()["rejection_reason"] == "협약 확인 불가"
    detail = admin.get(f"/api/v1/admin/vouchers/{made[0].pk}/").json()
    assert detail["uses"] == [] and detail["settlements"] == [] and detail["outstanding_krw"] == 0
    unknown = admin.post(
        f"/api/v1/admin/vouchers/{made[0].pk}/settle/",
        {"orders": ["20260101-AAAAAAAA"], "paid_on": "2026-03-01", "reference": "K-1", "amount_krw": 1000},
        format="json",
    )
    assert unknown.status_code == 400 and error_code(unknown) == "settlement_foreign"


# --- who may -------------------------------------------------------------------------------------------------


def test_another_organizations_ids_answer_404(api, keys, other, buyer, admin_user, dataset, order):
    paid(buyer, admin_user, offer_of(dataset, "subscription"))
    subscription = Subscription.objects.get()
    document = Document.objects.filter(order=order).get()
    as_key(api, other["buyer"])
    for path in (
        f"/api/v1/orders/{order.number}/refunds/",
        f"/api/v1/documents/{document.number}/",
        f"/api/v1/documents/{document.number}/pdf/",
    ):
        response = api.get(path)
        assert response.status_code == 404 and error_code(response) == "not_found", path
    for action in ("cancel", "resume", "renew"):
        assert api.post(f"/api/v1/subscriptions/{subscription.pk}/{action}/").status_code == 404
    assert api.get("/api/v1/documents/").json()["count"] == 0
    refused = api.post(
        f"/api/v1/orders/{order.number}/refunds/",
        {"items": [order.items.get().pk], "kind": "not_as_described", "reason": "x"},
        format="json",
    )
    assert refused.status_code == 404 and not RefundRequest.objects.exists()

    # The supplier may see its document on the page, but the buyer's API is the buyer organization's only.
    as_key(api, keys["provider"])
    assert api.get(f"/api/v1/documents/{document.number}/").status_code == 404

    # Another department cannot read this department's statement.
    _start, end = statement_selectors.month_bounds(statement_selectors.month_of(timezone.now()))
    statement = statement_services.statements_close_month(
        month=statement_selectors.month_of(timezone.now()), now=end + timedelta(seconds=1)
    )[0]
    assert as_key(api, keys["provider"]).get(f"/api/v1/provider/statements/{statement.pk}/").status_code == 200
    assert as_key(api, other["provider"]).get(f"/api/v1/provider/statements/{statement.pk}/").status_code == 404
    assert api.get("/api/v1/provider/statements/").json()["count"] == 0


def test_keys_without_the_scope_are_refused(api, keys, buyer, admin_user, dataset, order):
    paid(buyer, admin_user, offer_of(dataset, "subscription"))
    subscription = Subscription.objects.get()
    reader = as_key(api, keys["buyer_reader"])
    assert reader.get(f"/api/v1/orders/{order.number}/refunds/").status_code == 200
    asked = reader.post(
        f"/api/v1/orders/{order.number}/refunds/",
        {"items": [order.items.get().pk], "kind": "not_as_described", "reason": "x", **ACCOUNT},
        format="json",
    )
    assert asked.status_code == 403 and "buy" in asked.json()["error"]["message_en"]
    assert reader.post(f"/api/v1/subscriptions/{subscription.pk}/cancel/").status_code == 403
    assert Subscription.objects.get().state == "active" and not RefundRequest.objects.exists()

    # A buyer's key is no provider: statements, charts and tax invoices are refused.
    for path in ("/api/v1/provider/statements/", "/api/v1/provider/sales-charts/", "/api/v1/provider/tax-invoices/"):
        assert as_key(api, keys["buyer"]).get(path).status_code == 403, path
    # Admin endpoints: not for a buyer's key, nor for an admin's key without the admin scope.
    for key in (keys["buyer"], keys["admin_reader"]):
        assert as_key(api, key).get("/api/v1/admin/refunds/").status_code == 403
        refund = as_key(api, key).post(f"/api/v1/admin/orders/{order.number}/refunds/", {"reason": "x"})
        assert refund.status_code == 403
    assert not Refund.objects.exists()
    assert api.credentials() is None and api.get("/api/v1/documents/").status_code == 401
