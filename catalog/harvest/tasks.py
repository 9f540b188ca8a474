"""Harvest tasks: thin, leased and idempotent; the writes are catalog.harvest.importer's.

`harvest_run(run_id)` works on one run under its lease, resuming from the run's cursor; a redelivered or doubled
task finds the run leased (or ended) and does nothing. An unexpected failure (the database away, a bug) gives the
lease back and retries with backoff; after HARVEST_TASK_RETRIES the run ends failed with the reason. The source
itself failing (unreachable, not a catalog) ends the run failed at once, after the reader's own retries.
`harvest_due()` (beat) starts the scheduled sources' runs, hands runs whose worker was lost to a worker again, and
publishes fetched files once their checks passed (catalog.harvest.fetch).
"""

import logging

from celery import shared_task
from django.conf import settings

from catalog.harvest import fetch, importer
from catalog.harvest.readers import read_source, record_gone

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="catalog.harvest.tasks.harvest_run", acks_late=True, max_retries=None)
def harvest_run(self, run_id: int) -> str:
    run = importer.harvest_run_claim(run_id=run_id)
    if run is None:
        return "not claimed"
    try:
        return importer.harvest_run_perform(run=run, read_source=read_source, record_gone=record_gone)
    except importer.LeaseLost:
        return "lease lost"
    except Exception as exc:
        if self.request.retries < settings.HARVEST_TASK_RETRIES:
            logger.warning("harvest run %s failed, retrying: %s", run_id, exc)
            importer.harvest_run_release(run=run)
            raise self.retry(exc=exc, countdown=settings.HARVEST_RETRY_BACKOFF_SECONDS * 2**self.request.retries)
        logger.exception("harvest run failed", extra={"run_id": run_id})
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        importer.harvest_run_fail(
            run=run,
            message_ko=f"수집 작업이 반복해서 실패했습니다 ({detail}).",
            message_en=f"The harvest kept failing ({detail}).",
        )
        return "failed"


@shared_task(name="catalog.harvest.tasks.harvest_due", acks_late=True)
def harvest_due() -> dict:
    """Beat: the runs whose worker was lost sent to a worker again, and a run for each scheduled source that is due
    (through catalog.harvest.services.harvest_run_request, as the "지금 수집" button, with the schedule as actor)."""
    published = fetch.harvest_fetched_publish()
    resumed = importer.harvest_runs_stale()
    for run_id in resumed:
        harvest_run.delay(run_id)
    # the source use cases (catalog.harvest.services) import this module to enqueue runs: imported here
    from catalog.harvest.services import harvest_run_request

    started = []
    for source in importer.harvest_sources_due():
        try:
            started.append(harvest_run_request(actor=None, source=source).pk)
        except Exception:
            logger.exception("scheduled harvest could not start", extra={"source_id": source.pk})
    return {"started": started, "resumed": resumed, "fetched_published": published}
