"""Delivery use cases: packages per entitlement and version, their builds (claimed by one worker,
retried, failed visibly), expiry and rebuilds, signed download links and the download log.

The Package state machine lives in transactions/states.py; every move goes through `transition`
with the row locked. Builds never hold a database transaction while bytes move: the claim and the
finish are two short transactions around the slow part.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from accounts.models import Membership, User
from accounts.permissions import can
from catalog import derived
from catalog import services as catalog_services
from catalog.ingest.errors import lazy_format
from catalog.models import DataFile, DatasetVersion, Offer
from core.errors import DomainError, NotAllowed
from core.http import client_ip
from core.notify import email_on_commit, site_url
from core.transitions import transition
from transactions import tasks
from transactions.delivery import downloads, packaging
from transactions.models import DownloadEvent, Entitlement, Order, Package
from transactions.services import orders, subscriptions

logger = logging.getLogger(__name__)

K = Package.State
# A package still queued this long after its last build message lost that message: enqueue it again.
STALE_QUEUED = timedelta(minutes=30)
# Progress is written to the database at most this often while a package is built.
PROGRESS_INTERVAL = 2.0
# The housekeeping looks this far back for published versions a subscriber is still missing a package of.
DELIVERY_SWEEP = timedelta(days=7)


class LeaseLost(Exception):
    """This attempt no longer holds the package's build: its lease expired and a newer attempt took
    over (or a person retried it). It stops without touching the package or its file."""


class PurchaseEnded(LeaseLost):
    """The package's purchase ended before it was built (refunded, or its subscription period is over): the
    package was ended (expired, with the reason) and this attempt stops."""


# --- Who may ---------------------------------------------------------------------------------------


def entitlement_is_active(entitlement: Entitlement, now=None) -> bool:
    """Not refunded, and (for a subscription) not past its end nor ended by the expiry task."""
    now = now or timezone.now()
    return (
        entitlement.revoked_at is None
        and entitlement.ended_at is None
        and (entitlement.valid_until is None or entitlement.valid_until > now)
    )


def can_download(user, package: Package) -> bool:
    """A buyer (or owner) of the entitled organization, while the entitlement is active."""
    organization = package.entitlement.organization
    return bool(
        user
        and user.is_authenticated
        and user.is_active
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
    package_id = package.pk
    # When its message was sent: the housekeeping sends another only for a package queued that long ago.
    Package.objects.filter(pk=package_id).update(enqueued_at=timezone.now())
    # robust: a broker outage must not undo (or error) the payment that made the package; the housekeeping
    # (every minute) enqueues packages left queued (packages_requeue_stale).
    transaction.on_commit(lambda: send_build(package_id), robust=True)


def build_time_limits(package_id: int) -> dict:
    """Celery's soft and hard time limits of building the package, scaled to its version's data
    (catalog.derived.time_limits: PACKAGE_TIME_LIMIT_* settings)."""
    version_id = Package.objects.filter(pk=package_id).values_list("version_id", flat=True).first()
    size = sum(DataFile.objects.filter(version_id=version_id).values_list("size", flat=True)) if version_id else 0
    return derived.time_limits(size)


def send_build(package_id: int) -> None:
    """One build message, with its time limits (a retry of the task keeps them): a build that hangs while
    its worker lives ends on the soft limit (retried, then failed) or the hard one (the lease takes over)."""
    tasks.build_package.apply_async(args=[package_id], **build_time_limits(package_id))


def _versions_for(entitlement: Entitlement) -> list[DatasetVersion]:
    if entitlement.kind != Offer.Kind.SUBSCRIPTION:
        return [entitlement.version] if entitlement.version_id else []
    if not entitlement_is_active(entitlement):
        return []
    # A subscription delivers the version published now, then every version published in its period.
    current = DatasetVersion.objects.filter(
        dataset_id=entitlement.dataset_id, state=DatasetVersion.State.PUBLISHED
    ).first()
    return [current] if current else []


@transaction.atomic
def packages_create_for_entitlement(entitlement: Entitlement) -> list[Package]:
    """Packages for a new entitlement (called by order_mark_paid, inside its transaction): the bought
    version for a one-off or free line; the current published version for a subscription. Builds are
    enqueued after commit. Idempotent: calling it again returns the same packages."""
    return [_package_for(entitlement, version) for version in _versions_for(entitlement)]


def on_version_published(sender=None, *, version: DatasetVersion, **kwargs) -> None:
    """Receiver of catalog.signals.version_published (sent after the approval commits): only enqueues
    the delivery. Creating the subscribers' packages is a task of its own, retried until it succeeds, so
    a database error here never loses a delivery and never reaches the reviewer."""
    version_id = version.pk
    # robust: the approval is committed; a broker outage is covered by the housekeeping (packages_deliver_missing).
    transaction.on_commit(lambda: tasks.deliver_version.delay(version_id), robust=True)


def _subscriptions_covering(version: DatasetVersion):
    published = version.published_at or timezone.now()
    return Entitlement.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=published),
        dataset_id=version.dataset_id,
        kind=Offer.Kind.SUBSCRIPTION,
        revoked_at__isnull=True,
        ended_at__isnull=True,
        valid_from__lte=published,
    )


def deliver_published_version(*, version_id: int) -> list[Package]:
    """Every active subscription to the dataset that covers the moment of publication gets a package of
    the published version. Idempotent (the unique (entitlement, version) constraint: a second run, or a
    concurrent one, finds the same packages). Each subscriber in a transaction of its own, so one
    failing does not hold back the others; the first error is raised at the end for the task to retry."""
    version = DatasetVersion.objects.filter(pk=version_id, state=DatasetVersion.State.PUBLISHED).first()
    if version is None:
        return []  # withdrawn meanwhile, or not published: nothing to deliver
    packages, error = [], None
    for entitlement in _subscriptions_covering(version):
        try:
            with transaction.atomic():
                packages.append(_package_for(entitlement, version))
        except DatabaseError as exc:
            logger.warning(
                "could not create a subscription package (will retry)",
                extra={"entitlement": entitlement.pk, "version": version.pk},
                exc_info=True,
            )
            error = error or exc
    if error is not None:
        raise error
    return packages


def packages_deliver_missing(*, since=None) -> int:
    """Safety net of the housekeeping: versions published in the last DELIVERY_SWEEP whose covering
    subscriptions still lack a package (the delivery task's message was lost, or its retries ran out)
    get them now. Returns how many packages were created."""
    now = timezone.now()
    since = since or now - DELIVERY_SWEEP
    created = 0
    for version in DatasetVersion.objects.filter(state=DatasetVersion.State.PUBLISHED, published_at__gte=since):
        missing = _subscriptions_covering(version).exclude(packages__version=version)
        for entitlement in missing:
            with transaction.atomic():
                _package_for(entitlement, version)
            created += 1
    # A subscription paid while a version's approval was still committing got the version published before
    # it, and the new one was published "before" it started: every active subscription has the current one.
    current = DatasetVersion.objects.filter(dataset=OuterRef("dataset_id"), state=DatasetVersion.State.PUBLISHED)
    without_current = (
        Entitlement.objects.filter(kind=Offer.Kind.SUBSCRIPTION, revoked_at__isnull=True)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .annotate(current_version=Subquery(current.values("pk")[:1]))
        .filter(current_version__isnull=False)
        .exclude(Exists(Package.objects.filter(entitlement=OuterRef("pk"), version=OuterRef("current_version"))))
    )
    for entitlement in without_current:
        with transaction.atomic():
            _package_for(entitlement, DatasetVersion.objects.get(pk=entitlement.current_version))
        created += 1
    return created


# --- Building ----------------------------------------------------------------------------------------


def _worker_stopped(package: Package) -> None:
    """The building package (locked) lost its worker: queued again, or failed visibly when it has
    been tried PACKAGE_MAX_ATTEMPTS times."""
    if package.attempts >= settings.PACKAGE_MAX_ATTEMPTS:
        message = lazy_format(
            _("The worker stopped %(count)s times while building the package."), {"count": package.attempts}
        )
        _fail(package, message, f"no heartbeat since {package.heartbeat_at or package.started_at}")
        return
    package.error = error_text(
        _("The worker building the package stopped; it is being built again."),
        f"no heartbeat since {package.heartbeat_at or package.started_at}",
    )
    package.progress = 0
    package.lease = None
    transition(package, to=K.QUEUED, actor=None, fields=("error", "progress", "lease"))


def ended_reason(entitlement: Entitlement):
    """Why a package of this (no longer active) entitlement is not built, in words for its buyer."""
    if entitlement.revoked_at is not None:
        return _("This purchase was refunded, so its package is no longer built.")
    return _("The subscription period of this package has ended, so its package is no longer built.")


def package_end_unbuilt(package: Package, reason) -> None:
    """queued or building → expired (the row locked by the caller): the purchase ended before the package was
    built. The reason is kept (both languages) and the lease dropped, so a worker building it stops at its next
    heartbeat and cannot mark it ready; a partial file goes after commit."""
    package.error = error_text(reason)
    package.lease = None
    package.progress = 0
    package.finished_at = timezone.now()
    transition(
        package,
        to=K.EXPIRED,
        actor=None,
        reason=str(reason),
        fields=("error", "lease", "progress", "finished_at"),
        data={"version": package.version_id, "unbuilt": True},
    )
    _sweep_on_commit(package)


def package_claim(*, package_id: int) -> Package | None:
    """Claim a package for building, with a new lease (a compare-and-set under the row lock): a queued
    package, or a building one whose lease expired (its worker was killed: the redelivered message or a
    new one takes it over; after PACKAGE_MAX_ATTEMPTS it fails instead). Of two workers given the same
    package, the second finds it building under a live lease and gets None. A package whose purchase ended
    meanwhile (refunded, or its subscription period over) is not claimed: it ends (expired, with the reason)."""
    with transaction.atomic():
        package = (
            Package.objects.select_for_update(of=("self",)).select_related("entitlement").filter(pk=package_id).first()
        )
        if package is None:
            return None
        now = timezone.now()
        unclaimed = package.state == K.QUEUED or (package.state == K.BUILDING and package.lease_expired(now))
        if unclaimed and not entitlement_is_active(package.entitlement, now):
            package_end_unbuilt(package, ended_reason(package.entitlement))
            return None
        if package.state == K.BUILDING and package.lease_expired(now):
            _worker_stopped(package)
        if package.state != K.QUEUED:
            return None
        package.attempts += 1
        package.started_at = now
        package.heartbeat_at = now
        package.lease = uuid.uuid4()
        package.finished_at = None
        package.progress = 0
        transition(
            package,
            to=K.BUILDING,
            actor=None,
            fields=("attempts", "started_at", "heartbeat_at", "lease", "finished_at", "progress"),
        )
        return package


def package_heartbeat(*, package_id: int, lease, percent: int | None = None) -> bool:
    """The attempt holding `lease` is alive (and how far it got). False when the lease is no longer
    its own: the attempt must stop."""
    values = {"heartbeat_at": timezone.now()}
    if percent is not None:
        values["progress"] = max(0, min(99, percent))
    return Package.objects.filter(pk=package_id, state=K.BUILDING, lease=lease).update(**values) == 1


class _Heartbeat:
    """Beats for one attempt every PACKAGE_HEARTBEAT_SECONDS from a thread of its own, so the lease
    stays alive through the stretches where no progress is reported (fsync, an upload to S3). A killed
    worker takes the thread with it, which is the point. The build calls `check()` as bytes move and
    stops once the lease was lost. Called inside a transaction (tests), a thread's own connection
    would wait for that transaction's row lock, so it beats from `check()` on the caller's instead."""

    def __init__(self, package_id: int, lease):
        self.package_id, self.lease = package_id, lease
        self.percent: int | None = None
        self.lost = False
        self._stop = threading.Event()
        self._threaded = not connection.in_atomic_block
        self._last = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"package-{package_id}-heartbeat", daemon=True)

    def __enter__(self):
        if self._threaded:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._threaded:
            self._thread.join()

    def _beat(self) -> None:
        try:
            if not package_heartbeat(package_id=self.package_id, lease=self.lease, percent=self.percent):
                self.lost = True
        except DatabaseError:
            # A database blip must not stop the build; if it lasts past the lease, another attempt
            # takes over and this one finds out when it beats (or finishes) next.
            logger.warning("package heartbeat failed", extra={"package_id": self.package_id}, exc_info=True)

    def _run(self) -> None:
        try:
            while not self.lost and not self._stop.wait(settings.PACKAGE_HEARTBEAT_SECONDS):
                self._beat()
        finally:
            connection.close()  # this thread's own connection

    def check(self) -> None:
        if not self._threaded and time.monotonic() - self._last >= settings.PACKAGE_HEARTBEAT_SECONDS:
            self._last = time.monotonic()
            self._beat()
        if self.lost:
            raise LeaseLost(self.package_id)


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

    The attempt's lease is kept alive while it runs; partial files other attempts left are swept
    first. Raises PackagingError for a permanent failure, LeaseLost when a newer attempt took the
    build over; any other exception is for the caller (the task) to retry.
    """
    lease = package.lease
    package = Package.objects.select_related(
        "version__dataset__publisher",
        "version__licence",
        "entitlement__organization",
        "entitlement__order_item__order",
        "entitlement__order_item__licence",
    ).get(pk=package.pk)
    if not entitlement_is_active(package.entitlement):
        _end_claimed(package.pk, lease)  # refunded or its period ended after the claim
        raise PurchaseEnded(package.pk)
    name = storage_name(package)
    finished = []

    with _Heartbeat(package.pk, lease) as beat:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            beat.check()
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                beat.percent = done * 100 // max(total, 1)
                package_progress(package_id=package.pk, percent=beat.percent, lease=lease)

        def install(result, commit) -> None:
            finished.append(package_built(package_id=package.pk, lease=lease, result=result, commit=commit))

        packaging.sweep_partials(name, keep=lease.hex)  # what killed attempts left
        packaging.build_into_storage(
            version=package.version,
            context=_context(package),
            storage_name=name,
            progress=progress,
            attempt=lease.hex,
            install=install,
        )
    return finished[0]


@transaction.atomic
def _end_claimed(package_id: int, lease) -> None:
    package = Package.objects.select_for_update(of=("self",)).select_related("entitlement").get(pk=package_id)
    if package.state == K.BUILDING and package.lease == lease:
        package_end_unbuilt(package, ended_reason(package.entitlement))


def package_progress(*, package_id: int, percent: int, lease=None) -> None:
    if lease is not None:
        package_heartbeat(package_id=package_id, lease=lease, percent=percent)
    else:
        Package.objects.filter(pk=package_id, state=K.BUILDING).update(progress=max(0, min(99, percent)))


@transaction.atomic
def package_built(*, package_id: int, lease, result: packaging.BuildResult, commit=None) -> Package:
    """building → ready with the ZIP's name, size, sha256 and manifest, if the attempt holding `lease`
    still owns the build; `commit()` moves its file into place under the same row lock, so a stale
    attempt neither marks the package ready nor replaces the newer attempt's file (it raises LeaseLost).
    The order is fulfilled when this was its last package still to come. The order row is locked
    first, so two packages of one order finishing at once cannot both miss each other."""
    order_id = Order.objects.filter(items__entitlement__packages=package_id).values_list("pk", flat=True).first()
    order = Order.objects.select_for_update().get(pk=order_id)
    package = (
        Package.objects.select_for_update(of=("self",))
        .select_related("entitlement", "version__dataset")
        .get(pk=package_id)
    )
    if package.state != K.BUILDING or package.lease != lease:
        raise LeaseLost(package_id)  # the newer attempt (or a person) decides
    if commit is not None:
        commit()
    now = timezone.now()
    package.file.name = result.name
    package.size = result.size
    package.sha256 = result.sha256
    package.manifest = result.manifest
    package.progress = 100
    package.error = ""
    package.finished_at = now
    package.heartbeat_at = now
    package.expires_at = now + timedelta(days=settings.PACKAGE_TTL_DAYS)
    transition(
        package,
        to=K.READY,
        actor=None,
        fields=("file", "size", "sha256", "manifest", "progress", "error", "finished_at", "heartbeat_at", "expires_at"),
        data={"attempts": package.attempts, "lease": str(lease), "size": result.size},
    )
    if (
        order.state == Order.State.PAID
        and not Package.objects.filter(entitlement__order_item__order=order)
        .exclude(state__in=[K.READY, K.EXPIRED])
        .exists()
    ):
        orders.order_mark_fulfilled(order=order)
    # A new version delivered to a subscription: its buyers are told once per period and version (a recorded
    # notice), not on a rebuild after expiry nor on a second delivery, and whatever state the order is in.
    if subscriptions.version_ready_notice(package):
        _notify_buyers(package, "transactions/delivery/email/package_ready", order=order)
    return package


def _reason(exc: BaseException) -> tuple:
    """A human reason (translatable) and the technical detail of a failed attempt."""
    detail = f"{type(exc).__name__}: {exc}"[:1000]
    if isinstance(exc, packaging.PackagingError):
        return exc.message, (exc.detail or "")[:1000]
    if isinstance(exc, SoftTimeLimitExceeded):
        return (
            _("The build took longer than its time limit and was stopped (reading the stored data may have hung)."),
            detail,
        )
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


def package_release(*, package_id: int, lease, exc: BaseException, retry_in: int) -> None:
    """A transient failure of the attempt holding `lease`: building → queued, with the reason, so the
    retried task can claim it."""
    message, detail = _reason(exc)
    with transaction.atomic():
        package = Package.objects.select_for_update().get(pk=package_id)
        if package.state != K.BUILDING or package.lease != lease:
            return
        package.error = error_text(message, f"{detail} (retrying in {retry_in} s)")
        package.progress = 0
        package.lease = None
        package.enqueued_at = timezone.now()  # the task's retry message is the next build message
        transition(package, to=K.QUEUED, actor=None, fields=("error", "progress", "lease", "enqueued_at"))


@transaction.atomic
def package_fail(*, package_id: int, lease, exc: BaseException) -> Package:
    """No more retries (or a permanent failure) of the attempt holding `lease`: building → failed with
    the reason, which the buyer sees on the order page and the admins on the failed-packages page; both
    are e-mailed."""
    message, detail = _reason(exc)
    package = (
        Package.objects.select_for_update(of=("self",))
        .select_related("entitlement__organization", "version__dataset")
        .get(pk=package_id)
    )
    if package.state != K.BUILDING or package.lease != lease:
        return package
    _fail(package, message, detail)
    return package


def _fail(package: Package, message, detail: str) -> None:
    """building → failed (the row locked), told to the buyers and admins; partial files go after commit."""
    package.error = error_text(message, detail)
    package.finished_at = timezone.now()
    package.lease = None
    transition(
        package,
        to=K.FAILED,
        actor=None,
        reason=str(message),
        fields=("error", "finished_at", "lease"),
        data={"attempts": package.attempts, "detail": detail, "version": package.version_id},
    )
    _notify_buyers(package, "transactions/delivery/email/package_failed")
    _notify_admins(package)
    _sweep_on_commit(package)


def _sweep_on_commit(package: Package) -> None:
    """After the commit, the partial files of attempts that no longer hold the build. An attempt that claimed it
    meanwhile (a queued message taken by a worker of any node at once) keeps its file."""
    name, pk = storage_name(package), package.pk

    def holder() -> str:
        lease = Package.objects.filter(pk=pk, state=K.BUILDING).values_list("lease", flat=True).first()
        return lease.hex if lease else ""

    transaction.on_commit(lambda: packaging.sweep_partials(name, keep=holder), robust=True)


@transaction.atomic
def package_retry(*, actor, package: Package) -> Package:
    """A buyer of the organization or a platform admin asks for a failed package to be built again, for
    an expired one to be rebuilt, or for one whose build lost its worker (building, lease expired) to
    be built again now. The attempts start over. Idempotent: a package queued, building under a live
    lease or ready is returned as it is."""
    package = (
        Package.objects.select_for_update(of=("self",)).select_related("entitlement__organization").get(pk=package.pk)
    )
    _require_buyer_or_staff(actor, package)
    stale = package.state == K.BUILDING and package.lease_expired()
    if package.state not in (K.FAILED, K.EXPIRED) and not stale:
        return package
    if not entitlement_is_active(package.entitlement):
        raise DomainError(
            _("This purchase has ended or was refunded, so the package cannot be built again."),
            code="entitlement_inactive",
        )
    previous, attempts = package.state, package.attempts
    package.progress = 0
    package.attempts = 0
    package.lease = None
    if previous == K.EXPIRED:
        package.error = ""
    transition(
        package,
        to=K.QUEUED,
        actor=actor,
        action="package.retried",
        fields=("progress", "error", "attempts", "lease"),
        data={"attempts": attempts, "lease_expired": stale},
    )
    _sweep_on_commit(package)
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
    """Queued packages whose last message went out STALE_QUEUED ago and nobody picked up (the message was
    lost: broker down at enqueue time, a purged queue, held by a worker that was killed) are enqueued again,
    once per STALE_QUEUED each. Harmless when the message was only slow: the claim lets one build run.
    Returns how many were enqueued."""
    now = timezone.now()
    cutoff = now - STALE_QUEUED
    stale = Package.objects.filter(state=K.QUEUED).filter(
        Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True, created_at__lt=cutoff)
    )
    count = 0
    for package_id in stale.values_list("pk", flat=True):
        # Stamped before the send: a failed send is retried a STALE_QUEUED later, never every minute.
        if (
            Package.objects.filter(pk=package_id, state=K.QUEUED)
            .filter(Q(enqueued_at__lt=cutoff) | Q(enqueued_at__isnull=True))
            .update(enqueued_at=now)
        ):
            send_build(package_id)
            count += 1
    return count


def packages_recover_lost() -> int:
    """Building packages whose lease expired (their worker was killed: nothing else will ever finish
    them; the broker would redeliver the message only after its visibility timeout) are queued and
    enqueued again, or failed once tried PACKAGE_MAX_ATTEMPTS times. Their partial files are swept.
    Returns how many were requeued or failed."""
    count = 0
    for package_id in Package.objects.lease_expired().values_list("pk", flat=True):
        try:
            with transaction.atomic():
                package = (
                    Package.objects.select_for_update(of=("self",))
                    .select_related("entitlement__organization")
                    .get(pk=package_id)
                )
                if package.state != K.BUILDING or not package.lease_expired():
                    continue  # it beat (or finished) meanwhile
                _worker_stopped(package)
                if package.state == K.QUEUED:  # (a failed one was swept by _fail)
                    _sweep_on_commit(package)
                    _enqueue_build(package)
                count += 1
        except Exception:
            # One package that cannot be recovered (its notification fails, say) must not keep the others
            # building forever: logged, and tried again on the next run.
            logger.exception("could not recover a lost package build", extra={"package_id": package_id})
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
    order = order or Order.objects.filter(items__entitlement__packages=package).first()
    recipients = account_selectors.member_emails(
        package.entitlement.organization, Membership.Role.OWNER, Membership.Role.BUYER
    )
    email_on_commit(
        to=recipients,
        template=template,
        context={
            "package": package,
            "version": package.version,
            "order": order,
            "url": order_url(order) if order else "",
            "reason": package.error.splitlines()[0] if package.error else "",
        },
    )


def _notify_admins(package: Package) -> None:
    recipients = account_selectors.platform_admin_emails()
    email_on_commit(
        to=recipients,
        template="transactions/delivery/email/package_failed_admin",
        context={
            "package": package,
            "version": package.version,
            "reason": package.error,
            "url": site_url(reverse("delivery_staff:failed_packages")),
        },
    )


# --- Downloads ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadLink:
    path: str  # of the download view (the page redirects to it; the API gives it as an absolute URL)
    expires_at: datetime


def download_link(*, user, package: Package) -> str:
    """A signed link to download a ready package, valid DOWNLOAD_LINK_TTL_SECONDS, for `user` of the
    entitled organization. The link itself is the credential (curl and download managers resume with
    it), so it is short-lived and names the user and organization it was made for."""
    return download_link_issue(user=user, package=package).path


def download_link_issue(*, user, package: Package) -> DownloadLink:
    """`download_link` with the time the link expires (the API shows it)."""
    package = Package.objects.select_related("entitlement__organization").get(pk=package.pk)
    if not can_download(user, package):
        raise NotAllowed(
            _("Only a buyer of the organization that bought this data can download it, while the purchase is valid.")
        )
    if package.state != K.READY:
        raise DomainError(_("This package is not ready to download."), code="package_not_ready")
    token, expires = downloads.sign_until(
        package_id=package.pk, user_id=user.pk, organization_id=package.entitlement.organization_id
    )
    return DownloadLink(
        path=reverse("transactions:package_download", args=[token]),
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
    )


def download_authorize(*, claims: dict, request_user) -> tuple[Package, object]:
    """The package a signed link names, if its user may still download it: still a buyer of the
    organization, the entitlement active, and (when someone is signed in) the same person or a
    colleague entitled as well. Returns (package, the link's user). Raises NotAllowed (403) or
    DomainError code "gone" (410)."""
    package = (
        Package.objects.select_related("entitlement__organization", "version__dataset").filter(pk=claims["p"]).first()
    )
    user = User.objects.filter(pk=claims["u"], is_active=True).first()
    if package is None or user is None or package.entitlement.organization_id != claims["o"]:
        raise NotAllowed(_("This download link is not valid."))
    if not can_download(user, package):
        raise NotAllowed(
            _(
                "This download link is no longer valid for you: the purchase ended, or you are no longer a buyer of the organization."
            )
        )
    if (
        request_user is not None
        and request_user.is_authenticated
        and request_user.pk != user.pk
        and not can_download(request_user, package)
    ):
        raise NotAllowed(_("This download link belongs to another organization."))
    if package.state != K.READY or not package.file.name:
        raise DomainError(_("This package has expired. Build it again from the order page."), code="gone")
    return package, user


def download_started(
    *, package: Package, user, request, status: int, via: str, range_header: str = ""
) -> DownloadEvent:
    """Record a download as it starts (every response that hands out the file, or part of it)."""
    return DownloadEvent.objects.create(
        package=package,
        user=user,
        organization_id=package.entitlement.organization_id,
        status=status,
        via=via,
        range_header=(range_header or "")[:200],
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
    )


def download_finished(
    *, event_id: int, bytes_sent: int, completed: bool, reached_end: bool, dataset_id: int, handoff: bool = False
) -> None:
    """The stream ended (fully or not): record how many bytes left. A response that completed and
    delivered the last byte of the file counts as one download of the dataset (a resumed download
    counts once: only its last part reaches the end). A handoff to nginx or S3 without a Range
    header (`handoff`) counts when it is handed off: nothing of ours sees the transfer end."""
    with transaction.atomic():
        DownloadEvent.objects.filter(pk=event_id).update(bytes_sent=bytes_sent, completed=completed)
        if (completed and reached_end) or handoff:
            catalog_services.dataset_count_download(dataset_id, 1)
