"""Every write of the accounts app: one function per use case.

Each function is atomic, checks the actor's permission first, records an AuditEvent for
decisions (core.audit, or core.transitions for a state change) and queues e-mail only after commit (core.notify).
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import brn as brn_rules
from accounts import selectors
from accounts.models import ApiToken, Invitation, Membership, Organization, PolicyAgreement, PolicyVersion, User
from accounts.permissions import can, forget_roles
from core.audit import audit
from core.errors import DomainError, IllegalTransition, NotAllowed
from core.generation import bump_generation_on_commit
from core.notify import email_on_commit, site_url
from core.romanize import unique_slug
from core.text import choice_label, lazy_percent
from core.transitions import transition

V = Organization.Verification

# What the platform admin verified: changing any of these sends a verified organization back to verification.
IDENTITY_FIELDS = ("name_ko", "kind", "org_type", "parent")

ORG_FIELDS = (
    "name_ko",
    "name_en",
    "kind",
    "org_type",
    "parent",
    "vat_status",
    "representative",
    "address",
    "contact_name",
    "contact_phone",
    "contact_email",
    "website",
    "description",
)


def _require(condition: bool, message=None):
    if not condition:
        raise NotAllowed(message or _("You do not have permission to do this."))


def _unique_slug(name_en: str, name_ko: str) -> str:
    """From the English name, else the romanised Korean one; `org-N` only when neither gives letters."""
    return unique_slug(Organization.objects.all(), name_en, name_ko, fallback="org", max_length=60)


def _apply_brn(organization: Organization, raw_brn: str | None) -> None:
    if raw_brn:
        digits = brn_rules.normalize(raw_brn)
        clash = selectors.brn_holder(digits, exclude_pk=organization.pk)
        if clash:
            raise DomainError(
                lazy_percent(
                    _(
                        "This business registration number is already registered (%(name)s). Ask its owner to invite you."
                    ),
                    {"name": clash.name_ko},
                ),
                code="brn_duplicate",
            )
        organization.brn = digits
        organization.brn_checksum_ok = brn_rules.checksum_ok(digits)
    else:
        if organization.parent_id is None:
            raise DomainError(_("Enter the business registration number."), code="brn_required")
        organization.brn = None
        organization.brn_checksum_ok = None


@transaction.atomic
def organization_register(*, actor: User, brn: str | None, **fields) -> Organization:
    """A signed-in user registers an organization; it waits for a platform admin's verification.

    The user becomes its owner and it becomes their active organization.
    """
    _require(actor.is_authenticated and actor.is_active)
    organization = Organization(**{k: v for k, v in fields.items() if k in ORG_FIELDS})
    organization.created_by = actor
    organization.verification = V.REQUESTED
    organization.verification_requested_at = timezone.now()
    _apply_brn(organization, brn)
    organization.slug = _unique_slug(fields.get("name_en", ""), fields.get("name_ko", ""))
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as exc:  # two people registering the same number at the same moment
        raise DomainError(_("This business registration number is already registered."), code="brn_duplicate") from exc
    Membership.objects.create(user=actor, organization=organization, role=Membership.Role.OWNER)
    actor.active_organization = organization
    actor.save(update_fields=["active_organization"])
    forget_roles(actor)
    audit(
        actor=actor,
        action="organization.requested",
        obj=organization,
        organization=organization,
        data={"brn": organization.brn, "brn_checksum_ok": organization.brn_checksum_ok, "kind": organization.kind},
    )
    email_on_commit(
        to=selectors.platform_admin_emails(),
        template="email/org_verification_requested",
        context={"organization": organization, "url": site_url(reverse("staff:organization", args=[organization.pk]))},
    )
    return organization


@transaction.atomic
def organization_update(*, actor: User, organization: Organization, brn: str | None, **fields) -> Organization:
    """The owner corrects the organization's details. A rejected organization is asked for again.

    Changing what the admin verified (registration number, Korean name, kind, type, parent) sends a
    verified organization back to verification.
    """
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    _require(can(actor, "accounts.manage_org", organization))
    before = {name: getattr(organization, name) for name in (*IDENTITY_FIELDS, "brn")}
    for key, value in fields.items():
        if key in ORG_FIELDS:
            setattr(organization, key, value)
    _apply_brn(organization, brn)
    changed_brn = before["brn"] != organization.brn
    changed_identity = [name for name in (*IDENTITY_FIELDS, "brn") if before[name] != getattr(organization, name)]
    resubmitted = organization.verification == V.REJECTED or bool(
        changed_identity and organization.verification == V.VERIFIED
    )
    organization.save()
    changes = {"brn_changed": changed_brn, "identity_changed": changed_identity}
    if resubmitted:
        organization.verification_requested_at = timezone.now()
        organization.verification_reason = ""
        transition(
            organization,
            to=V.REQUESTED,
            actor=actor,
            action="organization.resubmitted",
            fields=("verification_requested_at", "verification_reason"),
            data=changes,
        )
    else:
        audit(actor=actor, action="organization.updated", obj=organization, organization=organization, data=changes)
    # Its names, contact details and (when resubmitted) its lost badge show on catalog pages: the dataset pages, the
    # catalog's results and facets, the home page, the public organization list (the anonymous page cache among them).
    bump_generation_on_commit()
    if resubmitted:
        email_on_commit(
            to=selectors.platform_admin_emails(),
            template="email/org_verification_requested",
            context={
                "organization": organization,
                "url": site_url(reverse("staff:organization", args=[organization.pk])),
            },
        )
    return organization


def _decide(*, actor: User, organization: Organization, to: str, reason: str, action: str) -> Organization:
    _require(can(actor, "accounts.verify_org", organization))
    organization = Organization.objects.select_for_update().get(pk=organization.pk)
    if organization.verification == to:
        # A double click or a second admin deciding the same way: nothing more to do.
        return organization
    organization.verification_reason = reason
    organization.verified_at = timezone.now()
    organization.verified_by = actor
    transition(
        organization,
        to=to,
        actor=actor,
        reason=reason,
        action=action,
        fields=("verification_reason", "verified_at", "verified_by"),
        data={"brn": organization.brn, "brn_checksum_ok": organization.brn_checksum_ok},
    )
    bump_generation_on_commit()  # its badge and the public organization list, cached per catalog generation
    email_on_commit(
        to=selectors.member_emails(organization, Membership.Role.OWNER),
        template="email/org_verification_decided",
        context={
            "organization": organization,
            "verified": to == V.VERIFIED,
            "reason": reason,
            "url": site_url(reverse("accounts:organization", args=[organization.pk])),
        },
    )
    return organization


@transaction.atomic
def organization_verify(*, actor: User, organization: Organization, reason: str = "") -> Organization:
    """A platform admin confirms the organization is who it says it is."""
    return _decide(
        actor=actor, organization=organization, to=V.VERIFIED, reason=reason.strip(), action="organization.verified"
    )


@transaction.atomic
def organization_reject(*, actor: User, organization: Organization, reason: str) -> Organization:
    """A platform admin refuses verification; the reason is required and shown to the owner."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(
            _("Write the reason for the rejection: the organization will read it."), code="reason_required"
        )
    return _decide(actor=actor, organization=organization, to=V.REJECTED, reason=reason, action="organization.rejected")


@transaction.atomic
def invitation_create(
    *, actor: User, organization: Organization, email: str, role: str, language: str = "ko"
) -> Invitation:
    """An owner invites an e-mail address with a role. Inviting the same address again re-sends it."""
    _require(can(actor, "accounts.manage_org", organization))
    email = (email or "").strip().lower()
    if role not in Membership.Role.values:
        raise DomainError(_("Choose a role."), code="role_invalid")
    if Membership.objects.filter(organization=organization, user__email__iexact=email).exists():
        raise DomainError(lazy_percent(_("%(email)s is already a member."), {"email": email}), code="already_member")
    expires = timezone.now() + timedelta(days=settings.INVITATION_TTL_DAYS)
    invitation = (
        Invitation.objects.select_for_update()
        .filter(organization=organization, email=email, state=Invitation.State.PENDING)
        .first()
    )
    if invitation:
        invitation.role = role
        invitation.expires_at = expires
        invitation.save(update_fields=["role", "expires_at"])
    else:
        invitation = Invitation.objects.create(
            organization=organization, email=email, role=role, invited_by=actor, expires_at=expires
        )
    audit(
        actor=actor,
        action="invitation.sent",
        obj=invitation,
        organization=organization,
        data={"email": email, "role": role},
    )
    email_on_commit(
        to=[email],
        template="email/invitation",
        context={
            "invitation": invitation,
            "organization": organization,
            "inviter": actor,
            "url": site_url(reverse("accounts:invitation", args=[invitation.token])),
        },
        language=language,
    )
    return invitation


@transaction.atomic
def invitation_accept(*, actor: User, token: str) -> Membership:
    """The invited person, signed in with the invited address, joins the organization."""
    invitation = Invitation.objects.select_for_update().filter(token=token).first()
    if invitation is None:
        raise DomainError(_("This invitation does not exist."), code="invitation_unknown")
    if invitation.state == Invitation.State.ACCEPTED and invitation.accepted_by_id == actor.pk:
        return Membership.objects.get(user=actor, organization=invitation.organization)
    if not invitation.is_usable:
        raise DomainError(
            _("This invitation has expired or was withdrawn. Ask for a new one."), code="invitation_unusable"
        )
    if actor.email.lower() != invitation.email.lower():
        raise NotAllowed(
            lazy_percent(
                _("This invitation was sent to %(email)s. Sign in with that address to accept it."),
                {"email": invitation.email},
            )
        )
    existing = Membership.objects.filter(user=actor, organization=invitation.organization).first()
    if existing is not None:
        # Accepting would silently ignore the invited role: say so instead, and change nothing.
        raise DomainError(
            lazy_percent(
                _("You are already a member of %(name)s (%(role)s). Ask an owner to change your role."),
                {"name": invitation.organization.name_ko, "role": choice_label(existing, "role")},
            ),
            code="already_member",
        )
    membership = Membership.objects.create(user=actor, organization=invitation.organization, role=invitation.role)
    created = True
    invitation.state = Invitation.State.ACCEPTED
    invitation.accepted_by = actor
    invitation.accepted_at = timezone.now()
    invitation.save(update_fields=["state", "accepted_by", "accepted_at"])
    if actor.active_organization_id is None:
        actor.active_organization = invitation.organization
        actor.save(update_fields=["active_organization"])
    forget_roles(actor)
    audit(
        actor=actor,
        action="membership.joined",
        obj=membership,
        organization=invitation.organization,
        data={"role": membership.role, "invitation": invitation.pk, "created": created},
    )
    return membership


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    """An owner withdraws a pending invitation."""
    _require(can(actor, "accounts.manage_org", invitation.organization))
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.state != Invitation.State.PENDING:
        raise IllegalTransition(_("Only a pending invitation can be withdrawn."))
    invitation.state = Invitation.State.REVOKED
    invitation.save(update_fields=["state"])
    audit(actor=actor, action="invitation.revoked", obj=invitation, organization=invitation.organization)
    return invitation


def invitations_expire() -> int:
    """Mark pending invitations past their expiry (run by celery beat). Returns how many."""
    return Invitation.objects.filter(state=Invitation.State.PENDING, expires_at__lte=timezone.now()).update(
        state=Invitation.State.EXPIRED
    )


def _other_owners(membership: Membership) -> bool:
    return (
        Membership.objects.filter(organization=membership.organization, role=Membership.Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def membership_change_role(*, actor: User, membership: Membership, role: str) -> Membership:
    """An owner changes a member's role. The last owner cannot step down."""
    _require(can(actor, "accounts.manage_org", membership.organization))
    if role not in Membership.Role.values:
        raise DomainError(_("Choose a role."), code="role_invalid")
    # Lock the organization's owner rows so two owners demoting each other cannot leave none.
    list(
        Membership.objects.select_for_update().filter(organization=membership.organization, role=Membership.Role.OWNER)
    )
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == role:
        return membership
    if membership.role == Membership.Role.OWNER and not _other_owners(membership):
        raise DomainError(
            _("An organization needs at least one owner. Make someone else owner first."), code="last_owner"
        )
    old = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    forget_roles(actor)
    audit(
        actor=actor,
        action="membership.role_changed",
        obj=membership,
        organization=membership.organization,
        data={"user": membership.user.email, "from": old, "to": role},
    )
    return membership


@transaction.atomic
def membership_remove(*, actor: User, membership: Membership) -> None:
    """An owner removes a member, or a member leaves. The last owner cannot leave."""
    _require(can(actor, "accounts.manage_org", membership.organization) or membership.user_id == actor.pk)
    list(
        Membership.objects.select_for_update().filter(organization=membership.organization, role=Membership.Role.OWNER)
    )
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.role == Membership.Role.OWNER and not _other_owners(membership):
        raise DomainError(
            _("An organization needs at least one owner. Make someone else owner first."), code="last_owner"
        )
    user = membership.user
    audit(
        actor=actor,
        action="membership.removed",
        obj=membership,
        organization=membership.organization,
        data={"user": user.email, "role": membership.role},
    )
    _revoke_member_tokens(membership, actor=actor, reason="membership removed")
    membership.delete()
    if user.active_organization_id == membership.organization_id:
        user.active_organization = None
        user.save(update_fields=["active_organization"])
    forget_roles(actor)


@transaction.atomic
def active_organization_set(*, actor: User, organization: Organization) -> User:
    """The user picks which of their organizations they act for."""
    _require(Membership.objects.filter(user=actor, organization=organization).exists())
    actor.active_organization = organization
    actor.save(update_fields=["active_organization"])
    return actor


@transaction.atomic
def user_update_profile(*, actor: User, name: str, phone: str) -> User:
    """A user edits their own name and phone."""
    actor.name = name.strip()
    actor.phone = phone.strip()
    actor.save(update_fields=["name", "phone"])
    return actor


# --- terms of use and privacy policy ------------------------------------------------------------------------------


@transaction.atomic
def policies_agree(*, actor: User, policies, ip: str | None = None) -> list[PolicyAgreement]:
    """The user agrees to these versions (shown at sign-up, or after a new version came into force).

    Only versions in force can be agreed to; agreeing twice to the same version records it once."""
    in_force = set(selectors.policy_ids_in_force().values())
    agreements = []
    for policy in policies:
        if policy.pk not in in_force:
            raise DomainError(
                _("This version is no longer the one in force: read the current one and agree again."),
                code="policy_not_in_force",
            )
        agreement, created = PolicyAgreement.objects.get_or_create(user=actor, policy=policy, defaults={"ip": ip})
        if created:
            audit(
                actor=actor,
                action="policy.agreed",
                obj=policy,
                data={"kind": policy.kind, "version": policy.version, "ip": ip},
            )
        agreements.append(agreement)
    return agreements


@transaction.atomic
def policy_version_create(
    *,
    actor: User,
    kind: str,
    version: str,
    effective_on,
    body_ko: str,
    body_en: str,
    changes_ko: str = "",
    changes_en: str = "",
) -> PolicyVersion:
    """A platform admin adds a new version of the terms or the privacy policy, in force from a day not before
    today and after the latest version's; signed-in users are asked to agree to it from that day on."""
    _require(can(actor, "accounts.platform_admin"))
    version = version.strip()
    if effective_on < timezone.localdate():
        raise DomainError(_("A new version cannot take effect in the past."), code="policy_in_past")
    latest = PolicyVersion.objects.filter(kind=kind).order_by("-effective_on").first()
    if latest and effective_on <= latest.effective_on:
        raise DomainError(
            lazy_percent(
                _("A new version must take effect after the latest one (%(date)s)."), {"date": latest.effective_on}
            ),
            code="policy_not_after_latest",
        )
    if PolicyVersion.objects.filter(kind=kind, version=version).exists():
        raise DomainError(
            lazy_percent(_("Version %(version)s exists already."), {"version": version}), code="policy_duplicate"
        )
    if not body_ko.strip() or not body_en.strip():
        raise DomainError(_("Write the text in Korean and in English."), code="policy_text")
    policy = PolicyVersion.objects.create(
        kind=kind,
        version=version,
        effective_on=effective_on,
        body_ko=body_ko,
        body_en=body_en,
        changes_ko=changes_ko.strip(),
        changes_en=changes_en.strip(),
        created_by=actor,
    )
    audit(actor=actor, action="policy.created", obj=policy, data={"kind": kind, "version": version})
    # Forget the cached index now (this transaction reads the new row) and again after commit (another request
    # may have cached the index without it meanwhile).
    cache.delete(selectors.POLICY_INDEX_KEY)
    transaction.on_commit(lambda: cache.delete(selectors.POLICY_INDEX_KEY))
    return policy


# --- API keys -----------------------------------------------------------------------------------------------


def api_token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _scope_problem(actor: User, organization: Organization | None, scopes: list[str]):
    """Why the actor may not give a key these scopes (None when they may): a key never has more power than its
    maker has today."""
    if not scopes or any(s not in ApiToken.Scope.values for s in scopes):
        return _("Choose at least one of the scopes read, publish, buy, data and admin.")
    if ApiToken.Scope.ADMIN in scopes and not actor.is_staff:
        return _("Only a platform admin can make a key with the admin scope.")
    if organization is None:
        if set(scopes) - {ApiToken.Scope.ADMIN, ApiToken.Scope.READ} or not actor.is_staff:
            return _("Choose the organization the key acts for.")
        return None
    allowed = selectors.api_scopes_allowed(actor, organization)
    for scope in selectors.API_SCOPE_NEEDS:
        if scope in scopes and scope not in allowed:
            return lazy_percent(
                _("You cannot give a key the %(scope)s scope for %(name)s: you may not do that yourself."),
                {"scope": scope, "name": organization.name_ko},
            )
    return None


@transaction.atomic
def api_token_create(
    *, actor: User, organization: Organization | None, name: str, scopes, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """Make an API key; returns the row and the key itself, which is never stored and never shown again.

    A person makes keys (the keys page, or the API with the signed-in session), never a key: a leaked key could
    otherwise renew itself past its expiry and outlive its own revocation."""
    name = (name or "").strip()
    if not name:
        raise DomainError(_("Give the key a name, such as the program that will use it."), code="name_required")
    scopes = sorted(set(scopes or []))
    if organization is not None and not Membership.objects.filter(user=actor, organization=organization).exists():
        raise NotAllowed(_("You are not a member of this organization."))
    if getattr(actor, "api_token", None) is not None:
        raise NotAllowed(_("Keys are made by a person: on your page, or with your signed-in session, not with a key."))
    problem = _scope_problem(actor, organization, scopes)
    if problem:
        raise DomainError(problem, code="scope_not_allowed")
    max_days = settings.API_TOKEN_MAX_DAYS
    days = settings.API_TOKEN_DEFAULT_DAYS if expires_in_days is None else int(expires_in_days)
    if not 1 <= days <= max_days:
        raise DomainError(
            lazy_percent(_("A key lasts from 1 to %(max)s days."), {"max": max_days}), code="expiry_out_of_range"
        )
    key = settings.API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=actor,
        organization=organization,
        name=name[:100],
        prefix=key[: len(settings.API_TOKEN_PREFIX) + 6],
        digest=api_token_digest(key),
        scopes=scopes,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    audit(
        actor=actor,
        action="api_token.created",
        obj=token,
        organization=organization,
        data={"name": token.name, "scopes": scopes, "expires_at": token.expires_at.isoformat()},
    )
    return token, key


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken, reason: str = "") -> ApiToken:
    """The key's user (or a platform admin) revokes it; it is refused from the next request on. Idempotent."""
    if token.user_id != actor.pk and not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("Only the key's owner can revoke it."))
    used = getattr(actor, "api_token", None)
    if used is not None and used.pk != token.pk and not can(actor, "accounts.platform_admin"):
        raise NotAllowed(_("A key can revoke only itself: revoke other keys on your page."))
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.revoked_by = actor
        token.revoked_reason = str(reason or "")[:200]
        token.save(update_fields=["revoked_at", "revoked_by", "revoked_reason"])
        audit(
            actor=actor,
            action="api_token.revoked",
            obj=token,
            organization_id=token.organization_id,
            reason=reason,
            data={"name": token.name},
        )
    return token


def _revoke_member_tokens(membership: Membership, *, actor: User, reason: str) -> int:
    """Revoke the keys a user holds for an organization they no longer belong to (inside the caller's
    transaction). Authentication refuses them anyway; this makes the key list say so."""
    return ApiToken.objects.filter(
        user=membership.user, organization=membership.organization, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), revoked_by=actor, revoked_reason=reason[:200])


def api_token_used(*, token: ApiToken, ip: str | None) -> None:
    """Remember when and from where a key was last used: at most one write a minute per key (and whenever the
    address changes), so a busy program does not write on every request."""
    now = timezone.now()
    if (
        token.last_used_at
        and now - token.last_used_at < timedelta(seconds=settings.API_TOKEN_TOUCH_SECONDS)
        and token.last_used_ip == ip
    ):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
    token.last_used_at, token.last_used_ip = now, ip
