"""Claiming a query store locks the store's row only, not its version's and dataset's. Found in CI: the claim's
select_for_update with select_related("version__dataset") locked those rows FOR UPDATE too, and a checkout committing
an order line for that version (its foreign key takes FOR KEY SHARE on the version) while holding a key share on the
dataset deadlocked with a worker claiming the store (tests/transactions/test_packaging.py, "deadlock detected")."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from catalog.querystore import services
from tests.catalog.test_discovery import publish

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_in_progress_leaves_the_version_and_dataset_rows_free_for_key_shares(publisher, monkeypatch):
    dataset = publish(publisher, "대기질 측정")
    version = dataset.versions.get()
    inside, release = threading.Event(), threading.Event()

    def held_lease_length():  # called inside the claim's transaction, after its lock
        inside.set()
        release.wait(10)
        return timedelta(seconds=60)

    monkeypatch.setattr(services, "_lease_length", held_lease_length)
    failures = []

    def claim():
        try:
            services.query_store_claim(version_id=version.pk, variant="full")
        except Exception as error:  # (reported to the test below)
            failures.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=claim)
    worker.start()
    try:
        assert inside.wait(10), "the claim did not reach its lease"
        with transaction.atomic(), connection.cursor() as cursor:
            # What a committing order line's foreign keys take: would fail at once (NOWAIT) under FOR UPDATE.
            cursor.execute("SELECT 1 FROM catalog_datasetversion WHERE id = %s FOR KEY SHARE NOWAIT", [version.pk])
            cursor.execute("SELECT 1 FROM catalog_dataset WHERE id = %s FOR KEY SHARE NOWAIT", [dataset.pk])
    finally:
        release.set()
        worker.join(10)
    assert not failures
