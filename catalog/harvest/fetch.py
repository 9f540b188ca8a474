"""resource_mode "fetch": a harvested listing's files brought into this exchange as DataFiles, through the normal
upload and check services, so they are checked (encoding, schema, personal data) like any provider's upload before
buyers see them.

After a page of records is committed (the listings published with their link resources), each listing that was
added or updated gets its fetchable resources (a format our checks read: CSV, TSV, XLSX, JSON, GeoJSON, ZIP; at
most HARVEST_FETCH_MAX_BYTES, announced or counted while streaming) streamed to a temporary file, outside any
transaction, then uploaded into a new draft version (catalog.services.version_start_new, upload_create,
upload_append) on behalf of a publisher of the source's organization; the draft keeps the link resources too.
Once every file passed its checks, harvest_fetched_publish (beat) publishes the draft automatically. A file the
checks block (resident numbers) or fail leaves the draft for the organization to decide; a resource too large or
of another format stays a link only. Nothing here holds a transaction across the network."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from pathlib import Path

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Membership
from catalog import services
from catalog.harvest.models import ExternalResource, HarvestedDataset
from catalog.harvest.readers.http import USER_AGENT, refusal
from catalog.models import DataFile, Dataset, DatasetVersion, Review, Upload
from catalog.services.uploads import delete_staged_on_commit, delete_unreferenced_on_commit  # a draft's staged bytes
from core import outbound
from core.transitions import transition

logger = logging.getLogger(__name__)
V = DatasetVersion.State
# The change note that marks a draft as the harvester's fetch of the source's files.
FETCH_NOTE = "원본 파일 가져오기 (files fetched from the harvest source)"
FORMAT_SUFFIX = {"CSV": ".csv", "TSV": ".tsv", "XLSX": ".xlsx", "JSON": ".json", "GEOJSON": ".geojson", "ZIP": ".zip"}


def fetch_actor(organization):
    """A publisher of the organization: uploads are theirs (the upload services check it), as a live table's
    snapshot is its enabler's. None: nobody may publish for it, and the files stay links."""
    membership = (
        Membership.objects.filter(
            organization=organization, role__in=(Membership.Role.OWNER, Membership.Role.PUBLISHER)
        )
        .select_related("user")
        .order_by("created_at", "pk")
        .first()
    )
    return membership.user if membership else None


def _suffix(resource: ExternalResource) -> str | None:
    suffix = FORMAT_SUFFIX.get(resource.format.upper())
    if suffix is None and not resource.format:  # no format declared: the file name says it
        path_suffix = Path(resource.url.split("?")[0]).suffix.lower()
        suffix = path_suffix if path_suffix in services.SUFFIX_FORMATS else None
    return suffix


def _download(url: str, target: Path) -> int | None:
    """Stream `url` to `target`; its size, or None when it is larger than the cap, cannot be read, or is not on a
    public internet address (core.outbound: resolved, checked, pinned, no proxy, each redirect checked again;
    HARVEST_ALLOW_PRIVATE for development and tests only): the resource then stays a link, and the log says why."""
    limit = settings.HARVEST_FETCH_MAX_BYTES
    size = 0
    try:
        with outbound.open_get(
            url,
            headers={"User-Agent": USER_AGENT},
            timeout=settings.HARVEST_HTTP_TIMEOUT_SECONDS,
            allow_private=settings.HARVEST_ALLOW_PRIVATE,
        ) as response:
            declared = response.headers.get("content-length", "")
            if response.status_code != 200 or (declared.isdigit() and int(declared) > limit):
                return None
            with open(target, "wb") as fh:
                for chunk in response.iter_content(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        return None
                    fh.write(chunk)
    except outbound.Refused as exc:
        reason = refusal(exc)
        logger.warning("harvest fetch refused: %s / %s", reason.message_ko, reason.message_en)
        return None
    except requests.RequestException:
        return None
    return size or None


def _file_name(resource: ExternalResource, suffix: str) -> str | None:
    """The name the fetched file is uploaded under (the URL's file name, else the resource's name with the format's
    suffix), cleaned as upload_create cleans it; None when that is no file name upload_create takes (a resource
    named "측정값/"): the resource stays a link, and no draft is started for a file that would be refused."""
    name = Path(resource.url.split("?")[0]).name or resource.name
    name = name if name.lower().endswith(suffix) else f"{resource.name[:200]}{suffix}"
    name = Path("".join(c for c in name if c.isprintable()).replace("\\", "/")).name.strip()[:255]
    return name if name and services.format_for(name) is not None else None


def harvest_fetch_files(*, dataset_id: int) -> int:
    """Fetch the published listing's resources into a new draft version. Returns how many files were uploaded
    (0: nothing fetchable, no publisher, or a version is already being written). The draft and its uploads are
    opened in one transaction (an upload refused leaves no draft); an upload that breaks while its bytes are
    written discards the draft, and a worker killed meanwhile leaves uploads unfinished, which
    harvest_fetched_publish never publishes and the next run discards once the lease has run out."""
    dataset = Dataset.objects.select_related("publisher").get(pk=dataset_id)
    published = dataset.versions.filter(state=V.PUBLISHED).first()
    actor = fetch_actor(dataset.publisher)
    if published is None or actor is None:
        return 0
    limit = settings.HARVEST_FETCH_MAX_BYTES
    links = list(published.external_resources.all())
    resources = [
        (resource, suffix, name)
        for resource in links
        if (suffix := _suffix(resource)) is not None
        and not (resource.size is not None and resource.size > limit)
        and (name := _file_name(resource, suffix)) is not None
    ]
    if not resources:
        return 0
    work = Path(tempfile.mkdtemp(prefix=f"harvest-fetch-{dataset_id}-"))
    try:
        fetched = []
        for resource, suffix, name in resources:
            target = work / f"{len(fetched)}{suffix}"
            size = _download(resource.url, target)  # no transaction is open here
            if size:
                fetched.append((name, target, size))
        if not fetched:
            return 0
        with transaction.atomic():
            draft = services.version_start_new(actor=actor, dataset=dataset, change_note=FETCH_NOTE)
            if not draft.started_now:
                transaction.set_rollback(True)  # someone is writing a version here: theirs wins
                return 0
            ExternalResource.objects.bulk_create(
                [
                    ExternalResource(
                        version=draft,
                        position=r.position,
                        source_id=r.source_id,
                        name=r.name,
                        description=r.description,
                        url=r.url,
                        format=r.format,
                        media_type=r.media_type,
                        size=r.size,
                        checksum=r.checksum,
                    )
                    for r in links
                ]
            )
            # The draft carries the published version's files (a provider's own, or an earlier fetch's): a fetched
            # file replaces the carried one of the same name instead of standing beside it.
            carried = {f.original_name: f for f in draft.files.filter(parent__isnull=True)}
            uploads = [
                (
                    services.upload_create(
                        actor=actor, version=draft, filename=name, length=size, replaces=carried.get(name)
                    ),
                    path,
                )  # fmt: skip
                for name, path, size in fetched
            ]
        try:
            for upload, path in uploads:
                with open(path, "rb") as fh:
                    services.upload_append(actor=actor, upload=upload, offset=0, stream=fh)
        except Exception:
            fetch_draft_discard(version_id=draft.pk)
            raise
        return len(fetched)
    finally:
        for path in work.glob("*"):
            path.unlink(missing_ok=True)
        os.rmdir(work)


def fetch_draft_stale(version: DatasetVersion) -> bool:
    """A fetch draft left behind: older than the harvest lease and either with no file checked yet and none coming
    (its worker killed, an upload broken) or with an upload never finished. One being checked, or ready and
    waiting for harvest_fetched_publish (or for the organization: personal data), is not."""
    if version.created_at > timezone.now() - dt.timedelta(seconds=settings.HARVEST_LEASE_SECONDS):
        return False
    unfinished = version.uploads.filter(state=Upload.State.UPLOADING).exists()
    return unfinished or version.state == V.DRAFT


def fetch_draft_discard(*, version_id: int) -> bool:
    """Delete a harvester's fetch draft (an upload refused or broken, or its worker killed before the uploads were
    done), with its files and staged uploads: the listing stays as published and the next run applies the source's
    changes again. Only a draft still open and marked FETCH_NOTE; False when there was none."""
    with transaction.atomic():
        version = (
            DatasetVersion.objects.select_for_update()
            .filter(pk=version_id, change_note=FETCH_NOTE, state__in=(V.DRAFT, V.CHECKING, V.READY))
            .first()
        )
        if version is None:
            return False
        names = list(DataFile.objects.filter(version=version).values_list("file", flat=True))
        staged = list(version.uploads.values_list("pk", flat=True))
        version.delete()  # its files, uploads and link resources go with it (CASCADE)
        delete_unreferenced_on_commit(names)  # a carried file's bytes stay with the published one
        delete_staged_on_commit(staged)
    return True


def harvest_fetched_publish() -> list[int]:
    """Beat: publish the harvester's fetch drafts whose files all passed their checks (warnings without personal
    data included), automatically and audited as such; the listing's imported hash follows, so the next run does
    not take the fetch for a local edit. Returns the published versions' ids."""
    done = []
    ready = DatasetVersion.objects.filter(state=V.READY, change_note=FETCH_NOTE, dataset__harvest__isnull=False)
    for version_id in ready.values_list("pk", flat=True):
        with transaction.atomic():
            # The listing and its dataset, then the version: the order of the importer (harvest_page_import,
            # harvest_run_remove_missing) and of approval and withdrawal (dataset before version).
            harvested = (
                HarvestedDataset.objects.select_for_update(of=("self", "dataset"))
                .select_related("dataset")
                .filter(dataset__versions=version_id)
                .first()
            )
            version = DatasetVersion.objects.select_for_update().get(pk=version_id)
            if (
                harvested is None
                or version.state != V.READY
                or version.uploads.filter(state=Upload.State.UPLOADING).exists()
            ):
                continue  # a file is still arriving (or its worker was killed: the next run discards the draft)
            if version.files.needing_justification().exists():
                continue  # personal data found: the organization decides, not the harvester
            if version.files.exclude(check_state__in=(DataFile.Check.PASSED, DataFile.Check.WARNING)).exists():
                continue
            dataset = harvested.dataset
            actor = version.created_by
            transition(version, to=V.SUBMITTED, actor=actor, data={"automatic": True, "harvest_fetch": True})
            previous = dataset.versions.filter(state=V.PUBLISHED).first()
            if previous is not None:
                transition(previous, to=V.SUPERSEDED, actor=actor, data={"by": version.number, "automatic": True})
            now = timezone.now()
            version.published_at, version.submitted_at = now, now
            automatic = {"automatic": True, "harvest_fetch": True, "harvest_source": harvested.source_id}
            reason = "수집한 목록의 원본 파일: 검사 통과 후 자동 게시 (files fetched from the harvest source)"
            Review.objects.create(version=version, action=Review.Action.APPROVE, actor=actor, reason=reason,
                                  data=automatic)  # fmt: skip
            transition(version, to=V.PUBLISHED, actor=actor, reason=reason, fields=("published_at", "submitted_at"),
                       action="version.approve", data=automatic)  # fmt: skip
            services.catalog_entry_refresh(dataset)
            # The hash covers the description and links, which the fetch carried unchanged.
            from catalog.harvest.importer import listing_hash  # the importer imports this module

            HarvestedDataset.objects.filter(pk=harvested.pk).update(imported_hash=listing_hash(version))
            done.append(version.pk)
    return done
