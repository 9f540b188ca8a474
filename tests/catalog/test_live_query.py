"""A live table answers queries through the query engine: its DuckDB file (compacted rows) plus a tail of newer rows,
with `_row` = seq, so a reader polling with `since=` sees each new row once, within 2 s of its append, before and
after compaction; filters work over both parts; compaction folds rows without changing any answer."""

import threading
import time

import pytest
from django.db import connection

from catalog.live import selectors
from catalog.live import services as live
from catalog.querystore import engine
from tests.catalog.live_fixtures import live_table, make_live_table, row  # noqa: F401

pytestmark = pytest.mark.django_db


def _page(table, **spec):
    return engine.page([selectors.live_source(table)], table.name, engine.PageSpec(**spec))


def test_since_returns_only_newer_rows_typed_by_the_schema(official, live_table):
    live.live_rows_append(actor=official, table=live_table, idempotency_key="a", rows=[row(pm=1), row(pm=2)])
    page = _page(live_table)
    assert [r[2] for r in page.rows] == [1, 2]
    assert page.last_row == 2
    assert str(page.rows[0][1]) == "2026-12-05 14:00:00"  # a TIMESTAMP, in Korean time
    live.live_rows_append(actor=official, table=live_table, idempotency_key="b", rows=[row(pm=3)])
    newer = _page(live_table, since=page.last_row)
    assert [r[2] for r in newer.rows] == [3] and newer.last_row == 3


def test_compaction_folds_rows_into_duckdb_and_answers_stay_the_same(official, live_table):
    for k in range(3):
        live.live_rows_append(
            actor=official,
            table=live_table,
            idempotency_key=f"k{k}",
            rows=[row(station=s, pm=k * 10 + i) for i, s in enumerate(["정왕동", "대야동", "배곧동"])],
        )
    before = _page(live_table, limit=100)
    assert live.live_table_compact(table_id=live_table.pk, min_rows=1) == 9
    live_table.refresh_from_db()
    assert live_table.compacted_seq == 9 and live_table.store
    source = selectors.live_source(live_table)
    assert source.store_path and source.tail_csv is None
    assert _page(live_table, limit=100).rows == before.rows
    # New rows after compaction: the store and a tail, filtered together.
    live.live_rows_append(actor=official, table=live_table, idempotency_key="k9", rows=[row(station="대야동", pm=99)])
    filtered = _page(live_table, filters=[engine.Filter("측정소명", "eq", "대야동")])
    assert [r[2] for r in filtered.rows] == [1, 11, 21, 99]
    assert [r[2] for r in _page(live_table, since=9).rows] == [99]
    # A second compaction keeps the first file's rows.
    assert live.live_table_compact(table_id=live_table.pk, min_rows=1) == 1
    live_table.refresh_from_db()
    assert live_table.compacted_seq == 10
    assert len(_page(live_table, limit=100).rows) == 10


@pytest.mark.django_db(transaction=True)
def test_a_reader_polling_with_since_sees_a_new_row_within_two_seconds(official, admin_user, reference_data):
    table = make_live_table(official, admin_user)
    seen: list[tuple[int, float]] = []
    stop = threading.Event()

    def reader():
        since = 0
        try:
            while not stop.is_set():
                page = _page(table, since=since)
                for r in page.rows:
                    seen.append((r[2], time.monotonic()))
                since = page.last_row or since
                time.sleep(0.1)
        finally:
            connection.close()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        latencies = []
        for n in range(5):
            started = time.monotonic()
            live.live_rows_append(actor=official, table=table, idempotency_key=f"n{n}", rows=[row(pm=n)])
            deadline = started + 2.0
            while time.monotonic() < deadline and not any(v == n for v, _t in seen):
                time.sleep(0.01)
            arrival = next(t for v, t in seen if v == n)
            latencies.append(arrival - started)
    finally:
        stop.set()
        thread.join()
    assert [v for v, _t in seen] == [0, 1, 2, 3, 4]  # each row once, in order
    assert max(latencies) < 2.0
    print(f"since= latency max {max(latencies) * 1000:.0f} ms")


def test_the_data_api_serves_live_rows_with_since_to_entitled_buyers(api, official, buyer, live_table, make_key):
    # tests.transactions helpers: buying is transactions' business (the test may cross the layers)
    from tests.transactions.livefeed_helpers import subscribe

    live.live_rows_append(actor=official, table=live_table, idempotency_key="a", rows=[row(pm=1), row(pm=2)])
    url = f"/api/v1/data/{live_table.dataset.slug}/live/{live_table.name}"
    api.with_key(make_key(buyer, scopes=("data",)))
    assert api.get(url).status_code == 403  # no subscription yet
    subscribe(buyer, live_table.dataset)
    first = api.get(url)
    assert first.status_code == 200, first.content
    assert [r["미세먼지"] for r in first.json()["rows"]] == [1, 2]
    live.live_rows_append(actor=official, table=live_table, idempotency_key="b", rows=[row(pm=3)])
    newer = api.get(url, {"since": first.json()["next_since"]})  # the cursor the API hands back, not a guess
    assert first.json()["next_since"] == 2
    assert [r["미세먼지"] for r in newer.json()["rows"]] == [3]
    assert newer.json()["next_since"] == 3
    assert api.get(url, {"since": 3}).json()["next_since"] == 3  # nothing newer: the same cursor again
    assert api.get(url, {"since": 2, "format": "csv"})["X-Next-Since"] == "3"
    filtered = api.get(url, {"미세먼지__gte": 2})
    assert [r["미세먼지"] for r in filtered.json()["rows"]] == [2, 3]


def test_the_beat_compacts_tables_past_the_threshold_and_no_others(official, live_table, settings):
    from catalog.live.tasks import live_compact_task

    settings.LIVE_COMPACT_MIN_ROWS = 3
    live.live_rows_append(actor=official, table=live_table, idempotency_key="a", rows=[row(pm=1), row(pm=2)])
    assert live_compact_task.apply().get() == 0  # 2 rows: below the threshold
    live.live_rows_append(actor=official, table=live_table, idempotency_key="b", rows=[row(pm=3)])
    assert live_compact_task.apply().get() == 3
    live_table.refresh_from_db()
    assert live_table.compacted_seq == 3 and selectors.live_source(live_table).tail_csv is None
    assert [r[2] for r in _page(live_table).rows] == [1, 2, 3]


def test_a_since_poll_reads_only_what_is_new_not_the_store_nor_the_whole_tail(official, live_table):
    """A reader polling with since= past the compacted rows gets a source without the store file and a tail of the
    rows after its cursor only: a poll costs what is new (it read the whole tail, 22,700 rows, on every poll)."""
    for k in range(3):
        live.live_rows_append(actor=official, table=live_table, idempotency_key=f"a{k}", rows=[row(pm=k)])
    assert live.live_table_compact(table_id=live_table.pk, min_rows=1) == 3
    for k in range(4):
        live.live_rows_append(actor=official, table=live_table, idempotency_key=f"b{k}", rows=[row(pm=10 + k)])
    live_table.refresh_from_db()
    full = selectors.live_source(live_table)
    assert full.store_path and sum(1 for _ in open(full.tail_csv, encoding="utf-8")) == 1 + 4
    polled = selectors.live_source(live_table, since=5)
    assert polled.store_path is None
    assert sum(1 for _ in open(polled.tail_csv, encoding="utf-8")) == 1 + 2  # header + seq 6 and 7
    page = engine.page([polled], live_table.name, engine.PageSpec(since=5))
    assert [r[2] for r in page.rows] == [12, 13] and page.last_row == 7
    # A cursor inside the compacted part still reads the store, and the answer is the same as without the cut.
    inside = engine.page([selectors.live_source(live_table, since=1)], live_table.name, engine.PageSpec(since=1))
    assert [r[2] for r in inside.rows] == [1, 2, 10, 11, 12, 13]
    assert selectors.live_source(live_table, since=7).tail_csv is None  # nothing newer: nothing read
