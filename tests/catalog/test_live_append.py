"""Live tables: a provider pushes batches of rows. Every row is checked against the table's schema (a bad row refuses
the whole batch, naming the row, the column and why, and nothing is stored); a batch retried with its idempotency key
is stored once, even when ten copies arrive at once; rows are immutable; seq order is commit order."""

import threading

import pytest
from django.db import IntegrityError, InternalError, connection, transaction

from catalog.live import services as live
from catalog.live.models import LiveBatch, LiveRow, LiveTable
from catalog.live.schema import RowInvalid
from core.errors import DomainError, NotAllowed
from tests.catalog.live_fixtures import live_table, make_live_table, row  # noqa: F401

pytestmark = pytest.mark.django_db


def test_enabling_fixes_the_schema_from_the_published_table(official, live_table):
    assert live_table.name == "daegijil"
    columns = {c["name"]: c for c in live_table.columns}
    assert columns["미세먼지"]["schema_type"] == "integer" and columns["미세먼지"]["type"] == "BIGINT"
    assert columns["측정일시"]["schema_type"] == "datetime" and columns["측정일시"]["type"] == "TIMESTAMP"
    again = live.live_table_enable(
        actor=official, dataset=live_table.dataset, datafile=live_table.source, cadence="daily"
    )
    assert again.pk == live_table.pk  # the same table, not a second one


def test_values_are_normalised_korean_friendly(official, live_table):
    batch, created = live.live_rows_append(
        actor=official,
        table=live_table,
        idempotency_key="k1",
        rows=[
            row(when="2026-12-05T05:00:00Z", pm="1,234"),  # UTC → KST, grouped integer
            row(when="2026-12-05 14:30", pm=12),  # the column's own format, taken as KST
            row(when="2026-12-05T14:30:00+09:00", pm=None),  # empty value
        ],
    )
    assert created and (batch.first_seq, batch.last_seq, batch.rows) == (1, 3, 3)
    data = [r.data for r in LiveRow.objects.filter(table=live_table).order_by("seq")]
    assert data[0] == {"측정소명": "정왕동", "측정일시": "2026-12-05T14:00:00", "미세먼지": 1234}
    assert data[1]["측정일시"] == "2026-12-05T14:30:00" and data[1]["미세먼지"] == 12
    assert data[2]["미세먼지"] is None
    live_table.refresh_from_db()
    assert (live_table.last_seq, live_table.row_count) == (3, 3) and live_table.last_row_at


@pytest.mark.parametrize(
    "bad, number, column, ko, en",
    [
        ({"미세먼지": "많음"}, 2, "미세먼지", "정수", "whole number"),
        ({"측정일시": "어제 오후"}, 2, "측정일시", "날짜", "date and time"),
        ({"풍속": 3}, 2, "풍속", "열", "no column"),
    ],
)
def test_a_bad_row_refuses_the_whole_batch_with_its_number_and_reason(
    official, live_table, bad, number, column, ko, en
):
    from django.utils import translation

    rows = [row(), {**row(), **bad}, row()]
    with pytest.raises(RowInvalid) as caught:
        live.live_rows_append(actor=official, table=live_table, idempotency_key="bad", rows=rows)
    error = caught.value
    assert (error.row, error.column) == (number, column)
    with translation.override("ko"):
        assert f"{number}번째 행" in str(error.message) and ko in str(error.message)
    with translation.override("en"):
        assert f"Row {number}" in str(error.message) and en in str(error.message)
    assert not LiveRow.objects.exists() and not LiveBatch.objects.exists()
    live_table.refresh_from_db()
    assert live_table.last_seq == 0


def test_the_same_key_and_body_is_stored_once_another_body_is_a_conflict(official, live_table):
    first, created = live.live_rows_append(actor=official, table=live_table, idempotency_key="k", rows=[row(), row()])
    again, created_again = live.live_rows_append(
        actor=official, table=live_table, idempotency_key="k", rows=[row(), row()]
    )
    assert created and not created_again and again.pk == first.pk
    assert LiveRow.objects.count() == 2
    with pytest.raises(live.Conflict):
        live.live_rows_append(actor=official, table=live_table, idempotency_key="k", rows=[row(pm=99)])
    assert LiveRow.objects.count() == 2


def test_only_the_publisher_pushes_and_a_paused_table_refuses(official, buyer, live_table):
    with pytest.raises(NotAllowed):
        live.live_rows_append(actor=buyer, table=live_table, idempotency_key="x", rows=[row()])
    live.live_table_pause(actor=official, table=live_table)
    with pytest.raises(live.Conflict):
        live.live_rows_append(actor=official, table=live_table, idempotency_key="y", rows=[row()])
    live.live_table_resume(actor=official, table=live_table)
    live.live_rows_append(actor=official, table=live_table, idempotency_key="y", rows=[row()])
    from core.models import AuditEvent

    assert list(
        AuditEvent.objects.filter(action__startswith="live.").values_list("action", flat=True).order_by("id")
    ) == [
        "live.enabled",
        "live.paused",
        "live.active",
    ]


def test_batch_size_is_capped(official, live_table, settings):
    settings.LIVE_BATCH_MAX_ROWS = 3
    with pytest.raises(DomainError) as caught:
        live.live_rows_append(actor=official, table=live_table, idempotency_key="big", rows=[row()] * 4)
    assert caught.value.code == "batch_too_large"


def test_rows_and_batches_are_immutable(official, live_table):
    live.live_rows_append(actor=official, table=live_table, idempotency_key="k", rows=[row()])
    stored = LiveRow.objects.get()
    with pytest.raises(PermissionError):
        stored.save()
    with pytest.raises(PermissionError):
        stored.delete()
    for statement in (
        "UPDATE catalog_liverow SET data = '{}'::jsonb",
        "DELETE FROM catalog_liverow",
        "UPDATE catalog_livebatch SET rows = 9",
    ):
        with pytest.raises((InternalError, IntegrityError, Exception)) as refused:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(statement)
        assert "append-only" in str(refused.value)
    assert LiveRow.objects.get().data == stored.data


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_retries_of_one_batch_store_it_once(official, admin_user, reference_data):
    table = make_live_table(official, admin_user)
    results, errors = [], []
    barrier = threading.Barrier(10)

    def push():
        try:
            barrier.wait()
            results.append(
                live.live_rows_append(actor=official, table=table, idempotency_key="same", rows=[row(), row()])
            )
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=push) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({batch.pk for batch, _created in results}) == 1
    assert sum(created for _batch, created in results) == 1
    assert LiveBatch.objects.count() == 1 and LiveRow.objects.count() == 2
    assert LiveTable.objects.get(pk=table.pk).last_seq == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_get_gapless_seqs_in_commit_order(official, admin_user, reference_data):
    table = make_live_table(official, admin_user)
    errors = []

    def push(n):
        try:
            for k in range(5):
                live.live_rows_append(
                    actor=official, table=table, idempotency_key=f"t{n}-{k}", rows=[row(pm=n * 100 + k)] * 3
                )
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=push, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = list(LiveRow.objects.filter(table=table).order_by("seq").values_list("seq", "batch_id", "received_at"))
    assert [seq for seq, _b, _r in rows] == list(range(1, 91))
    # Each batch's rows are contiguous, and batches follow each other in the order they committed (ids grow).
    batches = list(
        LiveBatch.objects.filter(table=table).order_by("first_seq").values_list("id", "first_seq", "last_seq")
    )
    assert [b[0] for b in batches] == sorted(b[0] for b in batches)
    assert all(last - first == 2 for _id, first, last in batches)
