import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Invitation, Membership, Organization
from core.errors import DomainError, NotAllowed
from tests.conftest import make_org, make_user

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "persona, url, status",
    [
        ("buyer", "catalog:provider_home", 403),
        ("official", "catalog:provider_home", 200),
        ("official", "transactions:orders", 403),
        ("buyer", "transactions:orders", 200),
        ("outsider", "catalog:provider_home", 403),
        ("buyer", "staff:organizations", 403),
        ("official", "staff:home", 403),
        ("admin_user", "staff:organizations", 200),
        ("admin_user", "staff:audit", 200),
    ],
)
def test_role_pages(request, login, persona, url, status):
    """A buyer cannot reach publisher pages (403, never 500), and so on for every role."""
    response = login(request.getfixturevalue(persona)).get(reverse(url))
    assert response.status_code == status


def test_anonymous_users_are_sent_to_login(client):
    for name in ("catalog:provider_home", "transactions:orders", "staff:home", "accounts:dashboard"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_publisher_of_an_unverified_org_cannot_publish(login):
    user = make_user("new@dept.test")
    make_org(user, name_ko="신규과", name_en="New", kind="provider", brn="1348310008", verified=False)
    assert login(user).get(reverse("catalog:provider_home")).status_code == 403


def test_403_page_is_a_real_page_in_both_languages(login, buyer):
    client = login(buyer)
    ko = client.get(reverse("catalog:provider_home"))
    assert ko.status_code == 403 and "권한" in ko.content.decode()
    client.cookies["django_language"] = "en"
    en = client.get(reverse("catalog:provider_home"))
    assert en.status_code == 403 and "access" in en.content.decode().lower()


def test_404_page_in_both_languages(client):
    ko = client.get("/no-such-page/")
    assert ko.status_code == 404 and "페이지를 찾을 수 없습니다" in ko.content.decode()
    client.cookies["django_language"] = "en"
    en = client.get("/no-such-page/")
    assert en.status_code == 404 and "not found" in en.content.decode().lower()


def test_other_organizations_pages_are_forbidden(login, official, buyer):
    other = buyer.active_organization
    assert login(official).get(reverse("accounts:organization", args=[other.pk])).status_code == 403
    assert login(official).get(reverse("accounts:organization_edit", args=[other.pk])).status_code == 403


def test_buyer_cannot_edit_its_organization(login, buyer):
    org = buyer.active_organization
    assert login(buyer).get(reverse("accounts:organization", args=[org.pk])).status_code == 200
    assert login(buyer).get(reverse("accounts:organization_edit", args=[org.pk])).status_code == 403


def test_invitation_round_trip(official, mailoutbox, django_capture_on_commit_callbacks):
    org = official.active_organization
    invitee = make_user("new.publisher@siheung.test")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        invitation = services.invitation_create(
            actor=official, organization=org, email="New.Publisher@siheung.test", role="publisher"
        )
    assert len(callbacks) == 1 and invitation.email == "new.publisher@siheung.test"
    # Inviting again re-sends the same invitation instead of making a second one.
    again = services.invitation_create(
        actor=official, organization=org, email="new.publisher@siheung.test", role="buyer"
    )
    assert again.pk == invitation.pk and again.role == "buyer"

    stranger = make_user("stranger@test.example")
    with pytest.raises(NotAllowed):
        services.invitation_accept(actor=stranger, token=invitation.token)
    membership = services.invitation_accept(actor=invitee, token=invitation.token)
    assert membership.organization == org and membership.role == "buyer"
    # A second click on the link changes nothing.
    assert services.invitation_accept(actor=invitee, token=invitation.token) == membership
    assert Invitation.objects.get(pk=invitation.pk).state == Invitation.State.ACCEPTED


def test_only_owners_invite(buyer):
    with pytest.raises(NotAllowed):
        services.invitation_create(actor=buyer, organization=buyer.active_organization, email="x@y.test", role="buyer")


def test_last_owner_cannot_step_down_or_leave(official):
    membership = Membership.objects.get(user=official)
    with pytest.raises(DomainError) as exc:
        services.membership_change_role(actor=official, membership=membership, role="buyer")
    assert exc.value.code == "last_owner"
    with pytest.raises(DomainError):
        services.membership_remove(actor=official, membership=membership)
    second = make_user("second@siheung.test")
    Membership.objects.create(user=second, organization=membership.organization, role="owner")
    services.membership_change_role(actor=official, membership=membership, role="publisher")
    assert Membership.objects.get(pk=membership.pk).role == "publisher"


def test_user_with_several_organizations_picks_the_active_one(login, official, buyer):
    other = buyer.active_organization
    Membership.objects.create(user=official, organization=other, role="buyer")
    client = login(official)
    assert client.get(reverse("transactions:orders")).status_code == 403
    response = client.post(reverse("accounts:switch_organization"), {"organization": other.pk, "next": "/orders/"})
    assert response.status_code == 302 and response["Location"] == "/orders/"
    assert client.get(reverse("transactions:orders")).status_code == 200
    assert client.get(reverse("catalog:provider_home")).status_code == 403


def test_cannot_switch_to_an_organization_one_is_not_in(login, official, buyer):
    response = login(official).post(
        reverse("accounts:switch_organization"), {"organization": buyer.active_organization.pk}
    )
    assert response.status_code == 403
    official.refresh_from_db()
    assert official.active_organization != buyer.active_organization


def test_switch_ignores_foreign_next_urls(login, official):
    response = login(official).post(
        reverse("accounts:switch_organization"),
        {"organization": official.active_organization.pk, "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("accounts:dashboard")


def test_staff_verification_page_decides(login, admin_user, outsider):
    org = services.organization_register(
        actor=outsider,
        brn="206-18-12345",
        name_ko="테스트(주)",
        name_en="Test",
        kind="consumer",
        org_type="company",
        contact_email="o@test.example",
    )
    client = login(admin_user)
    page = client.get(reverse("staff:organization", args=[org.pk])).content.decode()
    assert "206-18-12345" in page
    response = client.post(reverse("staff:organization_decide", args=[org.pk]), {"decision": "reject", "reason": ""})
    assert Organization.objects.get(pk=org.pk).verification == "requested"  # no reason, no decision
    response = client.post(
        reverse("staff:organization_decide", args=[org.pk]), {"decision": "verify", "reason": "확인"}
    )
    assert response.status_code == 302
    assert Organization.objects.get(pk=org.pk).verification == "verified"
    audit = client.get(reverse("staff:audit"), {"action": "organization.verified"}).content.decode()
    assert "테스트(주)" in audit


def test_accepting_an_invitation_as_a_member_changes_nothing(official):
    org = official.active_organization
    member = make_user("member@siheung.test")
    Membership.objects.create(user=member, organization=org, role="buyer")
    invitation = Invitation.objects.create(
        organization=org,
        email=member.email,
        role="publisher",
        invited_by=official,
        expires_at=invitation_expiry(),
    )
    with pytest.raises(DomainError) as exc:
        services.invitation_accept(actor=member, token=invitation.token)
    assert exc.value.code == "already_member"
    assert Membership.objects.get(user=member).role == "buyer"
    assert Invitation.objects.get(pk=invitation.pk).state == Invitation.State.PENDING


def invitation_expiry():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(days=1)


def test_the_header_checks_cost_no_extra_query(login, official, django_assert_num_queries):
    """User and memberships (the session comes from the cache); the memberships also answer the header's
    role checks. (The home page adds two of its own: the newest and the most used datasets.)"""
    client = login(official)
    client.get(reverse("home"))
    with django_assert_num_queries(4):
        assert client.get(reverse("home")).status_code == 200
