"""Snapshots: on its cadence a live table publishes a dated version holding the rows of the period as a CSV, through
the normal upload, checks and publication (by the system, the audit saying it was automatic), superseding the last
version so subscribers get their package as for any new version. A day without rows makes no version."""

import csv
import datetime as dt
import io

import pytest
import time_machine

from catalog.live import services as live
from catalog.live.models import LiveTable
from catalog.live.schema import KST
from catalog.models import DataFile, DatasetVersion, Review
from catalog.tasks import datafile_check_task
from core.models import AuditEvent
from tests.catalog.live_fixtures import live_table, row  # noqa: F401

pytestmark = pytest.mark.django_db


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=KST)


def _run_checks(version):
    for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
        datafile_check_task.apply(args=[datafile.pk])


def test_a_daily_snapshot_publishes_the_rows_of_the_day(official, live_table):
    today = dt.date(2026, 12, 5)
    yesterday = today - dt.timedelta(days=1)
    with time_machine.travel(_at(yesterday, 9), tick=False):
        live.live_rows_append(actor=official, table=live_table, idempotency_key="y1", rows=[row(pm=11), row(pm=12)])
    with time_machine.travel(_at(today, 0) + dt.timedelta(minutes=5), tick=False):
        live.live_rows_append(
            actor=official, table=live_table, idempotency_key="t1", rows=[row(pm=99)]
        )  # today: not in
    before = live_table.dataset.versions.get(state="published")

    with time_machine.travel(_at(today, 1), tick=False):
        assert live.live_snapshot_step(table_id=live_table.pk) == "started"
        table = LiveTable.objects.get(pk=live_table.pk)
        version = table.snapshot_version
        assert version.number == before.number + 1 and table.snapshot_period == yesterday
        assert "2026-12-04" in version.change_note
        assert live.live_snapshot_step(table_id=live_table.pk).startswith("waiting")
        _run_checks(version)
        assert live.live_snapshot_step(table_id=live_table.pk) == "published"
        assert live.live_snapshot_step(table_id=live_table.pk) == "done"  # idempotent

    version.refresh_from_db()
    before.refresh_from_db()
    assert version.state == DatasetVersion.State.PUBLISHED and before.state == DatasetVersion.State.SUPERSEDED
    snapshot = version.files.get(original_name="live-daegijil-2026-12-04.csv")
    with snapshot.file.open("rb") as fh:
        rows = list(csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8")))
    assert [r["미세먼지"] for r in rows] == ["11", "12"]
    assert version.files.filter(original_name="대기질.csv").exists()  # the published table is carried
    approval = Review.objects.get(version=version, action="approve")
    assert approval.data["automatic"] is True and approval.data["live_table"] == "daegijil"
    event = AuditEvent.objects.filter(action="version.approve", object_id=str(version.pk)).get()
    assert event.data["automatic"] is True and "자동 게시" in event.reason
    assert LiveTable.objects.get(pk=live_table.pk).last_snapshot_at is not None

    # The next day's snapshot replaces the previous snapshot file instead of piling them up.
    tomorrow = today + dt.timedelta(days=1)
    with time_machine.travel(_at(tomorrow, 1), tick=False):
        assert live.live_snapshot_step(table_id=live_table.pk) == "started"
        nxt = LiveTable.objects.get(pk=live_table.pk).snapshot_version
        _run_checks(nxt)
        assert live.live_snapshot_step(table_id=live_table.pk) == "published"
    names = sorted(nxt.files.values_list("original_name", flat=True))
    assert names == ["live-daegijil-2026-12-05.csv", "대기질.csv"]


def test_a_day_without_rows_makes_no_version(official, live_table):
    with time_machine.travel(_at(dt.date(2026, 12, 5), 1), tick=False):
        assert live.live_snapshot_step(table_id=live_table.pk) == "no rows"
        assert live.live_snapshot_step(table_id=live_table.pk) == "done"
    assert live_table.dataset.versions.count() == 1
