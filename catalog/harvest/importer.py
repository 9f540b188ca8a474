"""Every write of a harvest run: claim, lease, progress, one record's import, removal, the end of the run.

A run is worked on under a lease (HarvestRun.lease, leased_until): the task claims it by compare-and-set, renews
the lease after every page, and each write checks it still holds the lease (a worker that lost it, because it
stalled past the lease and another took the run over, writes nothing more). The run's `cursor` is where the
source's next unread page starts; a page's records and the cursor past it are committed in one transaction (each
record in a savepoint of its own), so a killed worker's run resumes at the page it was on with none of that page
written, and a record is never imported twice (one HarvestRecord per run and identifier, checked anyway).

A listing is a Dataset of the source's organization whose published version the harvester wrote. It is created or
updated with a new published version, audited as an automatic publication on behalf of whoever asked for the run
(else the admin who registered the source), as live snapshots are (catalog.live.services), and its catalog entry
is refreshed in the same transaction. A listing whose published version no longer hashes to what the harvester
wrote was edited here: it is kept, and the report says so. Nothing here calls the network while a transaction is
open: readers fetch between the transactions (catalog.harvest.readers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.harvest import fetch
from catalog.harvest.mapping import MappingProblem, Vocabulary, version_fields
from catalog.harvest.models import (
    ExternalResource,
    HarvestedDataset,
    HarvestRecord,
    HarvestRun,
    HarvestSchedule,
    HarvestSource,
    next_run_after,
)
from catalog.harvest.records import RecordProblem, SourceError, SourceRecord
from catalog.models import Dataset, DatasetVersion, Review
from catalog.services import METADATA_FIELDS, catalog_entry_refresh
from catalog.services.versions import _carry_files as carry_files  # not in the package's API: a version's files
from core.romanize import unique_slug
from core.transitions import transition

logger = logging.getLogger(__name__)
R = HarvestRun.State
V = DatasetVersion.State
A = HarvestRecord.Action
OPEN_VERSION_STATES = (V.DRAFT, V.CHECKING, V.READY, V.SUBMITTED, V.REJECTED)
COUNTERS = {A.ADDED: "added", A.UPDATED: "updated", A.UNCHANGED: "unchanged", A.KEPT: "kept", A.REMOVED: "removed",
            A.FAILED: "failed"}  # fmt: skip


class LeaseLost(Exception):
    """This worker no longer holds the run's lease (it was taken over): stop without writing."""


# --- the run: claim, lease, progress, end -----------------------------------------------------------------------


def _lease_until() -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=settings.HARVEST_LEASE_SECONDS)


def harvest_run_claim(*, run_id: int) -> HarvestRun | None:
    """Take a queued run, or a running one whose lease ran out (its worker was killed or stalled), for this worker.
    None: nothing to do (another worker holds it, it ended, or it was interrupted too often and now failed)."""
    now = timezone.now()
    with transaction.atomic():
        run = (
            HarvestRun.objects.select_for_update(of=("self",))
            .select_related("source__organization")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.state not in (R.QUEUED, R.RUNNING):
            return None
        if run.state == R.RUNNING and run.leased_until is not None and run.leased_until > now:
            return None
        if run.attempts >= settings.HARVEST_MAX_ATTEMPTS:
            _fail(
                run,
                f"수집이 {run.attempts}번 중단되어 멈췄습니다. 원본과 작업자를 확인한 뒤 다시 수집하세요.",
                f"The harvest was interrupted {run.attempts} times and stopped. Check the source and the workers, "
                "then harvest again.",
            )
            return None
        taken_over = run.state == R.RUNNING
        run.lease = uuid.uuid4()
        run.leased_until = _lease_until()
        run.attempts += 1
        fields = ["lease", "leased_until", "attempts"]
        if run.started_at is None:
            run.started_at = now
            fields.append("started_at")
        transition(
            run,
            to=R.RUNNING,
            actor=None,
            fields=fields,
            action="harvest.taken_over" if taken_over else None,
            data={"attempt": run.attempts, "cursor": run.cursor, "source": run.source_id},
        )
    return run


def _held(run: HarvestRun, **update) -> None:
    """Renew the lease (and write `update`) if this worker still holds it; LeaseLost otherwise."""
    changed = HarvestRun.objects.filter(pk=run.pk, lease=run.lease, state=R.RUNNING).update(
        leased_until=_lease_until(), **update
    )
    if not changed:
        raise LeaseLost(run.pk)


def harvest_run_renew(*, run: HarvestRun) -> None:
    _held(run)


def harvest_run_advance(*, run: HarvestRun, cursor: dict, counters: dict | None = None) -> None:
    """A page's records are committed: the run resumes after it from now on (and its counters move by the
    page's, `counters`: field → F expression)."""
    _held(run, cursor=cursor, **(counters or {}))
    run.cursor = cursor


def harvest_run_release(*, run: HarvestRun) -> None:
    """Give the run back before a retry: it stays running, with no lease, so the retried task claims it at once."""
    HarvestRun.objects.filter(pk=run.pk, lease=run.lease, state=R.RUNNING).update(lease=None, leased_until=None)


def _schedule_next(source_id: int, now: dt.datetime) -> None:
    # The source's row locked before its schedule is read (the update below would wait for it anyway): a schedule
    # an admin changes meanwhile (harvest_source_update) is not overwritten by a next run computed from the old one.
    schedule = HarvestSource.objects.select_for_update().values_list("schedule", flat=True).get(pk=source_id)
    HarvestSource.objects.filter(pk=source_id).update(last_run_at=now, next_run_at=next_run_after(schedule, now))


def _fail(run: HarvestRun, message_ko: str, message_en: str) -> None:
    now = timezone.now()
    run.error_ko, run.error_en = message_ko[:5000], message_en[:5000]
    run.finished_at, run.lease, run.leased_until = now, None, None
    transition(
        run,
        to=R.FAILED,
        actor=None,
        reason=message_en[:500],
        fields=("error_ko", "error_en", "finished_at", "lease", "leased_until"),
        data={"source": run.source_id},
    )
    _schedule_next(run.source_id, now)


def harvest_run_fail(*, run: HarvestRun, message_ko: str, message_en: str) -> bool:
    """The run cannot go on (the source unreachable or not a catalog, or it kept failing): it ends failed with the
    reason in Korean and English. Nothing is removed. False when this worker no longer held the run."""
    with transaction.atomic():
        locked = HarvestRun.objects.select_for_update().filter(pk=run.pk, lease=run.lease, state=R.RUNNING).first()
        if locked is None:
            return False
        _fail(locked, message_ko, message_en)
    return True


def harvest_run_finish(*, run: HarvestRun, record_gone=None) -> HarvestRun:
    """The whole source was read: remove the listings whose records are gone (only if the read was complete: every
    page without a fetch error and at least as many records seen as the source announced), then end the run."""
    run.refresh_from_db()
    complete = bool(run.cursor.get("complete"))
    if complete:
        harvest_run_remove_missing(run=run, record_gone=record_gone)
    with transaction.atomic():
        locked = HarvestRun.objects.select_for_update().filter(pk=run.pk, lease=run.lease, state=R.RUNNING).first()
        if locked is None:
            raise LeaseLost(run.pk)
        now = timezone.now()
        locked.finished_at, locked.lease, locked.leased_until = now, None, None
        transition(
            locked,
            to=R.DONE,
            actor=None,
            fields=("finished_at", "lease", "leased_until"),
            data={
                "source": locked.source_id,
                **{name: getattr(locked, name) for name in ("seen", *COUNTERS.values())},
                "removal": "done" if complete else "skipped (the source was not read completely)",
            },
        )
        _schedule_next(locked.source_id, now)
    return locked


# --- one record ---------------------------------------------------------------------------------------------------


def listing_hash(version: DatasetVersion, resources=None) -> str:
    """SHA-256 of what the harvester writes into a version: its description (METADATA_FIELDS) and link resources.
    A later published version that hashes otherwise was edited here."""
    data = {}
    for name in METADATA_FIELDS:
        field = DatasetVersion._meta.get_field(name)
        value = getattr(version, field.attname)
        data[name] = value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else value
    if resources is None:
        resources = version.external_resources.order_by("position", "id")
    data["resources"] = [[r.name, r.url, r.format, r.media_type, r.size, r.checksum, r.description] for r in resources]
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _source_hash(record: SourceRecord, source: HarvestSource) -> str:
    """The record as read, with the rules it was mapped by: changed rules re-map every record on the next run."""
    rules = json.dumps(source.mapping or {}, sort_keys=True, ensure_ascii=False)
    text = f"{record.raw_hash}\n{rules}\n{source.resource_mode}\n{source.name}\n{source.url}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _actor(run: HarvestRun):
    return run.requested_by or run.source.created_by


def _report(run, identifier, title, action, message_ko="", message_en="", dataset=None) -> HarvestRecord:
    """A report line written at once, with its counter (removal: one listing per transaction)."""
    record = HarvestRecord.objects.create(
        run=run,
        identifier=identifier[:500],
        title=(title or "")[:300],
        action=action,
        message_ko=message_ko,
        message_en=message_en,
        dataset=dataset,
    )
    HarvestRun.objects.filter(pk=run.pk).update(**{COUNTERS[action]: F(COUNTERS[action]) + 1})
    return record


class _PageBatch:
    """A page's report lines and counters, written once when the page ends (in the page's transaction): one INSERT
    of HarvestRecords, one UPDATE of the listings' last_run and the run's counters with its cursor."""

    def __init__(self, run: HarvestRun):
        self.run = run
        self.records: list[HarvestRecord] = []
        self.counts = dict.fromkeys(("seen", *COUNTERS.values()), 0)
        self.touched: list[int] = []  # HarvestedDatasets the run saw

    def report(self, identifier, title, action, message_ko="", message_en="", dataset=None) -> None:
        self.records.append(
            HarvestRecord(
                run=self.run,
                identifier=identifier[:500],
                title=(title or "")[:300],
                action=action,
                message_ko=message_ko,
                message_en=message_en,
                dataset=dataset,
            )
        )
        self.counts[COUNTERS[action]] += 1

    def write(self) -> dict:
        """The lines and last_run written; the run's counter updates to apply with the cursor."""
        HarvestRecord.objects.bulk_create(self.records)
        if self.touched:
            HarvestedDataset.objects.filter(pk__in=self.touched).update(last_run=self.run)
        return {name: F(name) + n for name, n in self.counts.items() if n}


def _lock_run(run: HarvestRun) -> None:
    """Inside the record's transaction: the run row, locked, still leased by this worker."""
    if not HarvestRun.objects.select_for_update().filter(pk=run.pk, lease=run.lease, state=R.RUNNING).exists():
        raise LeaseLost(run.pk)


_VOCABULARY: dict[int, tuple[str, Vocabulary]] = {}


def _vocabulary(run: HarvestRun) -> Vocabulary:
    cached = _VOCABULARY.get(run.pk)
    if cached is None or cached[0] != str(run.lease):
        _VOCABULARY.clear()
        cached = _VOCABULARY[run.pk] = (str(run.lease), Vocabulary())
    return cached[1]


def _import_item(run: HarvestRun, item: SourceRecord | RecordProblem, harvested, batch: _PageBatch) -> None:
    """One source record into the source organization's listing, reported in `batch`. Inside the page's
    transaction, in a savepoint of its own: a record that breaks is reported failed and the page goes on."""
    if isinstance(item, RecordProblem):
        batch.report(item.identifier, item.title, A.FAILED, item.message_ko, item.message_en)
        return
    if harvested is not None:
        batch.touched.append(harvested.pk)
    dataset = harvested.dataset if harvested else None
    source_hash = _source_hash(item, run.source)
    if harvested is not None and harvested.removed_at is None and harvested.source_hash == source_hash:
        batch.report(item.identifier, item.title_ko, A.UNCHANGED, dataset=dataset)  # nothing written: no savepoint
        return
    try:
        with transaction.atomic():
            _import(run, run.source, item, harvested, batch, source_hash)
    except MappingProblem as problem:
        batch.report(item.identifier, item.title_ko, A.FAILED, problem.message_ko, problem.message_en, dataset)
    except LeaseLost:
        raise
    except Exception as exc:  # one broken record never stops the run: it is reported with what broke
        logger.exception("harvest record failed", extra={"run_id": run.pk, "identifier": item.identifier})
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        batch.report(item.identifier, item.title_ko, A.FAILED, f"가져오는 중 오류가 났습니다 ({detail}).",
                     f"The import failed ({detail}).", dataset)  # fmt: skip


def _import(run, source, record: SourceRecord, harvested: HarvestedDataset | None, batch: _PageBatch, source_hash):
    title = record.title_ko
    fields = version_fields(record, source, _vocabulary(run))
    actor = _actor(run)
    now = timezone.now()
    if harvested is None:
        dataset = _create_dataset(source, record, actor)
        version, imported_hash = _publish(run, dataset, fields, record, actor, previous=None, new=True)
        HarvestedDataset.objects.create(
            dataset=dataset,
            source=source,
            identifier=record.identifier,
            source_url=record.source_url[:1000],
            source_modified=record.modified,
            imported_hash=imported_hash,
            source_hash=source_hash,
            harvested_at=now,
            last_run=run,
        )
        batch.report(record.identifier, title, A.ADDED, dataset=dataset)
        return
    dataset = harvested.dataset  # locked with its listing by the page's lookup
    published = dataset.versions.filter(state=V.PUBLISHED).first()
    open_version = (
        dataset.versions.filter(state__in=OPEN_VERSION_STATES).only("change_note", "state", "created_at").first()
    )
    if open_version is not None and open_version.change_note == fetch.FETCH_NOTE:
        if not fetch.fetch_draft_stale(open_version):
            # Our own fetch of the files is still being checked: the change is taken on the next run.
            _kept(run, record, harvested, None, dataset, batch,
                  "원본 파일을 가져와 검사하는 중이라 원본의 변경은 다음 수집에서 반영합니다.",
                  "The source's files are being fetched and checked; the change is applied on a later run.")  # fmt: skip
            return
        # A fetch left behind (an upload broken, its worker killed): discarded, the change applied, fetched again.
        fetch.fetch_draft_discard(version_id=open_version.pk)
        open_version = None
    if open_version is not None:
        _kept(run, record, harvested, source_hash, dataset, batch,
              "이 거래소에서 새 버전을 작성 중이어서 원본의 변경을 반영하지 않았습니다.",
              "A new version is being written here, so the source's change was not applied.")  # fmt: skip
        return
    if published is not None and listing_hash(published) != harvested.imported_hash:
        _kept(run, record, harvested, source_hash, dataset, batch,
              "이 거래소에서 수정된 목록이라 원본의 변경으로 덮어쓰지 않았습니다.",
              "The listing was edited here, so the source's change did not overwrite it.")  # fmt: skip
        return
    if published is None and harvested.removed_at is None:
        _kept(run, record, harvested, source_hash, dataset, batch,
              "이 거래소에서 게시를 철회한 목록이라 다시 게시하지 않았습니다.",
              "The listing was withdrawn here, so it was not published again.")  # fmt: skip
        return
    returned = harvested.removed_at is not None
    _version, imported_hash = _publish(run, dataset, fields, record, actor, previous=published)
    HarvestedDataset.objects.filter(pk=harvested.pk).update(
        source_url=record.source_url[:1000],
        source_modified=record.modified,
        imported_hash=imported_hash,
        source_hash=source_hash,
        harvested_at=now,
        removed_at=None,
        last_run=run,
    )
    if returned:
        batch.report(record.identifier, title, A.ADDED, "원본에 다시 나타나 다시 게시했습니다.",
                     "It is back at the source and was published again.", dataset=dataset)  # fmt: skip
    else:
        batch.report(record.identifier, title, A.UPDATED, dataset=dataset)


def _kept(run, record, harvested, source_hash, dataset, batch, message_ko, message_en) -> None:
    # The source's version is remembered as read: the report says "kept" again only when it changes again (unless
    # source_hash is None: the change is to be applied later, and is looked at again on the next run).
    changes = {"source_modified": record.modified, **({"source_hash": source_hash} if source_hash else {})}
    HarvestedDataset.objects.filter(pk=harvested.pk).update(**changes)
    batch.report(record.identifier, record.title_ko, A.KEPT, message_ko, message_en, dataset=dataset)


def _create_dataset(source: HarvestSource, record: SourceRecord, actor) -> Dataset:
    name = record.identifier.rstrip("/").rsplit("/", 1)[-1]
    for attempt in range(3):
        slug = unique_slug(
            Dataset.objects.all(), record.title_en, record.title_ko, name, fallback="dataset", max_length=80
        )
        try:
            with transaction.atomic():
                return Dataset.objects.create(slug=slug, publisher=source.organization, created_by=actor)
        except IntegrityError:  # the same slug taken by a concurrent writer meanwhile
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _publish(run, dataset, fields, record: SourceRecord, actor, *, previous, new=False) -> tuple[DatasetVersion, str]:
    """A new version with the record's description and link resources, published at once and audited as an
    automatic publication; the version published before it is superseded (its files, a provider's own or fetched
    from the source, carried into the new one: the harvester writes only the description and the links) and the
    catalog entry refreshed. Returns the version and its listing_hash. `new`: the dataset was created just now."""
    now = timezone.now()
    last = 0 if new else (dataset.versions.order_by("-number").values_list("number", flat=True).first() or 0)
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=last + 1,
        state=V.SUBMITTED,
        created_by=actor,
        submitted_at=now,
        change_note=f"{run.source.name}에서 수집 (harvested)"[:500],
        **fields,
        **({"pii_justification": previous.pii_justification} if previous is not None else {}),
    )
    resources = ExternalResource.objects.bulk_create(
        [
            ExternalResource(
                version=version,
                position=position,
                source_id=res.source_id,
                name=res.name or res.url.rsplit("/", 1)[-1][:300] or "resource",
                description=res.description,
                url=res.url,
                format=res.format,
                media_type=res.media_type,
                size=res.size,
                checksum=res.checksum,
            )
            for position, res in enumerate(record.resources)
        ]
    )
    if previous is not None:
        carry_files(previous, version)
    automatic = {
        "automatic": True,
        "harvest_source": run.source_id,
        "harvest_run": run.pk,
        "identifier": record.identifier,
        "dataset": dataset.slug,
        "number": version.number,
    }
    if previous is not None:
        transition(previous, to=V.SUPERSEDED, actor=actor, data={"by": version.number, "automatic": True})
    version.published_at = now
    reason = f"{run.source.name}에서 수집한 목록: 자동 게시 (automatic publication of a harvested listing)"
    Review.objects.create(version=version, action=Review.Action.APPROVE, actor=actor, reason=reason, data=automatic)
    transition(
        version, to=V.PUBLISHED, actor=actor, reason=reason, fields=("published_at",), action="version.approve",
        data={"superseded": previous.number if previous else None, **automatic},
    )  # fmt: skip
    catalog_entry_refresh(dataset, harvested=True, fresh=new)
    if not new:  # a dataset created in this transaction has its updated_at already
        Dataset.objects.filter(pk=dataset.pk).update(updated_at=now)
    return version, listing_hash(version, resources)


# --- removal --------------------------------------------------------------------------------------------------


def harvest_run_remove_missing(*, run: HarvestRun, record_gone=None) -> int:
    """Withdraw the listings of the source whose records this run did not see (one transaction each, under the
    lease; a killed run resumes here and finds the ones already done). Edited-here listings are kept.
    `record_gone(source, identifier)` (catalog.harvest.readers.record_gone) confirms each with the source first,
    outside any transaction: a record still there, or a source that cannot say, keeps its listing."""
    seen = HarvestRecord.objects.filter(run=run).values("identifier")
    missing = (
        HarvestedDataset.objects.filter(source_id=run.source_id, removed_at__isnull=True)
        .exclude(identifier__in=seen)
        .values_list("pk", "identifier")
    )
    removed = 0
    for pk, identifier in list(missing.iterator(chunk_size=1000)):
        still_there = False
        if record_gone is not None:
            harvest_run_renew(run=run)
            try:
                still_there = not record_gone(run.source, identifier)  # the network: no transaction is open
            except SourceError:
                still_there = True
        with transaction.atomic():
            _lock_run(run)
            harvested = HarvestedDataset.objects.select_for_update(of=("self",)).select_related("dataset").get(pk=pk)
            if harvested.removed_at is not None:
                continue
            _held(run)
            if still_there:
                published = harvested.dataset.versions.filter(state=V.PUBLISHED).only("title_ko").first()
                _report(run, identifier, published.title_ko if published else harvested.dataset.slug, A.KEPT,
                        "이번 수집에서 읽히지 않았지만 원본에 아직 있거나 확인할 수 없어 철회하지 않았습니다.",
                        "Not seen in this read, but still at the source (or the source could not say): not "
                        "withdrawn.", dataset=harvested.dataset)  # fmt: skip
                continue
            _remove(run, harvested)
            removed += 1
    return removed


def _remove(run: HarvestRun, harvested: HarvestedDataset) -> HarvestRecord:
    now = timezone.now()
    dataset = Dataset.objects.select_for_update().get(pk=harvested.dataset_id)
    published = dataset.versions.filter(state=V.PUBLISHED).first()
    title = published.title_ko if published else str(dataset.slug)
    HarvestedDataset.objects.filter(pk=harvested.pk).update(removed_at=now, last_run=run)
    if published is None:
        return _report(run, harvested.identifier, title, A.REMOVED,
                       "원본에서 사라졌습니다 (이미 게시되지 않은 목록).",
                       "Gone from the source (the listing was not published any more).", dataset=dataset)  # fmt: skip
    if listing_hash(published) != harvested.imported_hash:
        return _report(run, harvested.identifier, title, A.KEPT,
                       "원본에서 사라졌지만 이 거래소에서 수정된 목록이라 게시를 유지했습니다.",
                       "Gone from the source, but the listing was edited here, so it stays published.",
                       dataset=dataset)  # fmt: skip
    if dataset.offers.filter(active=True).exists():
        # Offered here (a price, a plan, an offer to one buyer): the organization made the listing its own, as an
        # edit here; it decides whether buyers lose it.
        return _report(run, harvested.identifier, title, A.KEPT,
                       "원본에서 사라졌지만 이 거래소에서 판매(제공) 조건을 붙인 목록이라 게시를 유지했습니다.",
                       "Gone from the source, but the listing is offered here, so it stays published.",
                       dataset=dataset)  # fmt: skip
    actor = _actor(run)
    reason = f"{run.source.name}에서 사라진 목록: 자동 철회 (removed at the harvest source)"
    Review.objects.create(
        version=published, action=Review.Action.WITHDRAW, actor=actor, reason=reason,
        data={"automatic": True, "harvest_source": run.source_id, "harvest_run": run.pk},
    )  # fmt: skip
    transition(
        published, to=V.WITHDRAWN, actor=actor, reason=reason, action="version.withdraw",
        data={"automatic": True, "harvest_run": run.pk, "identifier": harvested.identifier},
    )  # fmt: skip
    catalog_entry_refresh(dataset)
    return _report(run, harvested.identifier, title, A.REMOVED, "원본에서 사라져 게시를 철회했습니다.",
                   "Gone from the source: the listing was withdrawn.", dataset=dataset)  # fmt: skip


# --- the run, page by page ----------------------------------------------------------------------------------------


def harvest_run_perform(*, run: HarvestRun, read_source, record_gone=None) -> str:
    """Read the source from the run's cursor and import every record, page by page; then removal and the end.
    `read_source(source, cursor=...)` yields Pages (catalog.harvest.readers.read_source); `record_gone` confirms
    a missing record before its listing is withdrawn (catalog.harvest.readers.record_gone). A SourceError ends the
    run failed with its reason (nothing removed); LeaseLost stops this worker without writing."""
    cursor = dict(run.cursor or {})
    if not cursor.get("read"):
        try:
            for page in read_source(run.source, cursor=cursor.get("next")):
                cursor = harvest_page_import(run=run, page=page, cursor=cursor)
                if run.source.resource_mode == HarvestSource.ResourceMode.FETCH:
                    _fetch_page_files(run, page)
        except SourceError as error:
            harvest_run_fail(run=run, message_ko=error.message_ko, message_en=error.message_en)
            return "failed"
    harvest_run_finish(run=run, record_gone=record_gone)
    return "done"


def harvest_page_import(*, run: HarvestRun, page, cursor: dict) -> dict:
    """One page of the source, read already: its records (each a savepoint: one that breaks is a failed line) and
    the run's cursor moved past it, in one transaction. A worker killed on the page leaves none of it: the run
    resumes at this page. Idempotent within the run: a record an earlier attempt reported is not imported again
    (one lookup per page, as for the page's listings). Returns the new cursor."""
    where = "&".join(f"{k}={v}" for k, v in (cursor.get("next") or {"start": 0}).items())
    with transaction.atomic():
        _lock_run(run)  # held until the page commits: one lock per page, not one per record
        items = []
        for position, item in enumerate(page.items, start=1):
            if isinstance(item, RecordProblem) and item.identifier == "?":
                item.identifier = f"?{where}#{position}"  # the same on a resumed attempt: reported once
            items.append(item)
        done = set(
            HarvestRecord.objects.filter(run=run, identifier__in=[i.identifier[:500] for i in items]).values_list(
                "identifier", flat=True
            )
        )
        identifiers = [i.identifier for i in items if isinstance(i, SourceRecord)]
        listings = {
            h.identifier: h
            for h in HarvestedDataset.objects.select_for_update(of=("self", "dataset"))
            .select_related("dataset")  # its row locked too: _import publishes the dataset's versions
            .filter(source=run.source_id, identifier__in=identifiers)
            .order_by("pk")  # locked in one order by every writer of the source's listings
        } if identifiers else {}  # fmt: skip
        batch = _PageBatch(run)
        for item in items:
            if item.identifier[:500] in done:
                continue  # reported by an earlier attempt of this run, or twice on this page
            done.add(item.identifier[:500])
            batch.counts["seen"] += 1
            _import_item(run, item, listings.get(item.identifier), batch)
        counters = batch.write()
        # The total the first page announced is kept: a later page announcing another one means the source changed
        # while it was read (with offset paging a record deleted meanwhile hides a living one from this read), and
        # a reader that stopped early (page.incomplete) did not read it all: either way nothing is withdrawn.
        total = cursor["total"] if cursor.get("total") is not None else page.total
        shifted = bool(cursor.get("shifted")) or (page.total is not None and total is not None and page.total != total)
        incomplete = bool(cursor.get("incomplete")) or page.incomplete
        if page.next_cursor is None:
            seen = HarvestRun.objects.values_list("seen", flat=True).get(pk=run.pk) + batch.counts["seen"]
            complete = not shifted and not incomplete and (total is None or seen >= total)
            cursor = {"read": True, "complete": complete, "total": total, "shifted": shifted, "incomplete": incomplete}
        else:
            cursor = {"next": page.next_cursor, "total": total, "shifted": shifted, "incomplete": incomplete}
        harvest_run_advance(run=run, cursor=cursor, counters=counters)
    return cursor


def _fetch_page_files(run: HarvestRun, page) -> None:
    """resource_mode "fetch": the files of the page's added and updated listings, after the page committed
    (catalog.harvest.fetch; the network is read outside any transaction). A file that cannot be fetched stays a
    link; the listing is published with its links either way."""
    identifiers = [item.identifier for item in page.items if isinstance(item, SourceRecord)]
    datasets = HarvestRecord.objects.filter(
        run=run, identifier__in=identifiers, action__in=(A.ADDED, A.UPDATED), dataset__isnull=False
    ).values_list("dataset_id", flat=True)
    for dataset_id in list(datasets):
        harvest_run_renew(run=run)
        try:
            fetch.harvest_fetch_files(dataset_id=dataset_id)
        except Exception:  # the listing stays published with its links; the report line stands
            logger.exception("harvest fetch failed", extra={"run_id": run.pk, "dataset_id": dataset_id})


def harvest_runs_stale() -> list[int]:
    """Runs a worker should pick up: running with a lease run out (its worker killed), or queued for a while (its
    task lost before a worker took it)."""
    now = timezone.now()
    stale = HarvestRun.objects.filter(state=R.RUNNING, leased_until__lt=now).values_list("pk", flat=True)
    released = HarvestRun.objects.filter(
        state=R.RUNNING, leased_until__isnull=True, created_at__lt=now - dt.timedelta(minutes=5)
    ).values_list("pk", flat=True)
    waiting = HarvestRun.objects.filter(
        state=R.QUEUED, created_at__lt=now - dt.timedelta(seconds=settings.HARVEST_LEASE_SECONDS)
    ).values_list("pk", flat=True)
    return sorted({*stale, *released, *waiting})


def harvest_sources_due() -> list[HarvestSource]:
    """Active scheduled sources whose next run is due and that have no open run."""
    now = timezone.now()
    return list(
        HarvestSource.objects.filter(active=True)
        .exclude(schedule=HarvestSchedule.MANUAL)
        .exclude(next_run_at__gt=now)
        .exclude(runs__state__in=(R.QUEUED, R.RUNNING))
        .select_related("organization")
    )
