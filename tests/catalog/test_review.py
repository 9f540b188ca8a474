"""Submission and review: the rules that decide whether a version may be submitted, the decisions,
their audit trail and e-mails, and the diff the reviewer reads."""

import threading

import pytest
from django.db import connection
from django.urls import reverse

from catalog import selectors, services
from catalog.models import DataFile, Dataset, DatasetVersion, Licence, Offer, Review
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.models import AuditEvent

S = DatasetVersion.State
SCHEMA = {"fields": [{"name": "측정소명", "type": "string"}, {"name": "미세먼지", "type": "integer"}]}


def _file(version, name="대기질.csv", *, state="passed", rows=100, schema=SCHEMA, sha="a" * 64, pii=()):
    return DataFile.objects.create(
        version=version,
        file=f"datasets/test/{name}",
        original_name=name,
        format="csv",
        size=10,
        sha256=sha,
        check_state=state,
        row_count=rows,
        table_schema=schema,
        pii_findings=list(pii),
    )


def _ready(version, licence="kogl-1", **file_kwargs):
    _file(version, **file_kwargs)
    Offer.objects.get_or_create(dataset=version.dataset, kind="free")
    version.licence = Licence.objects.get(code=licence)
    version.save()
    services._refresh_version_state(version)
    version.refresh_from_db()
    return version


@pytest.mark.django_db
def test_submission_rules(official, draft):
    assert services.submission_problems(draft)  # no file, no licence
    _file(draft, pii=[{"kind": "mobile_phone", "column": "연락처", "count": 1, "blocking": False}], state="warning")
    draft.licence = Licence.objects.get(code="kogl-2")
    draft.save()
    from django.utils import translation

    with translation.override("en"):
        problems = [str(p) for p in services.submission_problems(draft)]
    assert any("공공데이터법" in p for p in problems)  # public data with a non-commercial licence
    assert any(p.startswith("Personal data was found") for p in problems)  # justification missing
    draft.licence = Licence.objects.get(code="kogl-1")
    draft.save()
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    assert services.submission_problems(draft, pii_justification="가명처리 완료") == []


@pytest.mark.django_db
def test_private_data_may_carry_a_non_commercial_licence(official, draft):
    draft.data_kind = DatasetVersion.DataKind.PRIVATE
    draft.save()
    _ready(draft, licence="cc-by-nc-4.0")
    assert services.submission_problems(draft) == []


@pytest.mark.django_db
def test_resident_numbers_block_submission_outright(official, draft):
    _ready(draft, state="blocked", pii=[{"kind": "rrn", "column": "주민번호", "count": 2, "blocking": True}])
    assert draft.state == S.DRAFT
    with pytest.raises((DomainError, IllegalTransition)):
        services.version_submit(actor=official, version=draft, pii_justification="가명처리 완료")


@pytest.mark.django_db
def test_submit_review_reject_fix_resubmit_approve(official, admin_user, draft, django_capture_on_commit_callbacks):
    _ready(draft)
    with django_capture_on_commit_callbacks() as callbacks:
        services.version_submit(actor=official, version=draft)
    assert len(callbacks) == 1  # the admins are told after commit
    draft.refresh_from_db()
    assert draft.state == S.SUBMITTED and draft.submitted_at
    assert services.version_submit(actor=official, version=draft).state == S.SUBMITTED  # double click: no-op
    with pytest.raises(DomainError):
        services.version_update_metadata(actor=official, version=draft, title_ko="바꿈")  # frozen

    with pytest.raises(NotAllowed):
        services.version_approve(actor=official, version=draft)  # not an admin
    with pytest.raises(DomainError):
        services.version_reject(actor=admin_user, version=draft, reason=" ")
    services.version_reject(actor=admin_user, version=draft, reason="측정 단위가 설명에 없습니다")
    draft.refresh_from_db()
    assert draft.state == S.REJECTED
    assert draft.reviews.first().reason == "측정 단위가 설명에 없습니다"

    services.version_reopen(actor=official, version=draft)
    draft.refresh_from_db()
    assert draft.state == S.READY  # its files still pass: back to ready once reopened
    services.version_update_metadata(actor=official, version=draft, description_ko="단위: ㎍/㎥")
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft, reason="확인")
    draft.refresh_from_db()
    assert draft.state == S.PUBLISHED and draft.published_at
    assert list(draft.reviews.order_by("created_at", "id").values_list("action", flat=True)) == [
        "submit",
        "reject",
        "submit",
        "approve",
    ]
    # Each decision is one audit row (written by its transition), beside the automatic moves of the checks.
    decisions = AuditEvent.objects.filter(action__in=["version.submit", "version.reject", "version.approve"])
    assert list(decisions.order_by("id").values_list("action", flat=True)) == [
        "version.submit",
        "version.reject",
        "version.submit",
        "version.approve",
    ]
    assert AuditEvent.objects.filter(action="version.draft", actor=official).count() == 1  # the reopening


@pytest.mark.django_db
def test_a_new_version_supersedes_the_old_one(official, admin_user, draft):
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft)
    second = services.version_start_new(actor=official, dataset=draft.dataset, change_note="2025년 추가")
    _ready(second)
    services.version_submit(actor=official, version=second)
    services.version_approve(actor=admin_user, version=second)
    draft.refresh_from_db()
    second.refresh_from_db()
    assert (draft.state, second.state) == (S.SUPERSEDED, S.PUBLISHED)


@pytest.mark.django_db(transaction=True)
def test_two_admins_deciding_at_once_make_one_decision(official, draft, reference_data):
    from tests.conftest import make_user

    admins = [make_user(f"admin{i}@test.example", staff=True) for i in range(2)]
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    barrier = threading.Barrier(2)
    outcomes = []

    def decide(admin, approve):
        barrier.wait()
        try:
            if approve:
                services.version_approve(actor=admin, version=draft)
            else:
                services.version_reject(actor=admin, version=draft, reason="동시 결정")
            outcomes.append("ok")
        except IllegalTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(admins[0], True)),
        threading.Thread(target=decide, args=(admins[1], False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    decisions = Review.objects.filter(version=draft, action__in=["approve", "reject"])
    assert decisions.count() == 1
    assert (
        DatasetVersion.objects.get(pk=draft.pk).state
        == {"approve": S.PUBLISHED, "reject": S.REJECTED}[decisions.get().action]
    )


@pytest.mark.django_db
def test_diff_against_the_last_published_version(official, admin_user, draft):
    _ready(draft, rows=100)
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft)
    second = services.version_start_new(actor=official, dataset=draft.dataset, change_note="열 변경")
    second = services.version_update_metadata(actor=official, version=second, title_ko="시흥시 대기질 측정 자료(2025)")
    new_schema = {
        "fields": [
            {"name": "측정소명", "type": "string"},
            {"name": "미세먼지", "type": "number"},
            {"name": "초미세먼지", "type": "integer"},
        ]
    }
    second.files.all().delete()  # the carried-over file is replaced by the one below (rows written directly here)
    _file(second, rows=150, schema=new_schema, sha="b" * 64)
    _file(second, name="측정소.csv", schema={"fields": [{"name": "이름", "type": "string"}]})
    diff = selectors.version_diff(second)
    assert diff["baseline"] == draft
    assert [(f["field"], f["old"], f["new"]) for f in diff["fields"]] == [
        ("title_ko", "시흥시 대기질 측정 자료", "시흥시 대기질 측정 자료(2025)"),
    ]
    files = {f["name"]: f for f in diff["files"]}
    changed = files["대기질.csv"]
    assert changed["status"] == "changed" and (changed["rows_old"], changed["rows_new"]) == (100, 150)
    assert changed["added"] == ["초미세먼지"] and changed["removed"] == []
    assert changed["retyped"] == [{"name": "미세먼지", "old": "integer", "new": "number"}]
    assert files["측정소.csv"]["status"] == "added"


@pytest.mark.django_db
def test_suspend_and_reinstate_need_an_admin_and_a_reason(official, admin_user, draft):
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft)
    dataset = draft.dataset
    with pytest.raises(NotAllowed):
        services.dataset_suspend(actor=official, dataset=dataset, reason="x")
    with pytest.raises(DomainError):
        services.dataset_suspend(actor=admin_user, dataset=dataset, reason="")
    services.dataset_suspend(actor=admin_user, dataset=dataset, reason="저작권 신고 접수")
    assert Dataset.objects.get(pk=dataset.pk).listing == Dataset.Listing.SUSPENDED
    services.dataset_reinstate(actor=admin_user, dataset=dataset, reason="신고 철회")
    assert Dataset.objects.get(pk=dataset.pk).listing == Dataset.Listing.ACTIVE
    assert list(Review.objects.filter(version=draft).values_list("action", flat=True)[:2]) == ["reinstate", "suspend"]


@pytest.mark.django_db
def test_withdraw_needs_a_reason_and_a_published_version(official, admin_user, draft):
    with pytest.raises(IllegalTransition):
        services.version_withdraw(actor=official, version=draft, reason="오류")
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    services.version_approve(actor=admin_user, version=draft)
    with pytest.raises(DomainError):
        services.version_withdraw(actor=official, version=draft, reason="")
    services.version_withdraw(actor=official, version=draft, reason="원자료 오류 발견")
    assert DatasetVersion.objects.get(pk=draft.pk).state == S.WITHDRAWN


@pytest.mark.django_db
def test_audit_page_filters_decisions_by_dataset(login, official, admin_user, draft):
    from django.urls import reverse

    _ready(draft)
    services.version_submit(actor=official, version=draft)
    services.version_reject(actor=admin_user, version=draft, reason="단위 누락")
    page = login(admin_user).get(reverse("staff:audit"), {"dataset": "대기질", "action": "version."}).content.decode()
    assert "단위 누락" in page and "버전 반려" in page  # the decision in words, not its code
    other = login(admin_user).get(reverse("staff:audit"), {"dataset": "교통량", "action": "version."}).content.decode()
    assert "단위 누락" not in other


@pytest.mark.django_db
def test_offers_follow_the_law_of_the_data(official, draft):
    """공공데이터: free or cost recovery with a basis; 공공누리 2·4: free only; 민간·가공: any price with a contract type."""
    dataset = draft.dataset
    with pytest.raises(DomainError) as exc:
        services.offer_create(actor=official, dataset=dataset, kind="one_off", price_krw=50_000)
    assert exc.value.code == "offer_cost_basis"
    offer = services.offer_create(
        actor=official, dataset=dataset, kind="one_off", price_krw=50_000, cost_basis="파일 가공·전송 비용 (건당)"
    )
    assert (offer.rule, offer.price_krw, offer.cost_basis) == ("공공데이터법", 50_000, "파일 가공·전송 비용 (건당)")
    with pytest.raises(DomainError):
        services.offer_create(
            actor=official, dataset=dataset, kind="subscription", price_krw=10_000, subscription_days=45, cost_basis="x"
        )
    draft.licence = Licence.objects.get(code="kogl-2")
    draft.save()
    with pytest.raises(DomainError) as exc:
        services.offer_create(actor=official, dataset=dataset, kind="one_off", price_krw=1000, cost_basis="x")
    assert exc.value.code == "offer_licence"
    assert services.offer_create(actor=official, dataset=dataset, kind="free", price_krw=999).price_krw == 0
    draft.data_kind, draft.licence = "private", Licence.objects.get(code="cc-by-nc-4.0")
    draft.save()
    with pytest.raises(DomainError) as exc:
        services.offer_create(
            actor=official, dataset=dataset, kind="subscription", price_krw=300_000, subscription_days=90
        )
    assert exc.value.code == "offer_contract"
    offer = services.offer_create(
        actor=official,
        dataset=dataset,
        kind="subscription",
        price_krw=300_000,
        subscription_days=90,
        contract_type="provision",
    )
    assert (offer.rule, offer.subscription_days, offer.contract_type) == ("데이터산업법", 90, "provision")


@pytest.mark.django_db
def test_a_version_without_an_offer_cannot_be_submitted(official, draft):
    _file(draft)
    draft.licence = Licence.objects.get(code="kogl-1")
    draft.save()
    assert services.submission_problems(draft)
    services.offer_create(actor=official, dataset=draft.dataset, kind="free")
    assert services.submission_problems(draft) == []


@pytest.mark.django_db
def test_only_published_listed_datasets_are_public(client, official, admin_user, draft):
    from django.urls import reverse

    url = reverse("catalog:dataset", args=[draft.dataset.slug])
    assert client.get(url).status_code == 404  # a draft
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    assert client.get(url).status_code == 404  # submitted, not yet approved
    services.version_approve(actor=admin_user, version=draft)
    page = client.get(url)
    assert page.status_code == 200 and "시흥시 대기질 측정 자료" in page.content.decode()
    assert "시흥시 대기질 측정 자료" in client.get(reverse("catalog:index")).content.decode()
    services.dataset_suspend(actor=admin_user, dataset=draft.dataset, reason="확인 중")
    assert client.get(url).status_code == 404
    assert "시흥시 대기질 측정 자료" not in client.get(reverse("catalog:index")).content.decode()


@pytest.mark.django_db
def test_files_of_a_submitted_or_published_version_never_change(official, admin_user, draft):
    datafile = _ready(draft).files.get()
    services.version_submit(actor=official, version=draft)
    with pytest.raises(DomainError):
        services.datafile_remove(actor=official, datafile=datafile)
    services.version_approve(actor=admin_user, version=draft)
    with pytest.raises(DomainError):
        services.datafile_remove(actor=official, datafile=datafile)
    with pytest.raises(DomainError):
        services.upload_create(actor=official, version=draft, filename="추가.csv", length=10)
    assert list(draft.files.values_list("sha256", flat=True)) == [datafile.sha256]


@pytest.mark.django_db
def test_approval_checks_again_what_submission_checked(official, admin_user, draft):
    _ready(draft)
    services.version_submit(actor=official, version=draft)
    for offer in draft.dataset.offers.all():
        services.offer_deactivate(actor=official, offer=offer)
    with pytest.raises(DomainError) as exc:
        services.version_approve(actor=admin_user, version=draft)
    assert exc.value.code == "not_approvable"


@pytest.mark.django_db
def test_the_reviewer_sees_the_pricing_rule_that_applied(login, official, admin_user, draft):
    _ready(draft)
    services.offer_create(
        actor=official, dataset=draft.dataset, kind="one_off", price_krw=20_000, cost_basis="파일 가공·전송 비용(건당)"
    )
    services.version_submit(actor=official, version=draft)
    html = login(admin_user).get(reverse("catalog:review_version", args=[draft.pk])).content.decode()
    offers = html.split('id="review-offers"')[1].split("</ul>")[0]
    assert (
        "공공데이터법 제35조" in offers and "파일 가공·전송 비용(건당)" in offers
    )  # fee: cost recovery, with its basis
