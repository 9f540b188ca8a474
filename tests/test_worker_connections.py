"""A Celery worker keeps its database connection between tasks, by Django's rules as a web process keeps it between
requests (DB_CONN_MAX_AGE; closed when broken or left with autocommit off): Celery's Django fix-up closed it before
and after every task, so each task started a new PostgreSQL backend (a fork, its caches loaded and its shared buffers
mapped again: under the load of bench/load.py the worker's exact counts are one task per large search). A kept
connection PostgreSQL dropped meanwhile is replaced before the next task, even one whose first statement is inside
transaction.atomic (marketplace/celery.py)."""

import pytest
from celery import shared_task
from django.db import connection, transaction

pytestmark = pytest.mark.django_db(transaction=True)


@shared_task(name="tests.test_worker_connections.backend_pid")
def backend_pid(in_atomic: bool = False) -> int:
    """The PostgreSQL backend this task's statements ran on (registered when this module is collected, before the
    session's worker starts: the worker runs in this process)."""
    if in_atomic:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_worker_runs_its_tasks_on_one_database_connection(celery_worker):
    pids = [backend_pid.delay().get(timeout=60) for _ in range(3)]
    assert len(set(pids)) == 1, f"a new backend per task: {pids}"


def test_a_connection_postgresql_dropped_is_replaced_before_a_task_that_starts_in_a_transaction(celery_worker):
    first = backend_pid.delay().get(timeout=60)
    with connection.cursor() as cursor:  # as a restart or a failover of the server would
        cursor.execute("SELECT pg_terminate_backend(%s)", [first])
    second = backend_pid.delay(in_atomic=True).get(timeout=60)
    assert second != first
    assert backend_pid.delay(in_atomic=True).get(timeout=60) == second
