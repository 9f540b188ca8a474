"""The demo's live air-quality feed: loading the demo makes its table live (once), and the beat task appends one
plausible reading per sensor each minute, idempotently (a repeated beat in the same minute stores nothing)."""

import datetime as dt

import pytest
from django.core.management import call_command

from catalog import demo
from catalog.live.models import LiveRow, LiveTable
from catalog.live.schema import KST
from catalog.live.tasks import live_demo_feed_task


@pytest.mark.django_db
def test_the_demo_feed_appends_a_reading_per_sensor_every_minute(reference_data, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("load_demo", verbosity=0)
    call_command("load_demo", verbosity=0)  # idempotent
    table = LiveTable.objects.get(dataset__slug=demo.LIVE_SLUG)
    assert LiveTable.objects.count() == 1
    assert table.column_names == demo.LIVE_COLUMNS

    minute = dt.datetime(2026, 12, 5, 8, 0, tzinfo=KST)
    assert demo.live_feed_append(minute) == 5
    assert demo.live_feed_append(minute + dt.timedelta(seconds=30)) == 0  # the same minute again
    assert demo.live_feed_append(minute + dt.timedelta(minutes=1)) == 5
    rows = [r.data for r in LiveRow.objects.filter(table=table).order_by("seq")]
    assert [r["측정소"] for r in rows[:5]] == ["정왕동", "대야동", "신천동", "목감동", "배곧동"]
    assert rows[0]["측정일시"] == "2026-12-05T08:00:00"
    for r in rows:
        assert 4 <= r["PM10(㎍/㎥)"] <= 200 and 0 < r["O3(ppm)"] < 0.2 and 0 < r["CO(ppm)"] < 3
    assert live_demo_feed_task.apply().get() == 5  # the beat task (now)
    assert LiveTable.objects.get(pk=table.pk).row_count == 15
