"""Celery tasks of the transactions app: thin, idempotent, calling services."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_ready
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from transactions.delivery import packaging, services
from transactions.delivery.packaging import PackagingError
from transactions.documents import services as documents
from transactions.payments import services as payments
from transactions.refunds import services as refunds
from transactions.services import orders, subscriptions
from transactions.statements import selectors as statement_selectors
from transactions.statements import services as statement_services

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="transactions.tasks.build_package", acks_late=True, max_retries=None)
def build_package(self, package_id: int) -> str:
    """Build one package (ZIP) and make it downloadable. Safe to run twice: a package is claimed by
    compare-and-set with a lease (queued, or building with an expired lease → building), so a second
    worker, or a message redelivered while the first attempt is alive, does nothing; one redelivered
    after its worker was killed takes the build over.

    A damaged or unreadable source is a permanent failure (retrying cannot help). Anything else is
    treated as transient (storage, disk, database) and retried with exponential backoff, up to
    PACKAGE_MAX_ATTEMPTS builds in all (the package's `attempts`, which also counts attempts whose
    worker was killed); then the package is failed with a reason the buyer and the admins see. The
    message carries soft and hard time limits scaled to the data (services.send_build), so a build that
    hangs while its worker lives ends too: the soft limit takes this transient path, the hard one kills
    the pool process and the lease machinery takes over.
    """
    delay = settings.PACKAGE_RETRY_DELAY_SECONDS
    try:
        package = services.package_claim(package_id=package_id)
    except DatabaseError as exc:  # nothing claimed yet: try again later (the housekeeping also requeues it)
        if self.request.retries >= 10:
            raise
        raise self.retry(exc=exc, countdown=min(delay * 2**self.request.retries, 3600))
    if package is None:
        return "not claimed"
    lease = package.lease
    try:
        services.package_build(package=package)
        return "ready"
    except services.PurchaseEnded:
        return "ended"  # refunded or its subscription period is over: the package was ended, not built
    except services.LeaseLost:
        return "superseded"  # a newer attempt owns the build; this one's partial file is gone already
    except PackagingError as exc:
        services.package_fail(package_id=package_id, lease=lease, exc=exc)
        return "failed"
    except SoftTimeLimitExceeded:
        # The build hung (or crawled) past the soft time limit its message carries (send_build): the
        # transient path below, with the limit in the reason. The hard limit, later, kills the process.
        limit = (self.request.timelimit or (None, None))[1]
        exc = SoftTimeLimitExceeded(f"soft time limit of {limit} s exceeded")
        return _transient(self, package, package_id, lease, delay, exc)
    except Exception as exc:
        return _transient(self, package, package_id, lease, delay, exc)


def _transient(task, package, package_id: int, lease, delay: int, exc: Exception) -> str:
    """A failed attempt that may succeed later: queued again with the reason and retried with backoff,
    or failed once PACKAGE_MAX_ATTEMPTS builds were made."""
    if package.attempts < settings.PACKAGE_MAX_ATTEMPTS:
        retry_in = delay * 2 ** (package.attempts - 1)
        services.package_release(package_id=package_id, lease=lease, exc=exc, retry_in=retry_in)
        raise task.retry(exc=exc, countdown=retry_in)
    logger.error("package build failed", extra={"package_id": package_id}, exc_info=exc)
    services.package_fail(package_id=package_id, lease=lease, exc=exc)
    return "failed"


@shared_task(bind=True, name="transactions.tasks.deliver_version", acks_late=True, max_retries=12)
def deliver_version(self, version_id: int) -> int:
    """A version was published: every subscription covering that moment gets a package of it.
    Idempotent (one package per entitlement and version); any error is retried with exponential
    backoff (capped at an hour), and the housekeeping's sweep catches what still slips through."""
    try:
        return len(services.deliver_published_version(version_id=version_id))
    except Exception as exc:
        delay = settings.PACKAGE_RETRY_DELAY_SECONDS
        raise self.retry(exc=exc, countdown=min(delay * 2**self.request.retries, 3600))


@shared_task(name="transactions.tasks.packages_housekeeping_task")
def packages_housekeeping_task() -> dict:
    """Every minute (celery beat): builds that lost their worker (lease expired) are queued again or
    failed; ready packages older than PACKAGE_TTL_DAYS expire and their ZIPs are deleted (rebuilt on
    request); queued packages whose build message was lost are enqueued again; subscribers missing a
    package of a recently published version get it."""
    steps = {
        "recovered": services.packages_recover_lost,
        "expired": services.packages_expire,
        "requeued": services.packages_requeue_stale,
        "delivered": services.packages_deliver_missing,
    }
    done = {}
    for name, step in steps.items():
        try:
            done[name] = step()
        except Exception:  # one step failing must not stop the others (each runs again next minute)
            logger.exception("package housekeeping step failed", extra={"step": name})
            done[name] = "error"
    return done


@shared_task(name="transactions.tasks.orders_cancel_overdue_task")
def orders_cancel_overdue_task() -> int:
    """Cancel orders still unpaid after their payment_due_at (celery beat)."""
    return orders.orders_cancel_overdue()


@shared_task(name="transactions.tasks.subscriptions_expire_task")
def subscriptions_expire_task() -> int:
    """Every few minutes (celery beat): subscription periods past their end are ended, their packages expired,
    and the buyer told once when nothing follows. Idempotent and safe to overlap."""
    return subscriptions.subscriptions_expire()


@shared_task(name="transactions.tasks.subscriptions_remind_task")
def subscriptions_remind_task() -> int:
    """Hourly (celery beat): buyers of subscriptions ending within SUBSCRIPTION_REMINDER_DAYS are reminded to
    renew, once per period. Idempotent and safe to overlap."""
    return subscriptions.subscriptions_remind()


@shared_task(name="transactions.tasks.payments_reconcile_task")
def payments_reconcile_task() -> dict:
    """Every minute (celery beat): card payments no request finished (left `confirming`, or authorised and never
    confirmed) are asked about at the PG and finished, or cancelled there. Idempotent and safe to overlap."""
    return payments.card_payments_reconcile()


@shared_task(name="transactions.tasks.statements_close_month_task")
def statements_close_month_task() -> int:
    """On the 1st of each month (celery beat): close the month that just ended (Korean time) into the providers'
    statements. Idempotent: a second run, or the admin's button first, leaves nothing to do."""
    ended = statement_selectors.previous_month(statement_selectors.month_of(timezone.now()))
    return len(statement_services.statements_close_month(month=ended))


@shared_task(name="transactions.tasks.refunds_reconcile_task")
def refunds_reconcile_task() -> dict:
    """Every minute (celery beat): card refunds no request finished (the process died during the PG call, or the PG
    did not answer) are asked again with their own Idempotency-Key and finished; so are cancellations of cash
    receipts left pending (transactions.documents.services.cash_receipt_cancels_reconcile). Idempotent and safe to
    overlap."""
    counts = refunds.refunds_reconcile()
    # A step of the same beat entry: cash receipts of refunded orders whose cancel at the PG is still pending.
    cash = documents.cash_receipt_cancels_reconcile()
    return {**counts, **{f"cash_receipt_{outcome}": n for outcome, n in cash.items()}}


@shared_task(name="transactions.tasks.cash_receipt_cancel_task", acks_late=True)
def cash_receipt_cancel_task(cancel_id: int) -> str:
    """After a refund committed: cancel the order's 현금영수증 (or the refunded part) at the PG. Idempotent (the row's
    state, lease and Idempotency-Key); one left pending is finished by refunds_reconcile_task."""
    return documents.cash_receipt_cancel_send(cancel_id, source="refund").state


@worker_ready.connect
def sweep_work_dir_at_start(**kwargs) -> None:
    """A worker starting on a node removes what killed workers of that node left in PACKAGE_WORK_DIR (an
    hour old: an upload of a finished ZIP to object storage reads it for minutes, not hours)."""
    swept = packaging.sweep_work_dir(older_than=3600)
    if swept:
        logger.info("removed %s stale package work files", swept)


# API plans (issue 16): their tasks live in transactions/apiplans/tasks.py; imported so the worker registers them.
from transactions.apiplans import tasks as _apiplans_tasks  # noqa: E402, F401
