"""The Celery app. Workers and beat start with `celery -A marketplace worker|beat`."""

import logging
import os

from celery import Celery, bootsteps
from celery.signals import (
    setup_logging,
    task_failure,
    task_postrun,
    task_prerun,
    task_rejected,
    task_retry,
    task_revoked,
    task_success,
)
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def keep_django_logging(loglevel=None, **kwargs):
    """Workers log like the web processes: Django's LOGGING (marketplace.logging: JSON lines in production, with the
    request id of the task's request) is already configured when Django sets up. Without a receiver here Celery would
    replace the root logger's handlers with its own plain-text format. The worker's `-l` level still applies."""
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@task_prerun.connect
@task_postrun.connect
def database_connection_between_tasks(task=None, **kwargs):
    """Before and after each task, the worker's database connection is kept or closed by Django's rules, as around a
    web request: closed once older than DB_CONN_MAX_AGE, after an error that left it unusable, or when the task left
    autocommit off; otherwise the next task uses it (settings.CELERY_DB_REUSE_MAX turns off Celery's own close around
    every task, which made each task a new PostgreSQL backend). A kept connection PostgreSQL dropped meanwhile (a
    restart, a failover) is found by CONN_HEALTH_CHECKS before the task's first statement, also when that statement
    opens transaction.atomic (Django checks before it turns autocommit off). Not for a task run eagerly inside the
    caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()


class RequestContextStep(bootsteps.Step):
    """In a worker: each task's log lines carry the request id (and user) of the web request that queued it.

    The web side puts its structlog context into the task's headers (django-structlog's before_task_publish
    receiver, connected by its app when DJANGO_STRUCTLOG_CELERY_ENABLED); this binds it again before the task runs
    and logs task_started / task_succeeded / task_failed. Only the worker's signals: the publishing ones are already
    connected by the Django app (connecting them twice would put every task_enqueued line in the log twice)."""

    def __init__(self, parent, **kwargs):
        super().__init__(parent, **kwargs)
        # Function-level import: django-structlog's receivers read Django settings, ready only once the worker starts.
        from django_structlog.celery.receivers import CeleryReceiver

        self.receiver = receiver = CeleryReceiver()
        task_prerun.connect(receiver.receiver_task_prerun)
        task_retry.connect(receiver.receiver_task_retry)
        task_success.connect(receiver.receiver_task_success)
        task_failure.connect(receiver.receiver_task_failure)
        task_revoked.connect(receiver.receiver_task_revoked)
        task_rejected.connect(receiver.receiver_task_rejected)


app.steps["worker"].add(RequestContextStep)
