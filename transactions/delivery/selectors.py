"""Reads of delivery: an order's packages (the order page's fragment), failed packages (admins)."""

from __future__ import annotations

from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language

from core.errors import NotAllowed
from accounts.permissions import can
from transactions.models import Order, Package

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


class PackageList(list):
    """An order's packages, with the counts the fragment shows and whether it should keep polling."""

    def __init__(self, packages):
        super().__init__(packages)
        self.total = len(self)
        self.ready = sum(p.state == K.READY for p in self)
        self.failed = sum(p.state == K.FAILED for p in self)
        self.expired = sum(p.state == K.EXPIRED for p in self)
        self.in_progress = sum(p.state in IN_PROGRESS for p in self)
        self.polling = self.in_progress > 0


def order_packages(order: Order) -> PackageList:
    """The packages of an order's lines, oldest line first and each line's versions in order, with
    `error_message` (in the active language), `error_detail` and `in_progress` set on each, and the
    counts (`ready`, `failed`, `expired`, `in_progress`, `polling`) on the list."""
    return PackageList(_decorate(list(
        Package.objects.filter(entitlement__order_item__order=order)
        .select_related("version__dataset", "entitlement__order_item")
        .order_by("entitlement__order_item_id", "version__number", "id")
    )))


def packages_polling(packages) -> bool:
    """Whether the order page should keep asking for progress (something is queued or building)."""
    return any(p.state in IN_PROGRESS for p in packages)


def failed_packages() -> list[Package]:
    """Failed packages, then packages waiting for a retry after an error (the admins' page), newest first."""
    return _decorate(list(
        Package.objects.filter(Q(state=K.FAILED) | (Q(state=K.QUEUED) & ~Q(error="")))
        .select_related("version__dataset", "entitlement__organization", "entitlement__order_item__order")
        .order_by("state", "-finished_at", "-id")
    ))


def order_for_viewer(user, number: str) -> Order:
    """An order by its number, for a member of the buying organization or a platform admin (403 otherwise)."""
    order = get_object_or_404(Order.objects.select_related("buyer"), number=number)
    if not can(user, "accounts.view_org", order.buyer):
        raise NotAllowed()
    return order


def package_for_viewer(user, pk: int) -> Package:
    package = get_object_or_404(Package.objects.select_related("entitlement__organization", "entitlement__order_item__order"), pk=pk)
    if not can(user, "accounts.view_org", package.entitlement.organization):
        raise NotAllowed()
    return package
