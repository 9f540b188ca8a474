"""Celery tasks of the transactions app: thin, idempotent, calling services."""

import logging

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="transactions.tasks.build_package", acks_late=True, max_retries=3)
def build_package(self, package_id: int) -> str:
    """Build one package (ZIP) and make it downloadable. Safe to run twice: a package is claimed by
    compare-and-set (queued → building), so a second worker, or a redelivered message, does nothing.

    A damaged or unreadable source is a permanent failure (retrying cannot help). Anything else is
    treated as transient (storage, disk, database) and retried with exponential backoff; when the
    retries run out the package is failed with a reason the buyer and the admins see.
    """
    from transactions.delivery import services
    from transactions.delivery.packaging import PackagingError

    try:
        package = services.package_claim(package_id=package_id)
    except DatabaseError as exc:  # nothing claimed yet: just try again later
        raise self.retry(exc=exc, countdown=settings.PACKAGE_RETRY_DELAY_SECONDS * 2**self.request.retries)
    if package is None:
        return "not claimed"
    try:
        services.package_build(package=package)
        return "ready"
    except PackagingError as exc:
        services.package_fail(package_id=package_id, exc=exc)
        return "failed"
    except Exception as exc:
        if self.request.retries < self.max_retries:
            delay = settings.PACKAGE_RETRY_DELAY_SECONDS * 2**self.request.retries
            services.package_release(package_id=package_id, exc=exc, retry_in=delay)
            raise self.retry(exc=exc, countdown=delay)
        logger.exception("package build failed", extra={"package_id": package_id})
        services.package_fail(package_id=package_id, exc=exc)
        return "failed"


@shared_task(name="transactions.tasks.packages_housekeeping_task")
def packages_housekeeping_task() -> dict:
    """Hourly (celery beat): ready packages older than PACKAGE_TTL_DAYS expire and their ZIPs are
    deleted (rebuilt on request); queued packages whose build message was lost are enqueued again."""
    from transactions.delivery import services

    return {"expired": services.packages_expire(), "requeued": services.packages_requeue_stale()}


@shared_task(name="transactions.tasks.orders_cancel_overdue_task")
def orders_cancel_overdue_task() -> int:
    """Cancel orders still unpaid after their payment_due_at (celery beat)."""
    from transactions.services.orders import orders_cancel_overdue

    return orders_cancel_overdue()


@shared_task(name="transactions.tasks.payments_reconcile_task")
def payments_reconcile_task() -> dict:
    """Every minute (celery beat): card payments no request finished (left `confirming`, or authorised and never
    confirmed) are asked about at the PG and finished, or cancelled there. Idempotent and safe to overlap."""
    from transactions.payments.services import card_payments_reconcile

    return card_payments_reconcile()
