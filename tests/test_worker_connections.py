"""A Celery worker keeps its database connection between tasks, by Django's rules as a web process keeps it between
requests (DB_CONN_MAX_AGE; closed at once when broken or left mid-transaction): Celery's Django fix-up closed it
before and after every task, so each task started a new PostgreSQL backend (a fork, its caches loaded and its shared
buffers mapped again: under the load of bench/load.py the worker's exact counts are one task per large search)."""

import pytest
from django.db import connection

from catalog.tasks import lexeme_frequencies_task

pytestmark = pytest.mark.django_db(transaction=True)


def _other_backends() -> set[int]:
    """The PostgreSQL backends connected to the test database other than this test's own."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return {pid for (pid,) in cursor.fetchall()}


def test_a_worker_runs_its_tasks_on_one_database_connection(celery_worker):
    seen = []
    for _ in range(3):
        lexeme_frequencies_task.delay().get(timeout=60)  # (a task that reads the database)
        seen.append(_other_backends())
    assert seen[0], "the worker's connection closed after its task"
    assert seen[0] & seen[1] & seen[2], f"a new backend per task: {seen}"
