"""Delivery use cases: packages per entitlement and version, their builds (claimed by one worker,
retried, failed visibly), expiry and rebuilds, signed download links and the download log.

The Package state machine lives in transactions/states.py; every move goes through `transition`
with the row locked. Builds never hold a database transaction while bytes move: the claim and the
finish are two short transactions around the slow part.
"""

from __future__ import annotations

import errno
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError, NotAllowed
from accounts.permissions import can
from core.audit import audit
from catalog.models import DatasetVersion, Offer
from core.notify import email_on_commit, site_url
from transactions.delivery import downloads, packaging
from transactions.models import DownloadEvent, Entitlement, Order, Package
from core.transitions import transition

logger = logging.getLogger(__name__)

K = Package.State
# A build still "building" after this long lost its worker (killed, machine restarted): it may be claimed again.
STALE_BUILD = timedelta(hours=1)
# A package still queued this long after it was made (or last tried) lost its message: enqueue it again.
STALE_QUEUED = timedelta(minutes=30)
# Progress is written to the database at most this often while a package is built.
PROGRESS_INTERVAL = 2.0


# --- Who may ---------------------------------------------------------------------------------------


def entitlement_is_active(entitlement: Entitlement, now=None) -> bool:
    """Not refunded, and (for a subscription) not past its end."""
    now = now or timezone.now()
    return entitlement.revoked_at is None and (entitlement.valid_until is None or entitlement.valid_until > now)


def can_download(user, package: Package) -> bool:
    """A buyer (or owner) of the entitled organization, while the entitlement is active."""
    organization = package.entitlement.organization
    return bool(
        user and user.is_authenticated and user.is_active
        and can(user, "accounts.buy_for_org", organization)
        and entitlement_is_active(package.entitlement)
    )


def _require_buyer_or_staff(actor, package: Package) -> None:
    if can(actor, "accounts.platform_admin") or can(actor, "accounts.buy_for_org", package.entitlement.organization):
        return
    raise NotAllowed(_("Only a buyer of the organization that bought this data, or a platform admin, can do this."))


# --- Creating packages -------------------------------------------------------------------------------


def _package_for(entitlement: Entitlement, version: DatasetVersion) -> Package | None:
    """The package of (entitlement, version), created queued and enqueued if it did not exist.
    The unique constraint makes a repeated call (or a concurrent one) return the same row."""
    package, created = Package.objects.get_or_create(entitlement=entitlement, version=version)
    if created:
        _enqueue_build(package)
    return package


def _enqueue_build(package: Package) -> None:
    from transactions.tasks import build_package

    package_id = package.pk
    # robust: a broker outage must not undo (or error) the payment that made the package; the hourly
    # housekeeping enqueues packages left queued (packages_requeue_stale).
    transaction.on_commit(lambda: build_package.delay(package_id), robust=True)


def _versions_for(entitlement: Entitlement) -> list[DatasetVersion]:
    if entitlement.kind != Offer.Kind.SUBSCRIPTION:
        return [entitlement.version] if entitlement.version_id else []
    if not entitlement_is_active(entitlement):
        return []
    # A subscription delivers the version published now, then every version published in its period.
    current = DatasetVersion.objects.filter(dataset_id=entitlement.dataset_id, state=DatasetVersion.State.PUBLISHED).first()
    return [current] if current else []


@transaction.atomic
def packages_create_for_entitlement(entitlement: Entitlement) -> list[Package]:
    """Packages for a new entitlement (called by order_mark_paid, inside its transaction): the bought
    version for a one-off or free line; the current published version for a subscription. Builds are
    enqueued after commit. Idempotent: calling it again returns the same packages."""
    return [_package_for(entitlement, version) for version in _versions_for(entitlement)]


def deliver_published_version(sender=None, *, version: DatasetVersion, **kwargs) -> list[Package]:
    """Receiver of catalog.signals.version_published: every active subscription to the dataset that
    covers the moment of publication gets a package of the new version."""
    published = version.published_at or timezone.now()
    entitlements = Entitlement.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=published),
        dataset_id=version.dataset_id, kind=Offer.Kind.SUBSCRIPTION, revoked_at__isnull=True, valid_from__lte=published,
    )
    packages = []
    for entitlement in entitlements:
        try:
            with transaction.atomic():
                packages.append(_package_for(entitlement, version))
        except DatabaseError:
            # The approval is committed already; an error page would not undo it. Loud in the logs
            # (a subscriber is missing a delivery), and the other subscribers still get theirs.
            logger.exception("could not create a subscription package",
                             extra={"entitlement": entitlement.pk, "version": version.pk})
    return packages


# --- Building ----------------------------------------------------------------------------------------


def package_claim(*, package_id: int) -> Package | None:
    """Claim a queued package for building (queued → building, under a row lock): of two workers
    given the same package, the second finds it building and gets None. A build whose worker was
    lost (building for longer than STALE_BUILD) goes back to queued first and is claimed again."""
    with transaction.atomic():
        package = Package.objects.select_for_update().filter(pk=package_id).first()
        if package is None:
            return None
        now = timezone.now()
        if package.state == K.BUILDING and package.started_at and package.started_at < now - STALE_BUILD:
            transition(package, to=K.QUEUED, actor=None)
        if package.state != K.QUEUED:
            return None
        package.attempts += 1
        package.started_at = now
        package.finished_at = None
        package.progress = 0
        transition(package, to=K.BUILDING, actor=None, fields=("attempts", "started_at", "finished_at", "progress"))
        return package


def package_progress(*, package_id: int, percent: int) -> None:
    Package.objects.filter(pk=package_id, state=K.BUILDING).update(progress=max(0, min(99, percent)))


def _context(package: Package) -> packaging.Context:
    entitlement = package.entitlement
    item = entitlement.order_item
    return packaging.Context(
        order_number=item.order.number,
        organization=entitlement.organization.name_ko,
        entitlement_kind=entitlement.kind,
        valid_from=entitlement.valid_from,
        valid_until=entitlement.valid_until,
        licence=item.licence,
        terms=item.terms or {},
        site_url=settings.SITE_URL,
    )


def storage_name(package: Package) -> str:
    version = package.version
    return f"packages/{package.entitlement.organization_id}/{package.pk}/{version.dataset.slug}-v{version.number}.zip"


def package_build(*, package: Package) -> Package:
    """Build a claimed package (the slow part, outside any transaction) and mark it ready.

    Progress is written at most every PROGRESS_INTERVAL seconds. Raises PackagingError for a
    permanent failure; any other exception is for the caller (the task) to retry.
    """
    package = Package.objects.select_related(
        "version__dataset__publisher", "version__licence", "entitlement__organization",
        "entitlement__order_item__order", "entitlement__order_item__licence",
    ).get(pk=package.pk)
    if package.entitlement.revoked_at is not None:
        raise packaging.PackagingError(_("This purchase was refunded, so its package is no longer built."))
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL:
            last[0] = now
            package_progress(package_id=package.pk, percent=done * 100 // max(total, 1))

    result = packaging.build_into_storage(
        version=package.version, context=_context(package), storage_name=storage_name(package), progress=progress,
    )
    return package_built(package_id=package.pk, result=result)


@transaction.atomic
def package_built(*, package_id: int, result: packaging.BuildResult) -> Package:
    """building → ready with the ZIP's name, size, sha256 and manifest; the order is fulfilled when
    this was its last package still to come. The order row is locked first, so two packages of one
    order finishing at once cannot both miss each other."""
    order_id = Order.objects.filter(items__entitlement__packages=package_id).values_list("pk", flat=True).first()
    order = Order.objects.select_for_update().get(pk=order_id)
    package = Package.objects.select_for_update().select_related("entitlement", "version__dataset").get(pk=package_id)
    if package.state != K.BUILDING:
        return package  # released or failed meanwhile (a stale claim): the newer attempt decides
    now = timezone.now()
    package.file.name = result.name
    package.size = result.size
    package.sha256 = result.sha256
    package.manifest = result.manifest
    package.progress = 100
    package.error = ""
    package.finished_at = now
    package.expires_at = now + timedelta(days=settings.PACKAGE_TTL_DAYS)
    transition(package, to=K.READY, actor=None,
               fields=("file", "size", "sha256", "manifest", "progress", "error", "finished_at", "expires_at"))
    was_fulfilled = order.state == Order.State.FULFILLED
    if order.state == Order.State.PAID and not Package.objects.filter(
        entitlement__order_item__order=order
    ).exclude(state__in=[K.READY, K.EXPIRED]).exists():
        from transactions.services.orders import order_mark_fulfilled

        order_mark_fulfilled(order=order)
    if was_fulfilled and package.entitlement.kind == Offer.Kind.SUBSCRIPTION:
        _notify_buyers(package, "transactions/delivery/email/package_ready", order=order)
    return package


def _reason(exc: BaseException) -> tuple:
    """A human reason (translatable) and the technical detail of a failed attempt."""
    detail = f"{type(exc).__name__}: {exc}"[:1000]
    if isinstance(exc, packaging.PackagingError):
        return exc.message, (exc.detail or "")[:1000]
    if isinstance(exc, FileNotFoundError):
        return _("A data file of this version is missing from storage."), detail
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return _("The server ran out of disk space while building the package."), detail
    if isinstance(exc, OSError):
        return _("The package could not be read from or written to storage."), detail
    if isinstance(exc, DatabaseError):
        return _("The database could not be reached while building the package."), detail
    return _("An unexpected error stopped the build."), detail


def error_text(message, detail: str = "") -> str:
    """What Package.error holds: the reason in Korean, then English (one line each), then the detail.
    Stored in both languages because it is written by a worker and read by people in either."""
    lines = []
    for code in ("ko", "en"):
        with translation.override(code):
            lines.append(" ".join(str(message).split()))
    if detail:
        lines.append("[detail] " + " ".join(detail.split()))
    return "\n".join(lines)


def package_release(*, package_id: int, exc: BaseException, retry_in: int) -> None:
    """A transient failure: building → queued, with the reason, so the retried task can claim it."""
    message, detail = _reason(exc)
    with transaction.atomic():
        package = Package.objects.select_for_update().get(pk=package_id)
        if package.state != K.BUILDING:
            return
        package.error = error_text(message, f"{detail} (retrying in {retry_in} s)")
        package.progress = 0
        transition(package, to=K.QUEUED, actor=None, fields=("error", "progress"))


@transaction.atomic
def package_fail(*, package_id: int, exc: BaseException) -> Package:
    """No more retries (or a permanent failure): building → failed with the reason, which the buyer
    sees on the order page and the admins on the failed-packages page; both are e-mailed."""
    message, detail = _reason(exc)
    package = Package.objects.select_for_update().select_related("entitlement__organization", "version__dataset").get(pk=package_id)
    if package.state != K.BUILDING:
        return package
    package.error = error_text(message, detail)
    package.finished_at = timezone.now()
    transition(package, to=K.FAILED, actor=None, fields=("error", "finished_at"))
    audit(actor=None, action="package.failed", obj=package, organization=package.entitlement.organization,
          reason=str(message), data={"attempts": package.attempts, "detail": detail, "version": package.version_id})
    _notify_buyers(package, "transactions/delivery/email/package_failed")
    _notify_admins(package)
    return package


@transaction.atomic
def package_retry(*, actor, package: Package) -> Package:
    """A buyer of the organization or a platform admin asks for a failed package to be built again,
    or for an expired one to be rebuilt. Idempotent: a package already queued, building or ready is
    returned as it is."""
    package = Package.objects.select_for_update().select_related("entitlement__organization").get(pk=package.pk)
    _require_buyer_or_staff(actor, package)
    if package.state not in (K.FAILED, K.EXPIRED):
        return package
    if not entitlement_is_active(package.entitlement):
        raise DomainError(_("This purchase has ended or was refunded, so the package cannot be built again."),
                          code="entitlement_inactive")
    previous = package.state
    package.progress = 0
    if previous == K.EXPIRED:
        package.error = ""
    transition(package, to=K.QUEUED, actor=None, fields=("progress", "error"))
    audit(actor=actor, action="package.retried", obj=package, organization=package.entitlement.organization,
          data={"from": previous, "attempts": package.attempts})
    _enqueue_build(package)
    return package


def packages_expire() -> int:
    """Ready packages past expires_at expire and their ZIPs are deleted (run by celery beat). A buyer
    rebuilds one with package_retry. Returns how many expired."""
    now = timezone.now()
    expired = 0
    for package_id in Package.objects.filter(state=K.READY, expires_at__lt=now).values_list("pk", flat=True):
        with transaction.atomic():
            package = Package.objects.select_for_update().get(pk=package_id)
            if package.state != K.READY or not package.expires_at or package.expires_at >= now:
                continue
            name = package.file.name
            package.file.name = ""
            transition(package, to=K.EXPIRED, actor=None, fields=("file",))
            if name:
                transaction.on_commit(lambda name=name: default_storage.delete(name))
            expired += 1
    return expired


def packages_requeue_stale() -> int:
    """Queued packages nobody picked up for STALE_QUEUED (the message was lost: broker down at
    enqueue time, a purged queue) are enqueued again. Harmless when the message was only slow: the
    claim lets one build run. Returns how many were enqueued."""
    cutoff = timezone.now() - STALE_QUEUED
    stale = Package.objects.filter(state=K.QUEUED).filter(
        Q(started_at__isnull=True, created_at__lt=cutoff) | Q(started_at__lt=cutoff)
    )
    from transactions.tasks import build_package

    count = 0
    for package_id in stale.values_list("pk", flat=True):
        build_package.delay(package_id)
        count += 1
    return count


# --- Notifications -----------------------------------------------------------------------------------


def order_path(order) -> str:
    """The order page (the orders views own it; the order list until that page exists)."""
    try:
        return reverse("transactions:order", args=[order.number])
    except NoReverseMatch:
        return reverse("transactions:orders")


def order_url(order) -> str:
    return site_url(order_path(order))


def _notify_buyers(package: Package, template: str, order=None) -> None:
    from accounts.models import Membership

    order = order or Order.objects.filter(items__entitlement__packages=package).first()
    recipients = list(
        Membership.objects.filter(organization=package.entitlement.organization,
                                  role__in=[Membership.Role.OWNER, Membership.Role.BUYER]).values_list("user__email", flat=True)
    )
    email_on_commit(to=recipients, template=template, context={
        "package": package, "version": package.version, "order": order, "url": order_url(order) if order else "",
        "reason": package.error.splitlines()[0] if package.error else "",
    })


def _notify_admins(package: Package) -> None:
    from accounts.models import User

    recipients = list(User.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True))
    email_on_commit(to=recipients, template="transactions/delivery/email/package_failed_admin", context={
        "package": package, "version": package.version, "reason": package.error,
        "url": site_url(reverse("delivery_staff:failed_packages")),
    })


# --- Downloads ---------------------------------------------------------------------------------------


def download_link(*, user, package: Package) -> str:
    """A signed link to download a ready package, valid DOWNLOAD_LINK_TTL_SECONDS, for `user` of the
    entitled organization. The link itself is the credential (curl and download managers resume with
    it), so it is short-lived and names the user and organization it was made for."""
    package = Package.objects.select_related("entitlement__organization").get(pk=package.pk)
    if not can_download(user, package):
        raise NotAllowed(_("Only a buyer of the organization that bought this data can download it, while the purchase is valid."))
    if package.state != K.READY:
        raise DomainError(_("This package is not ready to download."), code="package_not_ready")
    token = downloads.sign(package_id=package.pk, user_id=user.pk, organization_id=package.entitlement.organization_id)
    return reverse("transactions:package_download", args=[token])


def download_authorize(*, claims: dict, request_user) -> tuple[Package, object]:
    """The package a signed link names, if its user may still download it: still a buyer of the
    organization, the entitlement active, and (when someone is signed in) the same person or a
    colleague entitled as well. Returns (package, the link's user). Raises NotAllowed (403) or
    DomainError code "gone" (410)."""
    from accounts.models import User

    package = (
        Package.objects.select_related("entitlement__organization", "version__dataset")
        .filter(pk=claims["p"]).first()
    )
    user = User.objects.filter(pk=claims["u"], is_active=True).first()
    if package is None or user is None or package.entitlement.organization_id != claims["o"]:
        raise NotAllowed(_("This download link is not valid."))
    if not can_download(user, package):
        raise NotAllowed(_("This download link is no longer valid for you: the purchase ended, or you are no longer a buyer of the organization."))
    if request_user is not None and request_user.is_authenticated and request_user.pk != user.pk and not can_download(request_user, package):
        raise NotAllowed(_("This download link belongs to another organization."))
    if package.state != K.READY or not package.file.name:
        raise DomainError(_("This package has expired. Build it again from the order page."), code="gone")
    return package, user


def download_started(*, package: Package, user, request, status: int, via: str, range_header: str = "") -> DownloadEvent:
    """Record a download as it starts (every response that hands out the file, or part of it)."""
    return DownloadEvent.objects.create(
        package=package, user=user, organization_id=package.entitlement.organization_id, status=status, via=via,
        range_header=(range_header or "")[:200], ip=downloads.client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )


def download_finished(*, event_id: int, bytes_sent: int, completed: bool, reached_end: bool, dataset_id: int,
                      handoff: bool = False) -> None:
    """The stream ended (fully or not): record how many bytes left. A response that completed and
    delivered the last byte of the file counts as one download of the dataset (a resumed download
    counts once: only its last part reaches the end). A handoff to nginx or S3 without a Range
    header (`handoff`) counts when it is handed off: nothing of ours sees the transfer end."""
    with transaction.atomic():
        DownloadEvent.objects.filter(pk=event_id).update(bytes_sent=bytes_sent, completed=completed)
        if (completed and reached_end) or handoff:
            from catalog.services import dataset_count_download

            dataset_count_download(dataset_id, 1)
