"""Read queries of the accounts app, shared by the HTML views and (later) the API."""

from dataclasses import dataclass
from datetime import date

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy

from accounts.models import ApiToken, Invitation, Membership, Organization, PolicyAgreement, PolicyVersion, User
from accounts.permissions import can
from core.errors import NotAllowed
from core.models import AuditEvent
from core.text import lazy_percent


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


def organization_get_for_staff(pk: int) -> Organization:
    """Any organization, for the platform admin's verification page and API (the caller checks the admin)."""
    return get_object_or_404(Organization.objects.select_related("parent", "created_by", "verified_by"), pk=pk)


@dataclass(frozen=True)
class BrnCheck:
    """What the verifying admin is told about an organization's business registration number: `status` is passed,
    mismatch (the check digit failed: a warning, never a refusal), not_checked, parent (a department using its
    parent's number) or missing; `message` says it in words (lazy)."""

    status: str
    message: object


def brn_check(organization: Organization) -> BrnCheck:
    """The same verdict and words as the staff page's "Business registration number" box."""
    lookup = gettext_lazy("Confirm the number with the National Tax Service's business status lookup before verifying.")
    if organization.brn:
        if organization.brn_checksum_ok:
            return BrnCheck(
                "passed",
                gettext_lazy(
                    "The number is well-formed. The check digit only catches typing errors: it does not prove that "
                    "the business exists or is active."
                ),
            )
        if organization.brn_checksum_ok is False:
            failed = gettext_lazy(
                "The number failed the check-digit test. That is often a typing error, but some real numbers fail it "
                "too."
            )
            return BrnCheck("mismatch", format_lazy("{} {}", failed, lookup))
        return BrnCheck(
            "not_checked",
            gettext_lazy(
                "The check digit was not computed. Confirm the number with the National Tax Service's business "
                "status lookup."
            ),
        )
    if organization.parent_id:
        return BrnCheck(
            "parent",
            lazy_percent(
                gettext_lazy(
                    "A department without its own number uses the number of its parent organization, "
                    "%(parent)s: %(brn)s."
                ),
                {"parent": organization.parent.name_ko, "brn": organization.brn_display},
            ),
        )
    return BrnCheck("missing", gettext_lazy("No number and no parent organization are recorded."))


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
            "no_organization",
            gettext_lazy("Purchases are made for an organization. Register your company or join one first."),
        )
    # Lazy, so a refusal reads in either language (the API gives both); the name follows the language too.
    name = {"name": lazy(lambda: organization.display_name, str)()}
    if not organization.is_consumer:
        return BuyerRefusal(
            "not_consumer",
            lazy_percent(
                gettext_lazy("%(name)s is registered as a provider only; only buyer organizations can buy."), name
            ),
        )
    if not organization.is_verified:
        return BuyerRefusal(
            "not_verified",
            lazy_percent(
                gettext_lazy("%(name)s is waiting for verification by a platform admin; it can buy once verified."),
                name,
            ),
        )
    if not can(user, "accounts.buy_for_org", organization):
        return BuyerRefusal(
            "no_buyer_role",
            lazy_percent(
                gettext_lazy("Buying for %(name)s needs the buyer or owner role: ask an owner of your organization."),
                name,
            ),
        )
    return None


# --- terms of use and privacy policy ------------------------------------------------------------------------------

POLICY_INDEX_KEY = "accounts:policy-index"


def _policy_index() -> list[tuple[str, int, date]]:
    """(kind, id, effective_on) of every policy version, newest first: a few rows, cached until a version is
    added (accounts.services.policy_version_create), so the consent middleware costs no query."""
    index = cache.get(POLICY_INDEX_KEY)
    if index is None:
        index = list(PolicyVersion.objects.order_by("kind", "-effective_on").values_list("kind", "pk", "effective_on"))
        # "No policies" (a request before the seeding migration) is remembered only briefly.
        cache.set(POLICY_INDEX_KEY, index, 3600 if index else 60)
    return index


def policy_ids_in_force(today: date | None = None) -> dict[str, int]:
    """{kind: id} of the version of each document in force today (the latest one whose date has come)."""
    today = today or timezone.localdate()
    in_force: dict[str, int] = {}
    for kind, pk, effective_on in _policy_index():
        if effective_on <= today and kind not in in_force:
            in_force[kind] = pk
    return in_force


def policies_in_force() -> dict[str, PolicyVersion]:
    """{kind: version} of the versions in force (what sign-up shows and records)."""
    ids = policy_ids_in_force()
    by_pk = PolicyVersion.objects.in_bulk(list(ids.values()))
    return {kind: by_pk[pk] for kind, pk in ids.items() if pk in by_pk}


def policy_versions(kind: str) -> list[PolicyVersion]:
    """Every version of a document, newest first (upcoming ones included: they are announced ahead)."""
    return list(PolicyVersion.objects.filter(kind=kind).order_by("-effective_on"))


def policy_get(kind: str, version: str | None = None) -> PolicyVersion:
    """A version of a document by its label, or the one in force; 404 when there is none."""
    if version is None:
        pk = policy_ids_in_force().get(kind)
        if pk is None:
            raise Http404
        return get_object_or_404(PolicyVersion, pk=pk)
    return get_object_or_404(PolicyVersion, kind=kind, version=version)


def policies_to_agree(user, *, agreed_ids=()) -> list[PolicyVersion]:
    """The versions in force that the user has not agreed to yet (none for anonymous users). `agreed_ids`
    (remembered in the session) spares the query when it already covers every version in force."""
    if not user.is_authenticated:
        return []
    in_force = set(policy_ids_in_force().values())
    missing = in_force - set(agreed_ids)
    if not missing:
        return []
    missing -= set(PolicyAgreement.objects.filter(user=user, policy_id__in=missing).values_list("policy_id", flat=True))
    return list(PolicyVersion.objects.filter(pk__in=missing).order_by("kind")) if missing else []


def policy_agreements(user) -> list[PolicyAgreement]:
    return list(PolicyAgreement.objects.filter(user=user).select_related("policy").order_by("-agreed_at"))


# What each scope beyond `read` lets a key do, as the permission its maker must hold for the key's organization.
API_SCOPE_NEEDS = {
    ApiToken.Scope.PUBLISH: "accounts.publish_for_org",
    ApiToken.Scope.BUY: "accounts.buy_for_org",
}


def api_scopes_allowed(user: User, organization: Organization | None) -> list[str]:
    """The scopes `user` may give a key acting for `organization` (None: for no organization), in the scopes'
    order: a key never has more power than its maker has today. accounts.services.api_token_create refuses the
    rest; the keys page enables only these."""
    if organization is None:
        return [ApiToken.Scope.READ, ApiToken.Scope.ADMIN] if user.is_staff else []
    if not Membership.objects.filter(user=user, organization=organization).exists():
        return []
    allowed = []
    for scope in ApiToken.Scope.values:
        if scope == ApiToken.Scope.ADMIN:
            ok = user.is_staff
        elif scope in API_SCOPE_NEEDS:
            ok = can(user, API_SCOPE_NEEDS[scope], organization)
        else:
            ok = True
        if ok:
            allowed.append(scope)
    return allowed


def api_tokens_for_user(user: User) -> QuerySet[ApiToken]:
    """The user's API keys, newest first, with their organization (revoked and expired ones too)."""
    return ApiToken.objects.filter(user=user).select_related("organization").order_by("-created_at")


def api_token_get_for_user(*, user: User, pk: int) -> ApiToken:
    """One of the user's keys (a platform admin may read anyone's, with a key only one with the admin scope); 404 for
    another user's, so ids leak nothing."""
    qs = ApiToken.objects.select_related("organization", "user")
    if not can(user, "accounts.platform_admin"):
        qs = qs.filter(user=user)
    return get_object_or_404(qs, pk=pk)


# --- API keys: the lookup on every request made with a key ----------------------------------------------------


@dataclass(frozen=True)
class _KeyQuery:
    sql: str
    parts: tuple  # (model, attnames) in the order of the columns


_key_query: _KeyQuery | None = None


def _api_token_query() -> _KeyQuery:
    """One fixed SQL statement for the key, its user, its organization and whether the user still belongs to it.
    Built once: composing the equivalent queryset (select_related plus an Exists annotation) on every request cost
    about as much as running it."""
    global _key_query
    if _key_query is None:
        parts, columns = [], []
        for model, alias in ((ApiToken, "t"), (User, "u"), (Organization, "o")):
            attnames = tuple(f.attname for f in model._meta.concrete_fields)
            parts.append((model, attnames))
            columns += [f'{alias}."{f.column}"' for f in model._meta.concrete_fields]
        sql = (
            f"SELECT {', '.join(columns)}, EXISTS (SELECT 1 FROM {Membership._meta.db_table} m"
            f" WHERE m.user_id = t.user_id AND m.organization_id = t.organization_id)"
            f" FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id"
            f" LEFT JOIN {Organization._meta.db_table} o ON o.id = t.organization_id WHERE t.digest = %s"
        )
        _key_query = _KeyQuery(sql=sql, parts=tuple(parts))
    return _key_query


def api_token_for_digest(digest: str) -> tuple[ApiToken, bool] | None:
    """The key with this SHA-256 (its user and organization loaded) and whether its user is still a member of the
    key's organization; None for no such key."""
    query = _api_token_query()
    with connection.cursor() as cursor:
        cursor.execute(query.sql, [digest])
        row = cursor.fetchone()
    if row is None:
        return None
    objects, start = [], 0
    for model, attnames in query.parts:
        values = row[start : start + len(attnames)]
        start += len(attnames)
        objects.append(None if values[0] is None else model.from_db("default", attnames, values))
    token, user, organization = objects
    token.user = user
    token.organization = organization
    return token, bool(row[start])
