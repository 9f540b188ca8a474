"""Reads of delivery: an order's packages (the order page's fragment), failed packages (admins)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language

from accounts.permissions import can
from core.errors import NotAllowed
from transactions.models import Package

K = Package.State
IN_PROGRESS = (K.QUEUED, K.BUILDING)


def error_parts(error: str, language: str | None = None) -> tuple[str, str]:
    """(The reason in `language`, the technical detail) of Package.error (see services.error_text)."""
    if not error:
        return "", ""
    lines = error.splitlines()
    detail = "\n".join(line.removeprefix("[detail] ") for line in lines if line.startswith("[detail] "))
    messages = [line for line in lines if not line.startswith("[detail] ")]
    language = (language or get_language() or "ko")[:2]
    if not messages:
        return "", detail
    message = messages[1] if language == "en" and len(messages) > 1 else messages[0]
    return message, detail


def _decorate(packages) -> list[Package]:
    language = get_language()
    for package in packages:
        package.error_message, package.error_detail = error_parts(package.error, language)
        package.in_progress = package.state in IN_PROGRESS
    return packages


def failed_packages() -> list[Package]:
    """Failed packages, builds whose worker stopped (lease expired), then packages waiting for a retry after an
    error (the admins' page), newest first."""
    stalled = Q(pk__in=Package.objects.lease_expired().values("pk"))
    return _decorate(
        list(
            Package.objects.filter(Q(state=K.FAILED) | stalled | (Q(state=K.QUEUED) & ~Q(error="")))
            .select_related("version__dataset", "entitlement__organization", "entitlement__order_item__order")
            .order_by("state", "-finished_at", "-id")
        )
    )


def package_for_viewer(user, pk: int) -> Package:
    package = get_object_or_404(
        Package.objects.select_related("entitlement__organization", "entitlement__order_item__order"), pk=pk
    )
    if not can(user, "accounts.view_org", package.entitlement.organization):
        raise NotAllowed()
    return package


def packages_for_organization(organization) -> QuerySet[Package]:
    """The packages built (or being built) for an organization's purchases, newest first, with what the
    buyer's status line needs (transactions.selectors.package_delivery_status)."""
    return (
        Package.objects.filter(entitlement__organization=organization)
        .select_related("version__dataset", "entitlement__order_item__order")
        .order_by("-created_at", "-id")
    )


def package_get_for_organization(*, organization, pk: int) -> Package:
    """One package of the organization's purchases; 404 for anyone else's (no hint that it exists)."""
    package = packages_for_organization(organization).filter(pk=pk).first() if organization is not None else None
    if package is None:
        raise Http404
    return package
