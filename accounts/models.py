"""Users, organizations, memberships and invitations (the audit trail is core.models.AuditEvent)."""

import secrets

from django.conf import settings
from django.contrib.auth.models import (
    AbstractBaseUser,
    BaseUserManager,
    PermissionsMixin,
)
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.db import choices_constraint


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in with an e-mail address.

    `is_staff` marks a platform admin (reviewer): they get the /staff/ pages.
    """

    email = models.EmailField(_("e-mail address"), unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=30, blank=True)
    is_staff = models.BooleanField(_("platform admin"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)
    # The organization the user acts for; chosen in the header, checked against memberships.
    active_organization = models.ForeignKey(
        "accounts.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return self.email

    def get_full_name(self):
        return self.name or self.email

    def get_short_name(self):
        return self.name or self.email.split("@")[0]


class OrganizationKind(models.TextChoices):
    PROVIDER = "provider", _("Provider (publishes data)")
    CONSUMER = "consumer", _("Consumer (buys data)")
    BOTH = "both", _("Provider and consumer")


class OrganizationVerification(models.TextChoices):
    REQUESTED = "requested", _("Verification requested")  # waiting for a platform admin
    VERIFIED = "verified", _("Verified")  # may publish / buy
    REJECTED = "rejected", _("Rejected")  # reason recorded; the owner may fix and ask again


class Organization(models.Model):
    """A city department or public body (provider), a company or other body (consumer), or both."""

    Kind = OrganizationKind

    class OrgType(models.TextChoices):
        CITY_DEPARTMENT = "city_department", _("City department")
        PUBLIC_BODY = "public_body", _("Public body")
        COMPANY = "company", _("Company")
        RESEARCH = "research", _("Research institute or university")
        CITIZEN_GROUP = "citizen_group", _("Citizen group")

    class VatStatus(models.TextChoices):
        TAXABLE = "taxable", _("VAT taxable (과세)")
        EXEMPT = "exempt", _("VAT exempt (면세)")

    Verification = OrganizationVerification

    name_ko = models.CharField(_("name (Korean)"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    slug = models.SlugField(_("short name"), max_length=80, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    org_type = models.CharField(_("type"), max_length=30, choices=OrgType.choices)
    # A department (e.g. 환경정책과) belongs to its city and shares the city's number.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="departments",
        verbose_name=_("parent organization"),
    )
    brn = models.CharField(
        _("business registration number"),
        max_length=10,
        null=True,
        blank=True,
        unique=True,
        help_text=_("10 digits, stored without hyphens."),
    )
    # A failed checksum is a flag for the verifying admin, not a refusal: real numbers fail it.
    brn_checksum_ok = models.BooleanField(_("BRN checksum passed"), null=True, blank=True)
    vat_status = models.CharField(_("VAT status"), max_length=10, choices=VatStatus.choices, default=VatStatus.TAXABLE)
    representative = models.CharField(_("representative"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=30, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    website = models.URLField(_("website"), blank=True)
    description = models.TextField(_("description"), blank=True)

    verification = models.CharField(
        _("verification"), max_length=20, choices=Verification.choices, default=Verification.REQUESTED
    )
    verification_reason = models.TextField(_("reason of the last decision"), blank=True)
    verification_requested_at = models.DateTimeField(_("verification requested"), default=timezone.now)
    verified_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["name_ko"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(brn__isnull=False) | models.Q(parent__isnull=False),
                name="org_brn_or_parent",
                violation_error_message=_("An organization needs a business registration number or a parent."),
            ),
            models.CheckConstraint(
                condition=models.Q(brn__isnull=True) | models.Q(brn__regex=r"^[0-9]{10}$"),
                name="org_brn_digits",
            ),
            choices_constraint("verification", OrganizationVerification, name="org_verification_valid"),
            choices_constraint("kind", OrganizationKind, name="org_kind_valid"),
        ]
        indexes = [models.Index(fields=["verification", "verification_requested_at"])]

    def __str__(self):
        return self.name_ko

    @property
    def display_name(self):
        if get_language() == "en" and self.name_en:
            return self.name_en
        return self.name_ko

    @property
    def effective_brn(self):
        if self.brn:
            return self.brn
        return self.parent.effective_brn if self.parent_id else None

    @property
    def brn_display(self):
        brn = self.effective_brn
        return f"{brn[:3]}-{brn[3:5]}-{brn[5:]}" if brn else ""

    @property
    def is_verified(self):
        return self.verification == self.Verification.VERIFIED

    @property
    def is_provider(self):
        return self.kind in (self.Kind.PROVIDER, self.Kind.BOTH)

    @property
    def is_consumer(self):
        return self.kind in (self.Kind.CONSUMER, self.Kind.BOTH)


class MembershipRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    PUBLISHER = "publisher", _("Publisher")
    BUYER = "buyer", _("Buyer")


class Membership(models.Model):
    """A user's role in an organization. Owners manage members and may publish and buy."""

    Role = MembershipRole

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_org"),
            choices_constraint("role", MembershipRole, name="membership_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} @ {self.organization} ({self.role})"

    @property
    def can_publish(self):
        return self.role in (self.Role.OWNER, self.Role.PUBLISHER)

    @property
    def can_buy(self):
        return self.role in (self.Role.OWNER, self.Role.BUYER)


def _invitation_token():
    return secrets.token_urlsafe(32)


class InvitationState(models.TextChoices):
    PENDING = "pending", _("Pending")
    ACCEPTED = "accepted", _("Accepted")
    REVOKED = "revoked", _("Revoked")
    EXPIRED = "expired", _("Expired")


class Invitation(models.Model):
    """An owner's invitation of an e-mail address into an organization with a role."""

    State = InvitationState

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(_("e-mail address"))
    role = models.CharField(_("role"), max_length=20, choices=Membership.Role.choices)
    token = models.CharField(max_length=64, unique=True, default=_invitation_token, editable=False)
    state = models.CharField(_("state"), max_length=20, choices=State.choices, default=State.PENDING)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        constraints = [
            # At most one open invitation per address and organization: a second click re-sends it.
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=models.Q(state="pending"),
                name="invitation_one_pending_per_email",
            ),
            choices_constraint("state", InvitationState, name="invitation_state_valid"),
        ]

    def __str__(self):
        return f"{self.email} → {self.organization} ({self.role})"

    @property
    def is_usable(self):
        return self.state == self.State.PENDING and self.expires_at > timezone.now()


class PolicyKind(models.TextChoices):
    TERMS = "terms", _("Terms of use")
    PRIVACY = "privacy", _("Privacy policy")


class PolicyVersion(models.Model):
    """One version of the terms of use or of the privacy policy, in force from `effective_on`.

    The version in force is the one with the latest `effective_on` not after today
    (accounts.selectors.policy_current); older ones stay readable. Texts are Markdown, Korean first with
    an English translation; `{operator_name}`-style placeholders are filled from the settings when shown
    (marketplace.policy_views). Versions are added, never edited once in force (accounts.services).
    """

    Kind = PolicyKind

    kind = models.CharField(_("document"), max_length=10, choices=Kind.choices)
    version = models.CharField(_("version"), max_length=20)
    effective_on = models.DateField(_("in force from"))
    body_ko = models.TextField(_("text (Korean)"))
    body_en = models.TextField(_("text (English)"))
    changes_ko = models.TextField(_("what changed (Korean)"), blank=True)
    changes_en = models.TextField(_("what changed (English)"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("policy version")
        verbose_name_plural = _("policy versions")
        ordering = ["kind", "-effective_on"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="policy_version_unique"),
            models.UniqueConstraint(fields=["kind", "effective_on"], name="policy_effective_unique"),
            choices_constraint("kind", PolicyKind, name="policy_kind_valid"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.version} ({self.effective_on})"

    @property
    def body(self):
        return self.body_en if get_language() == "en" and self.body_en else self.body_ko

    @property
    def changes(self):
        return self.changes_en if get_language() == "en" and self.changes_en else self.changes_ko

    @property
    def in_force(self):
        return self.effective_on <= timezone.localdate()


class PolicyAgreement(models.Model):
    """A user agreed to one version of a policy (at sign-up, or when a new version came into force)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="policy_agreements")
    policy = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="agreements")
    agreed_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = _("policy agreement")
        verbose_name_plural = _("policy agreements")
        constraints = [models.UniqueConstraint(fields=["user", "policy"], name="policy_agreement_once")]

    def __str__(self):
        return f"{self.user} → {self.policy}"


class ApiScope(models.TextChoices):
    READ = "read", _("Read")
    PUBLISH = "publish", _("Publish")
    BUY = "buy", _("Buy")
    ADMIN = "admin", _("Administer")
    # Issue 16: read the data API (tables, SQL) within the organization's API plans and quotas.
    DATA = "data", _("Data API")


class ApiToken(models.Model):
    """A key a program sends as `Authorization: Token <key>` (or `Bearer <key>`) to act for one organization.

    Only the SHA-256 of the key is stored: the key is 32 random bytes, so a fast hash is as safe as a slow one
    and costs microseconds per request. The key is shown once, when it is made. Its power is the intersection of
    its scopes and what its user may do for its organization *now* (accounts.permissions.can checks both), so a
    member who loses the role or leaves loses the key's power at once."""

    Scope = ApiScope

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        null=True,
        blank=True,
        help_text=_("The organization the key acts for; none for a platform admin's key."),
    )
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("key starts with"), max_length=16, db_index=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = ArrayField(models.CharField(max_length=10, choices=ApiScope.choices), verbose_name=_("scopes"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    revoked_reason = models.CharField(_("why revoked"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scopes__contained_by=[s.value for s in ApiScope]) & ~models.Q(scopes=[]),
                name="api_token_scopes_known",
            ),
            models.CheckConstraint(condition=models.Q(expires_at__gt=models.F("created_at")), name="api_token_expires"),
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        if self.revoked_at:
            return "revoked"
        return "active" if self.expires_at > timezone.now() else "expired"

    def get_state_display(self) -> str:
        return {"revoked": _("Revoked"), "active": _("Active"), "expired": _("Expired")}[self.state]

    def get_scopes_display(self) -> list[str]:
        labels = dict(ApiScope.choices)
        return [str(labels.get(s, s)) for s in self.scopes]
