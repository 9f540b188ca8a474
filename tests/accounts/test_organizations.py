import pytest
from django.db import connection, transaction
from django.db.utils import InternalError, ProgrammingError
from django.urls import reverse

from accounts import services
from accounts.models import Membership, Organization
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.models import AuditEvent
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db

ORG = dict(
    name_ko="스마트모빌리티(주)",
    name_en="Smart Mobility",
    kind="consumer",
    org_type="company",
    vat_status="taxable",
    representative="이도윤",
    address="대구광역시 수성구",
    contact_name="이도윤",
    contact_phone="053-000-0000",
    contact_email="owner@mobility.test",
    website="",
    description="",
    parent=None,
)


def test_register_makes_owner_and_waits_for_verification(outsider, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        org = services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    assert org.verification == Organization.Verification.REQUESTED
    assert org.brn == "2118608983" and org.brn_checksum_ok is True
    assert Membership.objects.get(user=outsider, organization=org).role == Membership.Role.OWNER
    outsider.refresh_from_db()
    assert outsider.active_organization == org
    event = AuditEvent.objects.get(action="organization.requested")
    assert event.actor == outsider and event.object_id == str(org.pk)
    assert len(callbacks) == 0  # no platform admin exists yet, so nobody is mailed


def test_register_emails_platform_admins_after_commit(outsider, admin_user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    assert len(callbacks) == 1  # the e-mail task is queued only once the transaction commits


def test_checksum_failure_is_flagged_not_refused(outsider):
    org = services.organization_register(actor=outsider, brn="206-18-12345", **ORG)
    assert org.brn_checksum_ok is False
    assert org.verification == Organization.Verification.REQUESTED


def test_duplicate_brn_is_refused_in_korean(outsider, buyer):
    with pytest.raises(DomainError) as exc:
        services.organization_register(actor=outsider, brn="116-82-00276", **ORG)
    assert exc.value.code == "brn_duplicate"
    assert "이미 등록된 사업자등록번호" in str(exc.value.message)


def test_duplicate_brn_in_the_form_shows_a_korean_error(login, outsider, buyer):
    client = login(outsider)
    data = {**ORG, "brn": "116-82-00276", "parent": ""}
    response = client.post(reverse("accounts:organization_register"), data)
    assert response.status_code == 200
    assert "이미 등록된 사업자등록번호" in response.content.decode()
    assert not Organization.objects.filter(name_ko=ORG["name_ko"]).exists()


def test_bad_brn_format_in_the_form(login, outsider):
    response = login(outsider).post(reverse("accounts:organization_register"), {**ORG, "brn": "12-345", "parent": ""})
    assert response.status_code == 200
    assert "10자리" in response.content.decode()


def test_admin_verifies_and_the_decision_is_audited(outsider, admin_user):
    org = services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    services.organization_verify(actor=admin_user, organization=org, reason="국세청 상태조회 확인")
    org.refresh_from_db()
    assert org.verification == Organization.Verification.VERIFIED
    assert org.verified_by == admin_user and org.verified_at is not None
    event = AuditEvent.objects.get(action="organization.verified")
    assert (event.actor, event.reason, event.organization) == (admin_user, "국세청 상태조회 확인", org)


def test_verifying_twice_records_one_decision(outsider, admin_user):
    org = services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    services.organization_verify(actor=admin_user, organization=org)
    services.organization_verify(actor=admin_user, organization=org)
    assert AuditEvent.objects.filter(action="organization.verified").count() == 1


def test_reject_needs_a_reason_and_owner_can_resubmit(outsider, admin_user):
    org = services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    with pytest.raises(DomainError):
        services.organization_reject(actor=admin_user, organization=org, reason="  ")
    services.organization_reject(actor=admin_user, organization=org, reason="대표자명이 등록증과 다릅니다")
    org.refresh_from_db()
    assert org.verification == Organization.Verification.REJECTED
    assert org.verification_reason == "대표자명이 등록증과 다릅니다"
    # A rejected organization cannot be verified directly: the owner fixes it first.
    with pytest.raises(IllegalTransition):
        services.organization_verify(actor=admin_user, organization=org)
    services.organization_update(
        actor=outsider, organization=org, brn="211-86-08983", **{**ORG, "representative": "이도윤 대표"}
    )
    org.refresh_from_db()
    assert org.verification == Organization.Verification.REQUESTED
    assert AuditEvent.objects.filter(action="organization.resubmitted").exists()


def test_changing_the_brn_of_a_verified_org_asks_for_verification_again(official):
    org = official.active_organization
    org.parent = None
    services.organization_update(
        actor=official,
        organization=org,
        brn="134-86-72683",
        **{k: getattr(org, k) for k in services.ORG_FIELDS},
    )
    org.refresh_from_db()
    assert org.verification == Organization.Verification.REQUESTED


def test_only_platform_admins_decide(outsider, buyer):
    org = services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    with pytest.raises(NotAllowed):
        services.organization_verify(actor=buyer, organization=org)
    with pytest.raises(NotAllowed):
        services.organization_verify(actor=outsider, organization=org)  # not even its own owner


def test_audit_events_cannot_be_edited_or_deleted(outsider):
    services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    event = AuditEvent.objects.get()
    event.reason = "changed"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().update(reason="x")
    # Even raw SQL is refused by the database trigger.
    for sql in ("UPDATE accounts_auditevent SET reason = 'x'", "DELETE FROM accounts_auditevent"):
        with pytest.raises((InternalError, ProgrammingError)), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql)
    assert AuditEvent.objects.get().reason == ""


def test_department_may_use_its_citys_number(official, admin_user):
    city_owner = make_user("city@siheung.test")
    city = make_org(
        city_owner, name_ko="시흥시", name_en="Siheung", kind="provider", brn="1348310009", org_type="public_body"
    )
    org = services.organization_register(
        actor=official,
        brn=None,
        **{**ORG, "name_ko": "기후에너지과", "kind": "provider", "org_type": "city_department", "parent": city},
    )
    assert org.brn is None and org.effective_brn == "1348310009"
    with pytest.raises(DomainError):
        services.organization_register(actor=official, brn=None, **{**ORG, "parent": None})


def test_changing_what_was_verified_asks_for_verification_again(official, buyer):
    """A verified consumer that turns itself into a provider (or renames itself) is checked again."""
    org = buyer.active_organization
    owner = org.memberships.get(role="owner").user
    fields = {k: getattr(org, k) for k in services.ORG_FIELDS}
    services.organization_update(
        actor=owner, organization=org, brn=org.brn, **{**fields, "contact_phone": "02-000-0000"}
    )
    org.refresh_from_db()
    assert org.verification == Organization.Verification.VERIFIED  # contact details: no new check
    services.organization_update(
        actor=owner, organization=org, brn=org.brn, **{**fields, "kind": "both", "name_ko": "시흥시청"}
    )
    org.refresh_from_db()
    assert org.verification == Organization.Verification.REQUESTED


def test_decision_mail_is_plain_text_not_html_escaped(outsider):
    from django.template.loader import render_to_string

    org = services.organization_register(actor=outsider, brn="211-86-08983", **ORG)
    body = render_to_string(
        "email/org_verification_decided_body.txt",
        {"organization": org, "verified": False, "reason": "It's <ok> & fine", "url": "http://x"},
    )
    assert "It's <ok> & fine" in body and "&amp;" not in body
