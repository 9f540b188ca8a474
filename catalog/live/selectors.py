"""Reads of live tables: the query source of a table (store file + tail), rows after a seq, freshness."""

import os
import time
from pathlib import Path

from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.live.models import LiveRow, LiveState, LiveTable
from catalog.live.services import local_store_path, write_rows_csv
from core.text import lazy_percent

# A tail CSV not used for this long is removed by the next writer of the same table.
TAIL_KEEP_SECONDS = 120


def live_tables(dataset) -> list[LiveTable]:
    return list(dataset.live_tables.order_by("name"))


def live_table_get(dataset, name: str) -> LiveTable | None:
    return dataset.live_tables.filter(name=name).first()


def rows_after(table: LiveTable | int, since: int, *, limit: int = 500) -> list[tuple[int, dict]]:
    """(seq, data) of the rows with seq > since, in seq order (commit order), at most `limit`."""
    table_id = getattr(table, "pk", table)
    return list(
        LiveRow.objects.filter(table_id=table_id, seq__gt=since).order_by("seq").values_list("seq", "data")[:limit]
    )


def last_seq(table_id: int) -> int:
    return LiveTable.objects.filter(pk=table_id).values_list("last_seq", flat=True).first() or 0


def last_rows(table: LiveTable, n: int = 10) -> list[tuple[int, dict]]:
    rows = LiveRow.objects.filter(table=table).order_by("-seq").values_list("seq", "data")[:n]
    return list(rows)


def _tail_csv(table: LiveTable, after: int) -> str | None:
    """A local CSV of the rows after seq `after` (≥ compacted_seq: not in the store file), made once per (after, last)."""
    if table.last_seq <= after:
        return None
    folder = Path(settings.LIVE_CACHE_DIR) / "tails"
    folder.mkdir(parents=True, exist_ok=True)
    # The table's id alone is not enough: a re-created database (a reset development or test database) numbers
    # its tables from 1 again, and must not be served the tails an earlier table of that id left here.
    born = int(table.enabled_at.timestamp() * 1_000_000)
    path = folder / f"{table.pk}-{born}-{after}-{table.last_seq}.csv"
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.{time.monotonic_ns()}.part")
        rows = (
            LiveRow.objects.filter(table=table, seq__gt=after, seq__lte=table.last_seq)
            .order_by("seq")
            .values_list("seq", "data")
            .iterator(chunk_size=5000)
        )
        write_rows_csv(tmp, table.columns, rows)
        tmp.replace(path)
        now = time.time()
        for old in folder.glob(f"{table.pk}-*.csv"):
            try:
                if old != path and now - old.stat().st_mtime > TAIL_KEEP_SECONDS:
                    old.unlink(missing_ok=True)
            except FileNotFoundError:
                continue  # another reader removed it meanwhile
    else:
        # In use now: the clean-up above counts from the last use, not from when the file was made (a quiet
        # table's tail is old, and a query that just took it must still find it when the next row arrives).
        try:
            os.utime(path)
        except FileNotFoundError:
            return _tail_csv(table, after)
    return str(path)


def live_source(table: LiveTable, *, since: int | None = None):
    """The engine's Source of a live table: its DuckDB file (rows ≤ compacted_seq, table `rows`) if any, plus a
    tail CSV of the newer rows; `_row` is the seq, so `since=<seq>` returns the rows appended after it.

    With `since` (a reader polling for new rows), rows up to it are left out here already: at or past the compacted
    part, neither the store file nor the older tail is read, so a poll costs what is new, not the whole tail."""
    # the query engine loads DuckDB: imported when a live table is queried, not by every page that shows freshness
    from catalog.querystore.engine import Column, Source

    table.refresh_from_db(fields=["last_seq", "compacted_seq", "store"])
    since = max(int(since or 0), 0)
    past_store = since >= table.compacted_seq
    return Source(
        name=table.name,
        store_path=local_store_path(table.store.name) if table.store and not past_store else None,
        store_table="rows",
        columns=tuple(Column(name=c["name"], type=c["type"], masked=bool(c.get("masked"))) for c in table.columns),
        geometry=None,
        order_key="",
        tail_csv=_tail_csv(table, max(table.compacted_seq, since)),
    )


def freshness(dataset) -> list[dict]:
    """For the dataset page: each live table with its last row's age ("마지막 행 2분 전"), state and row count."""
    out = []
    if getattr(dataset, "has_live_tables", True) is False:  # known already (catalog.selectors.dataset_page): no query
        return out
    now = timezone.now()
    for table in dataset.live_tables.order_by("name"):
        age = (now - table.last_row_at).total_seconds() if table.last_row_at else None
        out.append(
            {
                "table": table,
                "age_seconds": age,
                "age": _age_text(age),
                "paused": table.state == LiveState.PAUSED,
                "row_count": table.row_count,
            }
        )
    return out


def _age_text(seconds: float | None):
    if seconds is None:
        return _("no rows yet")
    if seconds < 60:
        return lazy_percent(_("last row %(n)s s ago"), {"n": int(seconds)})
    if seconds < 3600:
        return lazy_percent(_("last row %(n)s min ago"), {"n": int(seconds // 60)})
    if seconds < 86400:
        return lazy_percent(_("last row %(n)s h ago"), {"n": int(seconds // 3600)})
    return lazy_percent(_("last row %(n)s days ago"), {"n": int(seconds // 86400)})


def tables_to_compact(min_rows: int) -> list[int]:
    return list(
        LiveTable.objects.annotate(pending=F("last_seq") - F("compacted_seq"))
        .filter(pending__gte=max(min_rows, 1))
        .values_list("pk", flat=True)
    )


def tables_with_snapshots() -> list[int]:
    return list(LiveTable.objects.filter(cadence__in=("daily", "weekly", "monthly")).values_list("pk", flat=True))


def for_buyers(table: LiveTable, rows: list[tuple[int, dict]]) -> list[dict]:
    """Rows as buyers see them ({"seq", "data"}), personal-data columns masked as everywhere else."""
    masked = [c["name"] for c in table.columns if c.get("masked")]
    if masked:
        # heavy (DuckDB, phonenumbers): only for tables with a personal-data column
        from catalog.ingest.pii import mask_value

        rows = [(seq, {**data, **{m: mask_value(data.get(m), m) for m in masked}}) for seq, data in rows]
    return [{"seq": seq, "data": data} for seq, data in rows]
