"""Celery tasks of the catalog: thin, idempotent, calling services."""

import logging
import shutil
import tempfile

from celery import shared_task
from django.conf import settings
from django.http import QueryDict

from catalog import discovery, lexemes, services
from catalog.services.title_buckets import TitleBucketsBusy, title_buckets_refresh

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="catalog.tasks.datafile_check_task", acks_late=True, max_retries=2)
def datafile_check_task(self, datafile_id: int) -> str:
    """Run the automatic checks of one file and store the report. Safe to run again.

    A bad file is not an error here (the report says what is wrong). An unexpected failure is
    retried with backoff, then recorded as a failed check, never left "running".
    """
    # heavy: the pipeline loads DuckDB, phonenumbers and python-stdnum (measured 80-105 ms, +26 MB RSS); web
    # processes import this module to enqueue tasks, and only the worker runs checks
    from catalog.ingest.pipeline import analyse_datafile

    datafile = services.datafile_check_started(datafile_id=datafile_id)
    if datafile is None:
        return "already checked"
    settings.INGEST_WORK_DIR.mkdir(parents=True, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix=f"check-{datafile_id}-", dir=settings.INGEST_WORK_DIR)
    try:
        report = analyse_datafile(
            datafile,
            workdir=workdir,
            progress=lambda stage, percent: services.datafile_check_progress(
                datafile_id=datafile_id, stage=stage, percent=percent
            ),
        )
        services.datafile_check_finished(datafile_id=datafile_id, report=report)
        return report["state"]
    except Exception as exc:
        if self.request.retries < self.max_retries:
            services.datafile_check_release(datafile_id=datafile_id)
            raise self.retry(exc=exc, countdown=5 * 2**self.request.retries)
        logger.exception("datafile check failed", extra={"datafile_id": datafile_id})
        services.datafile_check_failed(datafile_id=datafile_id, error=f"{type(exc).__name__}: {exc}")
        return "failed"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@shared_task(bind=True, name="catalog.tasks.version_derived_files_task", acks_late=True, max_retries=3)
def version_derived_files_task(self, version_id: int) -> int:
    """A version was published: make the copies its packages carry (catalog.derived) once, so that no
    buyer's package waits for them. Idempotent; a package that finds a copy missing makes it itself, so
    a failure here only costs that package the time."""
    try:
        return services.version_derived_files_prepare(version_id=version_id)
    except Exception as exc:
        if self.request.retries < self.max_retries:
            raise self.retry(exc=exc, countdown=30 * 2**self.request.retries)
        logger.exception("derived copies failed", extra={"version_id": version_id})
        return -1


@shared_task(name="catalog.tasks.uploads_expire_task")
def uploads_expire_task() -> int:
    """Cancel uploads nobody resumed for UPLOAD_EXPIRE_DAYS and free their staging space."""
    return services.uploads_expire(older_than_days=settings.UPLOAD_EXPIRE_DAYS)


@shared_task(name="catalog.tasks.uploads_complete_stranded_task")
def uploads_complete_stranded_task() -> int:
    """Join the uploads whose bytes all arrived but whose join failed and was not retried by their client."""
    return services.uploads_complete_stranded()


@shared_task(name="catalog.tasks.catalog_counts_task", acks_late=True)
def catalog_counts_task(params: dict) -> int:
    """Count a large search's total and facets exactly and cache them for this catalog generation."""
    query = QueryDict(mutable=True)
    for key, values in params.items():
        query.setlist(key, values)
    return discovery.exact_counts(query)


@shared_task(name="catalog.tasks.title_buckets_task", acks_late=True)
def title_buckets_task() -> int | None:
    """Build title buckets when the catalog needs them (catalog.services.title_buckets.title_buckets_refresh).
    One build at a time (a database lock): a second run while one builds does nothing."""
    try:
        built = title_buckets_refresh()
    except TitleBucketsBusy:
        return None
    return built.pk if built else None


@shared_task(name="catalog.tasks.lexeme_frequencies_task", acks_late=True)
def lexeme_frequencies_task() -> int:
    """Count how common each Hangul lexeme is in a sample of the catalog (catalog.lexemes): daily, and when a
    search finds the counts missing or stale. Read-only but for the cache; a second run counts again."""
    return len(lexemes.lexeme_frequencies_count().counts)


@shared_task(bind=True, name="catalog.tasks.query_stores_build_task", acks_late=True, max_retries=2)
def query_stores_build_task(self, version_id: int) -> dict:
    """A version was published: load its tables into its query stores (catalog.querystore), the full and the
    sample one. Idempotent and leased; a transient failure is retried, then recorded as a failed store."""
    # heavy: the build loads DuckDB and the ingest's converters; web processes import this module to enqueue
    from catalog.querystore.services import query_stores_build

    last = self.request.retries >= self.max_retries
    try:
        return query_stores_build(version_id=version_id, last_attempt=last)
    except Exception as exc:
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@shared_task(name="catalog.tasks.query_stores_housekeeping_task")
def query_stores_housekeeping_task() -> int:
    """Re-queue query store builds whose worker died, that never started, or that were never queued."""
    # heavy: see query_stores_build_task
    from catalog.querystore.services import query_stores_housekeeping

    return query_stores_housekeeping()
