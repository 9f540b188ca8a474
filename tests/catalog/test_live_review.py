"""Review of the live tables (issue 16): pushed values the store cannot hold are refused with the row and column
(not a 500, not a table whose every later query fails), and personal-data columns stay masked in queries."""

import pytest

from catalog.live import selectors
from catalog.live import services as live
from catalog.live.models import LiveRow, LiveTable
from catalog.live.schema import RowInvalid
from catalog.querystore import engine
from tests.catalog.live_fixtures import live_table, row  # noqa: F401

pytestmark = pytest.mark.django_db


def _page(table, **spec):
    return engine.page([selectors.live_source(table)], table.name, engine.PageSpec(**spec))


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**70, 1e20, "99999999999999999999"])
def test_an_integer_beyond_64_bits_refuses_the_batch_and_the_table_stays_queryable(official, live_table, value):
    live.live_rows_append(actor=official, table=live_table, idempotency_key="ok", rows=[row(pm=1)])
    with pytest.raises(RowInvalid) as caught:
        live.live_rows_append(actor=official, table=live_table, idempotency_key="big", rows=[row(), row(pm=value)])
    assert (caught.value.row, caught.value.column) == (2, "미세먼지")
    assert LiveRow.objects.filter(table=live_table).count() == 1
    assert [r[2] for r in _page(live_table).rows] == [1]  # every query of the table still answers
    assert live.live_table_compact(table_id=live_table.pk, min_rows=1) == 1


def test_the_largest_64_bit_integers_are_kept(official, live_table):
    live.live_rows_append(
        actor=official, table=live_table, idempotency_key="edge", rows=[row(pm=2**63 - 1), row(pm=-(2**63))]
    )
    assert [r[2] for r in _page(live_table).rows] == [2**63 - 1, -(2**63)]


@pytest.mark.parametrize("text", ["정왕\x00동", "정왕\ud800동"])
def test_a_text_postgresql_cannot_store_is_refused_with_its_row(official, live_table, text):
    with pytest.raises(RowInvalid) as caught:
        live.live_rows_append(actor=official, table=live_table, idempotency_key="nul", rows=[row(), row(station=text)])
    assert (caught.value.row, caught.value.column) == (2, "측정소명")
    assert not LiveRow.objects.exists()


def test_personal_data_columns_stay_masked_in_queries_of_the_live_table(official, live_table):
    columns = [{**c, "masked": c["name"] == "측정소명"} for c in live_table.columns]
    LiveTable.objects.filter(pk=live_table.pk).update(columns=columns)
    live_table.refresh_from_db()
    phone = "010-1234-5678"
    live.live_rows_append(actor=official, table=live_table, idempotency_key="pii", rows=[row(station=phone)])
    [(seq, shown)] = [(d["seq"], d["data"]) for d in selectors.for_buyers(live_table, selectors.last_rows(live_table))]
    assert shown["측정소명"] != phone  # the stream and webhooks mask it
    assert [r[0] for r in _page(live_table).rows] == [shown["측정소명"]]  # the tail (query, SQL) too
    live.live_table_compact(table_id=live_table.pk, min_rows=1)
    live_table.refresh_from_db()
    assert [r[0] for r in _page(live_table).rows] == [shown["측정소명"]]  # and the compacted file


@pytest.mark.parametrize("raw", ['"정왕\\u0000동"', '"정왕\\ud800동"'])
def test_by_api_a_nul_or_a_lone_surrogate_is_a_400_naming_the_row(api, official, live_table, make_key, raw):
    api.with_key(make_key(official, scopes=("publish",)))
    url = f"/api/v1/provider/datasets/{live_table.dataset.slug}/live/{live_table.name}/rows"
    payload = '{"rows": [{"측정소명": "정왕동"}, {"측정소명": ' + raw + "}]}"
    answer = api.post(url, data=payload.encode(), content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert (error["row"], error["column"]) == (2, "측정소명") and "2번째 행" in error["message_ko"]
    assert not LiveRow.objects.exists()


def test_a_snapshot_version_the_provider_added_to_is_not_published_without_review(official, live_table):
    import datetime as dt
    import io

    import time_machine

    from catalog.live.schema import KST
    from catalog.models import DataFile, DatasetVersion
    from catalog.services import upload_append, upload_create, version_start_new
    from catalog.tasks import datafile_check_task

    def run_checks(version):
        for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
            datafile_check_task.apply(args=[datafile.pk])

    today = dt.date(2026, 12, 5)
    with time_machine.travel(dt.datetime.combine(today - dt.timedelta(days=1), dt.time(9), tzinfo=KST), tick=False):
        live.live_rows_append(actor=official, table=live_table, idempotency_key="y", rows=[row(pm=11)])
    with time_machine.travel(dt.datetime.combine(today, dt.time(1), tzinfo=KST), tick=False):
        assert live.live_snapshot_step(table_id=live_table.pk) == "started"
        version = LiveTable.objects.get(pk=live_table.pk).snapshot_version
        # The provider starts "a new version": it is the snapshot's draft, and they add a file of their own to it.
        mine = version_start_new(actor=official, dataset=live_table.dataset, change_note="새 자료 추가")
        assert mine.pk == version.pk and not mine.started_now
        body = "측정소명,측정일시,미세먼지\n정왕동,2026-12-01 10:00,5\n".encode()
        upload = upload_create(actor=official, version=version, filename="추가자료.csv", length=len(body))
        upload_append(actor=official, upload=upload, offset=0, stream=io.BytesIO(body))
        run_checks(version)
        version.refresh_from_db()
        assert version.state == DatasetVersion.State.READY
        assert live.live_snapshot_step(table_id=live_table.pk).startswith("waiting")
    version.refresh_from_db()
    assert version.state == DatasetVersion.State.READY  # not published by the system: the provider submits it


def test_a_tail_left_by_an_earlier_database_is_not_served(official, live_table, settings):
    # A reset database numbers its live tables from 1 again; the cache directory still holds the old tails.
    folder = settings.LIVE_CACHE_DIR / "tails"
    folder.mkdir(parents=True, exist_ok=True)
    stale = folder / f"{live_table.pk}-0-1.csv"
    stale.write_text("측정소명,측정일시,미세먼지,_row\n옛날동,2020-01-01T00:00:00,999,1\n", encoding="utf-8")
    try:
        live.live_rows_append(actor=official, table=live_table, idempotency_key="a", rows=[row(pm=7)])
        assert [(r[0], r[2]) for r in _page(live_table).rows] == [("정왕동", 7)]
    finally:
        stale.unlink(missing_ok=True)


@pytest.mark.django_db(transaction=True)
def test_a_reader_that_took_the_source_before_a_compaction_still_reads(official, admin_user, reference_data):
    from tests.catalog.live_fixtures import make_live_table

    table = make_live_table(official, admin_user)
    live.live_rows_append(actor=official, table=table, idempotency_key="a", rows=[row(pm=1)])
    assert live.live_table_compact(table_id=table.pk, min_rows=1) == 1
    live.live_rows_append(actor=official, table=table, idempotency_key="b", rows=[row(pm=2)])
    source = selectors.live_source(table)  # a data API call has its source (the first file and a tail)…
    assert live.live_table_compact(table_id=table.pk, min_rows=1) == 1  # …when the compaction swaps the file
    assert [r[2] for r in engine.page([source], table.name, engine.PageSpec()).rows] == [1, 2]
    table.refresh_from_db()
    assert [r[2] for r in _page(table).rows] == [1, 2]
    # Replaced files do not pile up: a later compaction deletes those older than the grace period.
    from django.core.files.storage import default_storage

    first = f"live/{table.dataset_id}/{table.name}-1.duckdb"
    assert default_storage.exists(first)
    live.REPLACED_STORE_KEEP_SECONDS, keep = 0, live.REPLACED_STORE_KEEP_SECONDS
    try:
        live.live_rows_append(actor=official, table=table, idempotency_key="c", rows=[row(pm=3)])
        assert live.live_table_compact(table_id=table.pk, min_rows=1) == 1
    finally:
        live.REPLACED_STORE_KEEP_SECONDS = keep
    table.refresh_from_db()
    assert not default_storage.exists(first) and default_storage.exists(table.store.name)


def test_a_reader_of_a_quiet_tables_tail_still_reads_when_a_new_row_arrives(official, live_table):
    import os
    import time

    live.live_rows_append(actor=official, table=live_table, idempotency_key="a", rows=[row(pm=1)])
    first = selectors.live_source(live_table)
    quiet = time.time() - 600  # no row for ten minutes: the tail file was made long ago
    os.utime(first.tail_csv, (quiet, quiet))
    source = selectors.live_source(live_table)  # a query takes the source (the same tail file)…
    live.live_rows_append(actor=official, table=live_table, idempotency_key="b", rows=[row(pm=2)])
    selectors.live_source(live_table)  # …another reader makes the new tail meanwhile
    assert [r[2] for r in engine.page([source], live_table.name, engine.PageSpec()).rows] == [1]


def test_a_period_the_snapshot_beat_missed_is_snapshotted_before_the_next(official, live_table):
    import datetime as dt

    import time_machine

    from catalog.live.schema import KST
    from catalog.models import DataFile
    from catalog.tasks import datafile_check_task

    def at(day, hour):
        return dt.datetime.combine(dt.date(2026, 12, day), dt.time(hour), tzinfo=KST)

    def publish_started():
        version = LiveTable.objects.get(pk=live_table.pk).snapshot_version
        for datafile in DataFile.objects.filter(version=version, check_state=DataFile.Check.PENDING):
            datafile_check_task.apply(args=[datafile.pk])
        assert live.live_snapshot_step(table_id=live_table.pk) == "published"
        return version

    for day in (3, 4, 5):
        with time_machine.travel(at(day, 9), tick=False):
            live.live_rows_append(actor=official, table=live_table, idempotency_key=f"d{day}", rows=[row(pm=day)])
    with time_machine.travel(at(4, 1), tick=False):
        assert live.live_snapshot_step(table_id=live_table.pk) == "started"
        publish_started()  # the 3rd
    # The beat did not run on the 5th (a worker down, or the provider's own draft was open that day).
    with time_machine.travel(at(6, 1), tick=False):
        assert live.live_snapshot_step(table_id=live_table.pk) == "started"
        fourth = publish_started()
        assert live.live_snapshot_step(table_id=live_table.pk) == "started"
        fifth = publish_started()
        assert live.live_snapshot_step(table_id=live_table.pk) == "done"
    assert fourth.files.filter(original_name="live-daegijil-2026-12-04.csv").exists()
    assert fifth.files.filter(original_name="live-daegijil-2026-12-05.csv").exists()
