"""Beat tasks of live tables: thin, idempotent, leased by their services."""

import logging

from celery import shared_task
from django.conf import settings

from catalog.live import selectors, services

logger = logging.getLogger(__name__)


@shared_task(name="catalog.live.tasks.live_compact_task", acks_late=True)
def live_compact_task() -> int:
    """Fold rows into each table's DuckDB file once LIVE_COMPACT_MIN_ROWS have gathered (leased per table)."""
    folded = 0
    for table_id in selectors.tables_to_compact(settings.LIVE_COMPACT_MIN_ROWS):
        try:
            folded += services.live_table_compact(table_id=table_id)
        except Exception:
            logger.exception("live compaction failed", extra={"table_id": table_id})
    return folded


@shared_task(name="catalog.live.tasks.live_snapshots_task", acks_late=True)
def live_snapshots_task() -> dict:
    """Advance each live table's snapshot of its last complete period (start, wait for checks, publish)."""
    done = {}
    for table_id in selectors.tables_with_snapshots():
        try:
            done[table_id] = services.live_snapshot_step(table_id=table_id)
        except Exception as exc:
            logger.exception("live snapshot failed", extra={"table_id": table_id})
            done[table_id] = f"failed: {type(exc).__name__}"
    return done


@shared_task(name="catalog.live.tasks.live_demo_feed_task", acks_late=True)
def live_demo_feed_task() -> int:
    """The demo air-quality sensors report (catalog.demo): one reading per sensor, once a minute."""
    # catalog.demo is development data, imported only where the demo feed runs
    from catalog import demo

    return demo.live_feed_append()
