"""TEMP contract shim (issue 16): the metering helper's real access.py replaces this file."""

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.permissions import is_member, is_platform_admin
from transactions.models import Entitlement


@dataclass
class DataAccess:
    full: bool
    live: bool
    organization: object | None
    entitlement: object | None
    plan: object | None
    why_not: str


def data_access(*, user, organization, dataset, version) -> DataAccess:
    if user is not None and (is_platform_admin(user) or is_member(user, dataset.publisher)):
        return DataAccess(True, True, organization, None, None, "")
    entitlement = None
    if organization is not None:
        now = timezone.now()
        active = Entitlement.objects.filter(
            organization=organization, dataset=dataset, revoked_at__isnull=True, valid_from__lte=now
        ).filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        if version is not None:
            entitlement = active.filter(Q(version=version) | Q(kind="subscription")).first()
        else:
            entitlement = active.filter(kind="subscription").first()
    if entitlement is not None:
        return DataAccess(True, entitlement.kind == "subscription", organization, entitlement, None, "")
    return DataAccess(
        False,
        False,
        organization,
        None,
        None,
        _("Your organization has no active entitlement or API plan for this data: only the sample can be read."),
    )
