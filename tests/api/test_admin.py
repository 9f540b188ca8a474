"""The platform admin API (/api/v1/admin/): the review queue and decisions, listings, organization verification,
bank-transfer confirmation, failed packages and the audit trail. Each decision goes through the service the staff
page calls, so it changes state exactly as the page does, and the audit row names the API key it was made with."""

import functools
import json
import threading
import uuid
from pathlib import Path

import jsonschema
import pytest
from django.core.files import storage
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiToken, Organization
from catalog import services as catalog_services
from catalog.models import DataFile, Dataset, DatasetVersion, Licence, Offer, Review, Theme
from core.errors import NotAllowed
from core.models import AuditEvent
from tests.conftest import make_org, make_user
from transactions.models import Order, OrderItem, Package, Payment
from transactions.payments import services as payment_services

S = DatasetVersion.State
SCHEMA = {"fields": [{"name": "측정소명", "type": "string"}, {"name": "미세먼지", "type": "integer"}]}
PHONES = [{"kind": "mobile_phone", "column": "연락처", "count": 3, "blocking": False, "examples": ["010-****-1234"]}]
KEY_NAME = "심사 자동화"


# --- helpers ---------------------------------------------------------------------------------------------------


def _file(version, name="대기질.csv", *, state="passed", pii=(), sha="a" * 64, schema=SCHEMA):
    return DataFile.objects.create(
        version=version,
        file=f"datasets/test/{name}",
        original_name=name,
        format="csv",
        size=10,
        sha256=sha,
        check_state=state,
        check_messages=[{"level": "info", "code": "encoding", "message": {"ko": "UTF-8", "en": "UTF-8"}}],
        row_count=100,
        column_count=2,
        table_schema=schema,
        pii_findings=list(pii),
    )


def _submitted(official, version, *, pii=(), justification=""):
    """A version submitted through the real service: one checked file, a free offer, 공공누리 제1유형."""
    _file(version, state="warning" if pii else "passed", pii=pii)
    Offer.objects.get_or_create(dataset=version.dataset, kind="free")
    version.licence = Licence.objects.get(code="kogl-1")
    version.save()
    catalog_services._refresh_version_state(version)
    version.refresh_from_db()
    return catalog_services.version_submit(actor=official, version=version, pii_justification=justification)


def _another_draft(official, title="시흥시 소음 측정 자료"):
    return catalog_services.dataset_create(
        actor=official,
        organization=official.active_organization,
        title_ko=title,
        title_en="Siheung noise",
        description_ko="정왕동 소음 자료입니다.",
        theme=Theme.objects.get(code="environment"),
        tags="소음",
        contact_name="정민준",
        contact_phone="031-310-2114",
        contact_email="official@siheung.test",
        update_cadence="monthly",
        data_kind="public",
    )


def _csrf(api, path="/staff/"):
    """The CSRF token a portal page gives the signed-in browser."""
    api.get(path)
    return api.cookies["csrftoken"].value


@functools.cache
def _openapi() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def _valid(response, template: str, method: str = "get", status: int = 200) -> dict:
    """The response's body, after checking it is `status` and matches what /api/schema/ says of the operation."""
    assert response.status_code == status, response.content
    document = _openapi()
    schema = document["paths"][template][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    body = response.json()
    jsonschema.Draft202012Validator({**schema, "components": document["components"]}).validate(body)
    return body


def _error(response, status):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["status"] == status
    return error


@pytest.fixture
def admin_key(admin_user, make_key):
    """A platform admin's key with the admin scope (acting for no organization)."""
    return make_key(admin_user, scopes=("read", "admin"), organization=None, name=KEY_NAME)


@pytest.fixture
def submitted(official, draft):
    return _submitted(official, draft, pii=PHONES, justification="공공기관 대표번호입니다")


@pytest.fixture
def parked_tasks():
    """Tasks queued after commit (the publication's, e-mails) go to a queue no worker reads, dropped afterwards."""
    from marketplace.celery import app

    previous, parked = app.conf.task_default_queue, f"parked-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = parked
    yield
    app.conf.task_default_queue = previous
    with app.connection_for_write() as broker:
        broker.default_channel.client.delete(parked, f"_kombu.binding.{parked}")


# --- who may ---------------------------------------------------------------------------------------------------

ENDPOINTS = [
    ("get", "/api/v1/admin/reviews/"),
    ("get", "/api/v1/admin/reviews/{version}/"),
    ("post", "/api/v1/admin/reviews/{version}/approve/"),
    ("post", "/api/v1/admin/reviews/{version}/reject/"),
    ("post", "/api/v1/admin/datasets/{slug}/suspend/"),
    ("post", "/api/v1/admin/datasets/{slug}/reinstate/"),
    ("get", "/api/v1/admin/organizations/"),
    ("get", "/api/v1/admin/organizations/{organization}/"),
    ("post", "/api/v1/admin/organizations/{organization}/verify/"),
    ("post", "/api/v1/admin/organizations/{organization}/reject/"),
    ("get", "/api/v1/admin/bank-transfers/"),
    ("post", "/api/v1/admin/bank-transfers/1/confirm/"),
    ("get", "/api/v1/admin/packages/?state=failed"),
    ("post", "/api/v1/admin/packages/1/retry/"),
    ("get", "/api/v1/admin/audit/"),
]


def _urls(submitted):
    values = {
        "version": submitted.pk,
        "slug": submitted.dataset.slug,
        "organization": submitted.dataset.publisher_id,
    }
    return [(method, path.format(**values)) for method, path in ENDPOINTS]


@pytest.mark.django_db
def test_anyone_but_a_platform_admin_is_refused_everywhere(api, submitted, official, buyer, make_key):
    publisher_key = make_key(official, scopes=("read", "publish"))
    buyer_key = make_key(buyer, scopes=("read", "buy"))
    body = {"reason": "x", "depositor_name": "x", "amount_krw": 1}
    for method, url in _urls(submitted):
        api.credentials()
        assert _error(getattr(api, method)(url, body), 401)["code"] == "not_authenticated"
        for key in (publisher_key, buyer_key):
            error = _error(getattr(api.with_key(key), method)(url, body), 403)
            assert error["code"] == "permission_denied", url
    # A signed-in non-admin (the portal's own session, with its CSRF token) is refused with the reason.
    api.credentials()
    api.force_login(official)
    token = _csrf(api, "/me/")
    for method, url in _urls(submitted):
        error = _error(getattr(api, method)(url, body, HTTP_X_CSRFTOKEN=token), 403)
        assert (
            error["message_en"] == "Only a platform admin can do this." and error["message_ko"] != error["message_en"]
        )
    submitted.refresh_from_db()
    assert submitted.state == S.SUBMITTED
    assert not Review.objects.filter(action__in=["approve", "reject"]).exists()


@pytest.mark.django_db
def test_an_admins_key_without_the_admin_scope_is_refused_naming_the_scope(api, admin_user, make_key, submitted):
    key = make_key(admin_user, scopes=("read",), organization=None)
    for method, url in _urls(submitted):
        error = _error(getattr(api.with_key(key), method)(url, {"reason": "x"}), 403)
        assert "admin" in error["message_en"] and "admin" in error["message_ko"], url
        assert "scope" in error["message_en"]
    submitted.refresh_from_db()
    assert submitted.state == S.SUBMITTED


@pytest.mark.django_db
def test_services_hold_an_admins_key_to_the_admin_scope_too(admin_user, make_key, buyer, draft):
    """A key without the admin scope cannot confirm a deposit even through a path that forgot to check."""
    make_key(admin_user, scopes=("read",), organization=None)
    order = _bank_order(buyer, draft)
    payment = payment_services.bank_transfer_start(actor=buyer, order=order)
    admin_user.api_token = ApiToken.objects.get(user=admin_user)
    with pytest.raises(NotAllowed):
        payment_services.bank_transfer_confirm(
            actor=admin_user, payment=payment, depositor_name="에어데이터랩", amount_krw=order.total_krw
        )


@pytest.mark.django_db
def test_unknown_ids_are_404_in_the_error_shape(api, admin_key):
    for method, url in [
        ("get", "/api/v1/admin/reviews/999999/"),
        ("post", "/api/v1/admin/reviews/999999/approve/"),
        ("post", "/api/v1/admin/datasets/no-such-dataset/suspend/"),
        ("get", "/api/v1/admin/organizations/999999/"),
        ("post", "/api/v1/admin/bank-transfers/999999/confirm/"),
        ("post", "/api/v1/admin/packages/999999/retry/"),
    ]:
        body = {"reason": "x", "depositor_name": "x", "amount_krw": 1}
        assert _error(getattr(api.with_key(admin_key), method)(url, body), 404)["code"] == "not_found"


# --- reviews ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_review_queue_and_what_the_reviewer_reads(api, admin_key, submitted, official):
    waiting = _valid(api.with_key(admin_key).get("/api/v1/admin/reviews/"), "/api/v1/admin/reviews/")
    assert waiting["count"] == 1
    row = waiting["results"][0]
    assert (row["id"], row["state"], row["data_kind"], row["is_update"]) == (submitted.pk, "submitted", "public", False)
    assert (
        row["publisher"]["id"] == official.active_organization_id and row["dataset"]["slug"] == submitted.dataset.slug
    )
    assert row["submitted_at"] and row["file_count"] == 1
    assert row["pii"] == {"needs_justification": True, "kinds": ["mobile_phone"], "files": 1, "blocking": False}

    detail = api.with_key(admin_key).get(f"/api/v1/admin/reviews/{submitted.pk}/")
    data = _valid(detail, "/api/v1/admin/reviews/{version_id}/")
    assert data["title_ko"] == submitted.title_ko and data["pii_justification"] == "공공기관 대표번호입니다"
    assert data["licence"]["code"] == "kogl-1" and data["licence"]["allows_commercial_use"] is True
    assert [o["kind"] for o in data["offers"]] == ["free"]
    (datafile,) = data["files"]
    assert datafile["check_state"] == "warning" and datafile["columns"][1] == {"name": "미세먼지", "type": "integer"}
    assert datafile["messages"][0]["message"] == {"ko": "UTF-8", "en": "UTF-8"}
    assert datafile["pii_findings"][0]["examples"] == ["010-****-1234"]
    assert data["pii_files"][0]["findings"][0]["column"] == "연락처"
    assert data["diff"]["baseline"] is None and data["diff"]["files"] == []
    assert [h["action"] for h in data["history"]] == ["submit"] and data["decision"] is None


@pytest.mark.django_db
def test_the_reviewer_reads_the_diff_to_the_published_version(api, admin_key, admin_user, official, submitted):
    catalog_services.version_approve(actor=admin_user, version=submitted)
    new = catalog_services.version_start_new(actor=official, dataset=submitted.dataset, change_note="2025년 추가")
    catalog_services.version_update_metadata(
        actor=official, version=new, description_ko="정왕동 측정소의 일별 미세먼지 자료입니다."
    )
    catalog_services._refresh_version_state(new)
    new.refresh_from_db()
    catalog_services.version_submit(actor=official, version=new, pii_justification="공공기관 대표번호입니다")
    data = _valid(
        api.with_key(admin_key).get(f"/api/v1/admin/reviews/{new.pk}/"), "/api/v1/admin/reviews/{version_id}/"
    )
    assert data["diff"]["baseline"] == {"id": submitted.pk, "number": 1, "state": "published"}
    (field,) = [f for f in data["diff"]["fields"] if f["field"] == "description_ko"]
    assert field["label"]["ko"] != field["label"]["en"] and field["words"]["changed"] >= 1
    assert {"op": "insert", "text": "일별"} in field["words"]["new"]
    assert data["diff"]["files"][0]["status"] == "unchanged" and data["files"][0]["carried"] is True
    queue = api.with_key(admin_key).get("/api/v1/admin/reviews/").json()["results"]
    assert [(r["id"], r["is_update"]) for r in queue] == [(new.pk, True)]


@pytest.mark.django_db
def test_approve_by_api_changes_state_exactly_as_the_staff_page(api, client, admin_user, admin_key, official, draft):
    by_page = _submitted(official, draft)
    by_api = _submitted(official, _another_draft(official))
    client.force_login(admin_user)
    assert client.post(reverse("catalog:review_approve", args=[by_page.pk]), {"reason": "확인"}).status_code == 302
    response = api.with_key(admin_key).post(f"/api/v1/admin/reviews/{by_api.pk}/approve/", {"reason": "확인"})
    out = _valid(response, "/api/v1/admin/reviews/{version_id}/approve/", "post")
    assert out["state"] == "published" and out["published_at"] and out["decision"]["action"] == "approve"
    assert out["decision"]["actor"]["email"] == admin_user.email and out["decision"]["reason"] == "확인"

    def outcome(version):
        version.refresh_from_db()
        reviews = list(version.reviews.order_by("id").values_list("action", "reason", "actor"))
        events = AuditEvent.objects.filter(object_type="datasetversion", object_id=str(version.pk)).order_by("id")
        trail = [(e.action, e.reason, e.actor_id, e.data.get("dataset")) for e in events]
        return version.state, version.published_at is not None, reviews, [t[:3] for t in trail], events.last()

    page_state, api_state = outcome(by_page), outcome(by_api)
    assert page_state[:4] == api_state[:4]
    assert api_state[0] == S.PUBLISHED and api_state[3][-1] == ("version.approve", "확인", admin_user.pk)
    assert "api_token" not in page_state[4].data
    token = ApiToken.objects.get(name=KEY_NAME)
    assert api_state[4].data["api_token"] == {"id": token.pk, "name": KEY_NAME, "prefix": token.prefix}
    # Approving again (a retried request) is the same decision: nothing more happens.
    again = api.with_key(admin_key).post(f"/api/v1/admin/reviews/{by_api.pk}/approve/", {})
    assert again.status_code == 200 and again.json()["state"] == "published"
    assert by_api.reviews.filter(action="approve").count() == 1


@pytest.mark.django_db
def test_reject_by_api_needs_a_reason_and_changes_state_as_the_page(api, admin_key, submitted, client, admin_user):
    url = f"/api/v1/admin/reviews/{submitted.pk}/reject/"
    for body in ({}, {"reason": ""}, {"reason": "   "}):
        error = _error(api.with_key(admin_key).post(url, body), 400)
        assert error["code"] == "invalid"
        (field_error,) = error["fields"]["reason"]
        assert field_error["message_ko"] == "반려 사유를 입력하세요. 제공기관에 전달됩니다."
        assert field_error["message_en"] == "Write the reason for the rejection: the publisher will read it."
    english = api.with_key(admin_key).post(url, {}, HTTP_ACCEPT_LANGUAGE="en").json()["error"]
    assert english["message"] == english["message_en"]
    submitted.refresh_from_db()
    assert submitted.state == S.SUBMITTED and not submitted.reviews.filter(action="reject").exists()

    response = api.with_key(admin_key).post(url, {"reason": "측정 단위가 설명에 없습니다"})
    _valid(response, "/api/v1/admin/reviews/{version_id}/reject/", "post")
    assert response.json()["state"] == "rejected" and response.json()["decision"]["action"] == "reject"
    submitted.refresh_from_db()
    assert submitted.state == S.REJECTED
    assert submitted.reviews.get(action="reject").reason == "측정 단위가 설명에 없습니다"
    event = AuditEvent.objects.get(action="version.reject", object_id=str(submitted.pk))
    assert event.reason == "측정 단위가 설명에 없습니다" and event.actor == admin_user
    assert event.data["api_token"]["name"] == KEY_NAME
    # A decided version cannot be approved any more: 409 in both languages, as the page refuses it.
    error = _error(api.with_key(admin_key).post(f"/api/v1/admin/reviews/{submitted.pk}/approve/", {}), 409)
    assert error["code"] == "illegal_transition" and error["message_ko"] != error["message_en"]


@pytest.mark.django_db(transaction=True)
def test_two_admins_deciding_at_once_make_one_decision(admin_user, make_key, official, draft, parked_tasks):
    version = _submitted(official, draft)
    second = make_user("admin2@test.example", staff=True)
    keys = [make_key(admin_user, ("admin",), None, name="a"), make_key(second, ("admin",), None, name="b")]
    results = []

    def decide(key, action, body):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            barrier.wait(timeout=10)
            results.append(client.post(f"/api/v1/admin/reviews/{version.pk}/{action}/", body, format="json"))
        finally:
            connection.close()

    barrier = threading.Barrier(2)
    threads = [threading.Thread(target=decide, args=(key, "approve", {})) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.status_code for r in results) == [200, 200]
    assert all(r.json()["state"] == "published" for r in results)
    assert Review.objects.filter(version=version, action="approve").count() == 1
    assert AuditEvent.objects.filter(action="version.approve", object_id=str(version.pk)).count() == 1

    # An approval and a rejection at once: one wins, the other is told the version was decided (409).
    other = _submitted(official, _another_draft(official))
    version, results = other, []
    barrier = threading.Barrier(2)
    threads = [
        threading.Thread(target=decide, args=(keys[0], "approve", {})),
        threading.Thread(target=decide, args=(keys[1], "reject", {"reason": "중복"})),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.status_code for r in results) == [200, 409]
    assert Review.objects.filter(version=other, action__in=["approve", "reject"]).count() == 1
    other.refresh_from_db()
    assert other.state in (S.PUBLISHED, S.REJECTED)


@pytest.mark.django_db
def test_suspend_and_reinstate_a_listing_by_api(api, admin_key, admin_user, submitted):
    catalog_services.version_approve(actor=admin_user, version=submitted)
    slug = submitted.dataset.slug
    error = _error(api.with_key(admin_key).post(f"/api/v1/admin/datasets/{slug}/suspend/", {}), 400)
    assert error["fields"]["reason"][0]["message_en"] == "Write the reason: the publisher will read it."
    response = api.with_key(admin_key).post(f"/api/v1/admin/datasets/{slug}/suspend/", {"reason": "저작권 확인 중"})
    _valid(response, "/api/v1/admin/datasets/{slug}/suspend/", "post")
    assert response.json()["listing"] == "suspended" and response.json()["slug"] == slug
    assert Dataset.objects.get(slug=slug).listing == Dataset.Listing.SUSPENDED
    event = AuditEvent.objects.get(action="version.suspend")
    assert event.reason == "저작권 확인 중" and event.data["api_token"]["name"] == KEY_NAME
    response = api.with_key(admin_key).post(f"/api/v1/admin/datasets/{slug}/reinstate/", {"reason": "확인 완료"})
    assert response.status_code == 200 and response.json()["listing"] == "active"
    assert list(submitted.reviews.order_by("id").values_list("action", flat=True))[-2:] == ["suspend", "reinstate"]


# --- organizations ---------------------------------------------------------------------------------------------


@pytest.fixture
def requested_org(db):
    owner = make_user("owner@newco.test", name="신규")
    org = make_org(owner, name_ko="(주)새회사", name_en="NewCo", kind="consumer", brn="2208162517", verified=False)
    Organization.objects.filter(pk=org.pk).update(brn_checksum_ok=False)
    org.refresh_from_db()
    return org


@pytest.mark.django_db
def test_the_verification_queue_and_an_organizations_details(api, admin_key, requested_org, official):
    queue = _valid(api.with_key(admin_key).get("/api/v1/admin/organizations/"), "/api/v1/admin/organizations/")
    assert [o["id"] for o in queue["results"]] == [requested_org.pk]
    assert queue["results"][0]["brn_display"] == "220-81-62517"
    verified = api.with_key(admin_key).get("/api/v1/admin/organizations/?verification=verified").json()
    assert official.active_organization_id in [o["id"] for o in verified["results"]]
    assert requested_org.pk not in [o["id"] for o in verified["results"]]
    error = _error(api.with_key(admin_key).get("/api/v1/admin/organizations/?verification=maybe"), 400)
    assert "verification" in error["fields"]

    detail = _valid(
        api.with_key(admin_key).get(f"/api/v1/admin/organizations/{requested_org.pk}/"),
        "/api/v1/admin/organizations/{organization_id}/",
    )
    assert detail["brn"] == "2208162517" and detail["brn_checksum_ok"] is False
    check = detail["brn_check"]
    assert check["status"] == "mismatch"
    assert "check-digit" in check["message"]["en"] and "국세청" in check["message"]["ko"]
    assert [m["user"]["email"] for m in detail["members"]] == ["owner@newco.test"]
    passed = api.with_key(admin_key).get(f"/api/v1/admin/organizations/{official.active_organization_id}/").json()
    assert passed["brn_check"]["status"] == "passed"


@pytest.mark.django_db
def test_verify_and_reject_an_organization_by_api(api, admin_key, admin_user, requested_org):
    url = f"/api/v1/admin/organizations/{requested_org.pk}"
    error = _error(api.with_key(admin_key).post(f"{url}/reject/", {"reason": ""}), 400)
    assert error["fields"]["reason"][0]["message_ko"] == "반려 사유를 입력하세요. 해당 기관에 전달됩니다."
    rejected = api.with_key(admin_key).post(f"{url}/reject/", {"reason": "사업자등록증 사본이 필요합니다"})
    _valid(rejected, "/api/v1/admin/organizations/{organization_id}/reject/", "post")
    assert rejected.json()["verification"] == "rejected"
    assert rejected.json()["verification_reason"] == "사업자등록증 사본이 필요합니다"
    assert rejected.json()["verified_by"]["email"] == admin_user.email
    event = AuditEvent.objects.get(action="organization.rejected")
    assert event.organization_id == requested_org.pk and event.data["api_token"]["name"] == KEY_NAME

    # The owner corrects the details; the admin verifies (a note is optional).
    Organization.objects.filter(pk=requested_org.pk).update(verification="requested")
    verified = api.with_key(admin_key).post(f"{url}/verify/", {})
    _valid(verified, "/api/v1/admin/organizations/{organization_id}/verify/", "post")
    assert verified.json()["verification"] == "verified"
    requested_org.refresh_from_db()
    assert requested_org.is_verified and requested_org.verified_by == admin_user
    assert AuditEvent.objects.get(action="organization.verified").data["api_token"]["name"] == KEY_NAME


# --- bank transfers --------------------------------------------------------------------------------------------


def _bank_order(buyer, version, supply=50_000):
    order = Order.objects.create(
        number=timezone.localdate().strftime("%Y%m%d") + "-" + uuid.uuid4().hex[:8].upper(),
        buyer=buyer.active_organization,
        placed_by=buyer,
        method=Order.Method.BANK_TRANSFER,
        state=Order.State.AWAITING_PAYMENT,
        supply_krw=supply,
        vat_krw=supply // 10,
        total_krw=supply + supply // 10,
        billing_name="(주)에어데이터랩",
        billing_email="billing@company.test",
        payment_due_at=timezone.now() + timezone.timedelta(days=1),
    )
    OrderItem.objects.create(
        order=order,
        dataset=version.dataset,
        version=version,
        seller=version.dataset.publisher,
        kind="one_off",
        title=version.title_ko,
        supply_krw=supply,
        vat_krw=supply // 10,
        total_krw=supply + supply // 10,
    )
    return order


@pytest.mark.django_db
def test_confirm_a_bank_transfer_by_api_as_the_page_does(api, admin_key, admin_user, buyer, draft):
    order = _bank_order(buyer, draft)
    payment = payment_services.bank_transfer_start(actor=buyer, order=order)
    waiting = _valid(api.with_key(admin_key).get("/api/v1/admin/bank-transfers/"), "/api/v1/admin/bank-transfers/")
    (row,) = waiting["results"]
    assert (row["id"], row["amount_krw"], row["order"]["number"]) == (payment.pk, 55_000, order.number)
    assert row["order"]["buyer"]["id"] == buyer.active_organization_id and row["order"]["overdue"] is False
    assert row["order"]["billing_name"] == "(주)에어데이터랩"

    url = f"/api/v1/admin/bank-transfers/{payment.pk}/confirm/"
    error = _error(api.with_key(admin_key).post(url, {"depositor_name": "", "amount_krw": "x"}), 400)
    assert set(error["fields"]) == {"depositor_name", "amount_krw"}
    assert all(e["message_ko"] != e["message_en"] for errors in error["fields"].values() for e in errors)
    # A deposit that is not the total is refused, as on the page, and the refusal is in the audit trail.
    error = _error(api.with_key(admin_key).post(url, {"depositor_name": "에어데이터랩", "amount_krw": 50_000}), 400)
    assert error["code"] == "amount_mismatch" and "50,000" in error["message_ko"] and "55,000" in error["message_en"]
    mismatch = AuditEvent.objects.get(action="payment.amount_mismatch")
    assert mismatch.data["api_token"]["name"] == KEY_NAME
    order.refresh_from_db()
    assert order.state == Order.State.AWAITING_PAYMENT

    done = api.with_key(admin_key).post(url, {"depositor_name": "에어데이터랩", "amount_krw": 55_000})
    _valid(done, "/api/v1/admin/bank-transfers/{payment_id}/confirm/", "post")
    assert done.json()["state"] == "done" and done.json()["depositor_name"] == "에어데이터랩"
    assert done.json()["confirmed_by"]["email"] == admin_user.email and done.json()["order"]["state"] == "paid"
    order.refresh_from_db()
    assert order.state == Order.State.PAID
    confirmed = AuditEvent.objects.get(action="payment.bank_transfer_confirmed")
    assert confirmed.data["api_token"]["name"] == KEY_NAME and confirmed.data["order"] == order.number
    assert api.with_key(admin_key).get("/api/v1/admin/bank-transfers/").json()["count"] == 0
    # A card payment is no bank transfer: not found here.
    card = Payment.objects.create(order=order, method="card", adapter="toss", amount_krw=1, state="failed")
    assert api.with_key(admin_key).post(f"/api/v1/admin/bank-transfers/{card.pk}/confirm/", {}).status_code == 404


# --- packages --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_retry_a_failed_package_by_api(api, admin_key, official, admin_user, buyer, reference_data):
    from tests.transactions.conftest import offer_of, place_order, publish_dataset
    from transactions.tasks import build_package

    dataset = publish_dataset(official, admin_user)
    order = place_order(buyer, offer_of(dataset, "free"), method="free")
    package = Package.objects.get(entitlement__order_item__order=order)
    datafile = DataFile.objects.get(version=package.version)
    path = Path(storage.default_storage.path(datafile.file.name))
    path.write_bytes(path.read_bytes().replace("정왕동".encode(), "대야동".encode(), 1))
    assert build_package.apply(args=[package.pk]).get() == "failed"

    listed = _valid(api.with_key(admin_key).get("/api/v1/admin/packages/?state=failed"), "/api/v1/admin/packages/")
    (row,) = listed["results"]
    assert (row["id"], row["state"], row["retryable"], row["order_number"]) == (
        package.pk,
        "failed",
        True,
        order.number,
    )
    assert row["error"]["ko"] and row["error"]["en"] and row["error"]["ko"] != row["error"]["en"]
    assert datafile.sha256 in row["error_detail"] and row["attempts"] == 1
    assert row["organization"]["id"] == buyer.active_organization_id and row["version"]["dataset"] == dataset.slug
    assert _error(api.with_key(admin_key).get("/api/v1/admin/packages/?state=ready"), 400)["fields"]["state"]

    retried = api.with_key(admin_key).post(f"/api/v1/admin/packages/{package.pk}/retry/")
    _valid(retried, "/api/v1/admin/packages/{package_id}/retry/", "post")
    assert retried.json()["state"] == "queued" and retried.json()["attempts"] == 0
    package.refresh_from_db()
    assert package.state == Package.State.QUEUED
    event = AuditEvent.objects.get(action="package.retried", object_id=str(package.pk))
    assert event.actor == admin_user and event.data["api_token"]["name"] == KEY_NAME
    # Retrying a queued package again changes nothing (as the page's button).
    assert api.with_key(admin_key).post(f"/api/v1/admin/packages/{package.pk}/retry/").json()["state"] == "queued"
    assert AuditEvent.objects.filter(action="package.retried").count() == 1


# --- the audit trail -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_audit_trail_by_api_and_on_the_page_names_the_key(api, client, admin_key, admin_user, submitted):
    api.with_key(admin_key).post(f"/api/v1/admin/reviews/{submitted.pk}/reject/", {"reason": "단위 누락"})
    token = ApiToken.objects.get(name=KEY_NAME)

    response = api.with_key(admin_key).get("/api/v1/admin/audit/?action=version.")
    rows = _valid(response, "/api/v1/admin/audit/")["results"]
    assert rows[0]["action"] == "version.reject"  # newest first
    assert rows[0]["api_token"] == {"id": token.pk, "name": KEY_NAME, "prefix": token.prefix}
    assert rows[0]["actor"]["email"] == admin_user.email and rows[0]["reason"] == "단위 누락"
    (submit,) = [r for r in rows if r["action"] == "version.submit"]
    assert submit["api_token"] is None and submit["organization"]["id"] == submitted.dataset.publisher_id
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)
    by_dataset = api.with_key(admin_key).get(f"/api/v1/admin/audit/?dataset={submitted.dataset.slug}").json()
    assert {r["action"] for r in by_dataset["results"]} >= {"version.reject", "version.submit"}
    nobody = api.with_key(admin_key).get("/api/v1/admin/audit/?actor=nobody@").json()
    assert nobody["results"] == []

    # Cursor pages: one row at a time, following `next`, reaches every row once.
    seen, url = [], "/api/v1/admin/audit/?page_size=1&action=version."
    while url:
        page = _valid(api.with_key(admin_key).get(url), "/api/v1/admin/audit/")
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert seen == [r["id"] for r in rows]

    error = _error(api.with_key(admin_key).get("/api/v1/admin/audit/?date_from=yesterday"), 400)
    (date_error,) = error["fields"]["date_from"]
    assert date_error["message_ko"] != date_error["message_en"]

    # The staff page says which key a change was made with, in Korean and in English.
    client.force_login(admin_user)
    page = client.get(reverse("staff:audit"), {"action": "version."}).content.decode()
    assert f"API 키 ‘{KEY_NAME}’로" in page
    assert page.count("API 키 ‘") == 1  # the submission was made in the browser
    client.cookies["django_language"] = "en"
    english = client.get(reverse("staff:audit"), {"action": "version."}, HTTP_ACCEPT_LANGUAGE="en")
    assert f"via API key ‘{KEY_NAME}’" in english.content.decode()
