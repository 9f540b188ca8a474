"""Who may read what through the data API (issue 16): `data_access` decides, for one caller and one dataset
(and version), whether the full data is open or only the published sample, whether live rows are, and which API
plan meters the call. Read on every call, so an entitlement refunded or ended closes the full data at once.

Full data:
- the publisher's members and platform admins;
- an entitlement (not revoked, valid now) of kind free / one_off for that version;
- a subscription period running now: every version, and live;
- an active API plan (api_dev / api_metered / api_subscription) of the dataset: every version, and live.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Membership, Organization
from accounts.permissions import can
from catalog.models import Dataset, DatasetVersion, Offer
from transactions.apiplans.models import ApiPlan
from transactions.models import Entitlement

WHY_SIGN_IN = _("Only the published sample is open: sign in (or send an API key) with an organization that bought it.")
WHY_NOT_BOUGHT = _(
    "Only the published sample is open: your organization has no active purchase, subscription or API plan "
    "covering this data."
)
WHY_NOT_THIS_VERSION = _(
    "Only the published sample is open for this version: your organization bought another version. "
    "Buy this one, subscribe, or take an API plan."
)


@dataclass
class DataAccess:
    full: bool  # may read the full data of the version asked (else sample only)
    live: bool  # may read live rows of the dataset
    organization: Organization | None
    entitlement: Entitlement | None
    plan: ApiPlan | None  # the plan that meters this call (None → the default allowance)
    why_not: str  # bilingual lazy text shown when full is False ("" when full)


def _valid_now(now) -> Q:
    return Q(revoked_at__isnull=True, valid_from__lte=now) & (Q(valid_until__isnull=True) | Q(valid_until__gt=now))


def active_plan(organization: Organization | None, dataset: Dataset, *, now=None) -> ApiPlan | None:
    """The organization's active API plan of the dataset whose entitlement holds now (refunded or over: none)."""
    if organization is None:
        return None
    now = now or timezone.now()
    return (
        ApiPlan.objects.filter(organization=organization, dataset=dataset, state=ApiPlan.State.ACTIVE)
        .filter(entitlement__revoked_at__isnull=True, entitlement__valid_from__lte=now)
        .filter(Q(entitlement__valid_until__isnull=True) | Q(entitlement__valid_until__gt=now))
        .select_related("entitlement")
        .first()
    )


def _is_publisher_member(user, organization: Organization | None, dataset: Dataset) -> bool:
    if organization is None or organization.pk != dataset.publisher_id:
        return False
    if not (user and user.is_authenticated):
        return False
    return Membership.objects.filter(user=user, organization=organization).exists()


def _plan_of(entitlement: Entitlement) -> ApiPlan | None:
    try:
        plan = entitlement.api_plan
    except ApiPlan.DoesNotExist:
        return None
    return plan if plan.state == ApiPlan.State.ACTIVE else None


def _facts(user, organization: Organization | None, dataset: Dataset, now):
    """What decides access to any version of the dataset: the active plan, whether the caller is the publisher's or
    a platform admin, and the organization's entitlements valid now. One query for a buyer (its entitlements valid
    now, with their API plans)."""
    entitlements = []
    if organization is not None:
        entitlements = list(
            Entitlement.objects.filter(organization=organization, dataset=dataset)
            .filter(_valid_now(now))
            .select_related("api_plan")
            .order_by("-valid_from", "-id")
        )
    plan = next((p for p in map(_plan_of, entitlements) if p is not None), None)
    privileged = can(user, "accounts.platform_admin") or _is_publisher_member(user, organization, dataset)
    files = (Offer.Kind.FREE, Offer.Kind.ONE_OFF, Offer.Kind.SUBSCRIPTION)
    return plan, privileged, [e for e in entitlements if e.kind in files]


def _decide(organization, version, plan, privileged, entitlements) -> DataAccess:
    if privileged:
        return DataAccess(True, True, organization, plan.entitlement if plan else None, plan, "")
    if plan is not None:
        return DataAccess(True, True, organization, plan.entitlement, plan, "")
    if organization is None:
        return DataAccess(False, False, None, None, None, WHY_SIGN_IN)
    running = next((e for e in entitlements if e.kind == Offer.Kind.SUBSCRIPTION), None)
    if running is not None:
        return DataAccess(True, True, organization, running, None, "")
    if version is not None:
        owned = next((e for e in entitlements if e.version_id == version.pk), None)
        if owned is not None:
            return DataAccess(True, False, organization, owned, None, "")
        if entitlements:
            return DataAccess(False, False, organization, None, None, WHY_NOT_THIS_VERSION)
    return DataAccess(False, False, organization, None, None, WHY_NOT_BOUGHT)


def data_access(
    *, user, organization: Organization | None, dataset: Dataset, version: DatasetVersion | None
) -> DataAccess:
    """What `user` acting for `organization` may read of `dataset` (the version asked, or None for live / no
    particular version). Organization None: anonymous or a user acting for no organization (sample only, unless a
    platform admin)."""
    return _decide(organization, version, *_facts(user, organization, dataset, timezone.now()))


def data_access_for_versions(
    *, user, organization: Organization | None, dataset: Dataset, versions
) -> tuple[dict[int, DataAccess], DataAccess]:
    """data_access for each of `versions` (by id) and for no particular version (live), with the queries of one
    call: the dataset's table list shows every version, and a live dataset gains one a day."""
    facts = _facts(user, organization, dataset, timezone.now())
    return {v.pk: _decide(organization, v, *facts) for v in versions}, _decide(organization, None, *facts)
