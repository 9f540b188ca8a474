"""Read queries of the accounts app, shared by the HTML views and (later) the API."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _

from accounts.models import Invitation, Membership, Organization, User
from accounts.permissions import can
from core.errors import NotAllowed
from core.models import AuditEvent


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user).select_related("organization").order_by("organization__name_ko")


def organization_get_for_member(*, user: User, pk: int) -> Organization:
    """The organization if the user is a member or a platform admin; 403 otherwise, 404 if unknown."""
    organization = get_object_or_404(Organization.objects.select_related("parent"), pk=pk)
    if not can(user, "accounts.view_org", organization):
        raise NotAllowed
    return organization


def organization_members(organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user").order_by("role", "user__email")


def organization_pending_invitations(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=organization, state=Invitation.State.PENDING).order_by("-created_at")


def organization_verification_queue(*, state: str | None = None) -> QuerySet[Organization]:
    """Organizations for the admin's verification pages; waiting ones first, oldest request first."""
    qs = Organization.objects.select_related("parent", "created_by").annotate(member_count=Count("memberships"))
    if state:
        qs = qs.filter(verification=state)
    return qs.order_by("verification_requested_at")


def verification_counts() -> dict[str, int]:
    row = Organization.objects.aggregate(
        requested=Count("pk", filter=Q(verification=Organization.Verification.REQUESTED)),
        verified=Count("pk", filter=Q(verification=Organization.Verification.VERIFIED)),
        rejected=Count("pk", filter=Q(verification=Organization.Verification.REJECTED)),
    )
    return row


# What the system decides on an organization's behalf that its members should see in its history; the
# other system rows (a version's checks, a package being built, a payment claimed for confirmation) are
# steps of one page's progress and stay in the admins' audit trail.
SYSTEM_DECISIONS = (
    "order.paid",
    "order.fulfilled",
    "order.cancelled",
    "payment.card_confirmed",
    "payment.voided_at_pg",
    "payment.amount_mismatch",
    "payment.cancelled_at_pg",
    "package.failed",
)


def platform_admin_emails() -> list[str]:
    """Where decisions waiting for a platform admin are announced (active staff)."""
    return list(User.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True))


def member_emails(organization: Organization, *roles: str) -> list[str]:
    """The e-mail addresses of the organization's members holding one of `roles`."""
    return list(
        Membership.objects.filter(organization=organization, role__in=roles).values_list("user__email", flat=True)
    )


def organization_history(organization: Organization) -> QuerySet[AuditEvent]:
    """The organization's history: what its people and the admins decided, and the system's decisions."""
    return (
        AuditEvent.objects.filter(organization=organization)
        .filter(Q(actor__isnull=False) | Q(action__in=SYSTEM_DECISIONS))
        .select_related("actor")
    )


def audit_events() -> QuerySet[AuditEvent]:
    return AuditEvent.objects.select_related("actor", "organization")


def brn_holder(digits: str, *, exclude_pk: int | None = None) -> Organization | None:
    """The organization already registered with this number (other than `exclude_pk`), if any."""
    return Organization.objects.filter(brn=digits).exclude(pk=exclude_pk or 0).first()


@dataclass(frozen=True)
class BuyerRefusal:
    """Why a user may not buy for an organization: `code` for links and programs, `message` for people."""

    code: str  # no_organization, not_consumer, not_verified, no_buyer_role
    message: str


def buyer_refusal(user, organization: Organization | None) -> BuyerRefusal | None:
    """The one rule of who may buy: a verified consumer organization in which the user is a buyer or owner.
    None when the user may; otherwise what is missing. Services raise it, pages show it."""
    if organization is None:
        return BuyerRefusal(
            "no_organization", _("Purchases are made for an organization. Register your company or join one first.")
        )
    name = {"name": organization.display_name}
    if not organization.is_consumer:
        return BuyerRefusal(
            "not_consumer", _("%(name)s is registered as a provider only; only buyer organizations can buy.") % name
        )
    if not organization.is_verified:
        return BuyerRefusal(
            "not_verified",
            _("%(name)s is waiting for verification by a platform admin; it can buy once verified.") % name,
        )
    if not can(user, "accounts.buy_for_org", organization):
        return BuyerRefusal(
            "no_buyer_role",
            _("Buying for %(name)s needs the buyer or owner role: ask an owner of your organization.") % name,
        )
    return None
