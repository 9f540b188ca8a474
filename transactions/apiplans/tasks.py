"""Celery tasks of API plans: thin, idempotent, calling services (imported by transactions.tasks so the worker
registers them)."""

from celery import shared_task

from transactions.apiplans import billing, services, usage


@shared_task(name="transactions.apiplans.tasks.usage_flush_task")
def usage_flush_task() -> dict:
    """Every minute (beat): the data API's usage counters, Redis → ApiUsage, exactly once."""
    return usage.usage_flush()


@shared_task(name="transactions.apiplans.tasks.bills_make_month_task")
def bills_make_month_task() -> int:
    """The 1st of each month (beat): last month's (Korean time) bills of metered plans. Idempotent."""
    return len(billing.bills_make_month(month=billing.previous_month()))


@shared_task(name="transactions.apiplans.tasks.plans_expire_task")
def plans_expire_task() -> int:
    """Every 5 minutes (beat): API plans whose period is over or whose order line was refunded are ended."""
    return services.plans_expire()
