"""Every write of the catalog: datasets, versions, uploads and file checks.

One function per use case: atomic, permission-checked, state moves through `_transition`,
Celery work queued with `transaction.on_commit`. Views, the tus endpoint and tasks call these.
"""

import fcntl
import hashlib
import os
import re
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.urls import reverse
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _

from accounts.exceptions import DomainError, IllegalTransition, NotAllowed
from accounts.permissions import can
from accounts.services import audit
from catalog.ingest.errors import in_every_language
from catalog.models import DataFile, Dataset, DatasetVersion, Offer, Review, Upload
from marketplace.notify import email_on_commit

S = DatasetVersion.State

# The version state machine. Submission and review moves are used by the review issue.
VERSION_TRANSITIONS: dict[str, set[str]] = {
    S.DRAFT: {S.CHECKING, S.READY},
    S.CHECKING: {S.READY, S.DRAFT},
    S.READY: {S.CHECKING, S.DRAFT, S.SUBMITTED},
    S.SUBMITTED: {S.PUBLISHED, S.REJECTED},
    S.REJECTED: {S.DRAFT},
    S.PUBLISHED: {S.SUPERSEDED, S.WITHDRAWN},
    S.SUPERSEDED: set(),
    S.WITHDRAWN: set(),
}

METADATA_FIELDS = (
    "title_ko", "title_en", "description_ko", "description_en", "theme", "tags", "department", "contact_name",
    "contact_phone", "contact_email", "update_cadence", "spatial_area", "spatial_bbox", "temporal_start",
    "temporal_end", "legal_basis", "collection_method", "data_kind", "licence", "data_limits", "notes",
)

SUFFIX_FORMATS = {
    ".csv": DataFile.Format.CSV, ".txt": DataFile.Format.CSV, ".tsv": DataFile.Format.TSV,
    ".xlsx": DataFile.Format.XLSX, ".json": DataFile.Format.JSON, ".geojson": DataFile.Format.GEOJSON,
    ".zip": DataFile.Format.ZIP,
}


def _require_publisher(actor, organization):
    if not can(actor, "accounts.publish_for_org", organization):
        raise NotAllowed(_("Only publishers of a verified provider organization can do this."))


def transition(version: DatasetVersion, *, to: str, actor=None, reason: str = "") -> str:
    """Move a version along the state machine; illegal moves raise. Returns the old state."""
    old = version.state
    if to not in VERSION_TRANSITIONS[old]:
        raise IllegalTransition(
            _("A version cannot go from “%(old)s” to “%(new)s”.") % {"old": S(old).label, "new": S(to).label}
        )
    version.state = to
    version.save(update_fields=["state", "updated_at"])
    return old


def _unique_slug(title_en: str, title_ko: str) -> str:
    base = (slugify(title_en) or "dataset")[:80]
    slug, n = base, 1
    while Dataset.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = re.split(r"[,#\n]", tags)
    seen = []
    for tag in tags or []:
        tag = tag.strip()
        if tag and tag not in seen:
            seen.append(tag[:40])
    return seen[:20]


@transaction.atomic
def dataset_create(*, actor, organization, **metadata) -> DatasetVersion:
    """A publisher starts a dataset: the dataset and its first version, as a draft."""
    _require_publisher(actor, organization)
    dataset = Dataset.objects.create(
        slug=_unique_slug(metadata.get("title_en", ""), metadata["title_ko"]), publisher=organization, created_by=actor
    )
    fields = {k: v for k, v in metadata.items() if k in METADATA_FIELDS}
    fields["tags"] = clean_tags(fields.get("tags"))
    version = DatasetVersion.objects.create(dataset=dataset, number=1, created_by=actor, **fields)
    audit(actor=actor, action="dataset.created", obj=version, organization=organization, data={"dataset": dataset.slug})
    return version


def _lock_editable(version: DatasetVersion) -> DatasetVersion:
    version = DatasetVersion.objects.select_for_update().select_related("dataset__publisher").get(pk=version.pk)
    if not version.is_editable:
        raise DomainError(
            _("This version is “%(state)s” and can no longer be changed. Start a new version instead.")
            % {"state": version.get_state_display()},
            code="version_frozen",
        )
    return version


@transaction.atomic
def version_update_metadata(*, actor, version: DatasetVersion, **metadata) -> DatasetVersion:
    """A publisher edits the description of a version that is still a draft."""
    _require_publisher(actor, version.dataset.publisher)
    version = _lock_editable(version)
    for key, value in metadata.items():
        if key in METADATA_FIELDS:
            setattr(version, key, clean_tags(value) if key == "tags" else value)
    version.save()
    return version


@transaction.atomic
def version_start_new(*, actor, dataset: Dataset, change_note: str) -> DatasetVersion:
    """Start the next version as a draft copy of the last published one (files are not copied)."""
    _require_publisher(actor, dataset.publisher)
    Dataset.objects.select_for_update().get(pk=dataset.pk)
    if dataset.versions.filter(state__in=[S.DRAFT, S.CHECKING, S.READY, S.SUBMITTED, S.REJECTED]).exists():
        raise DomainError(_("This dataset already has a version in progress."), code="version_open")
    published = dataset.versions.filter(state=S.PUBLISHED).first()
    if published is None:
        raise DomainError(_("Only a published dataset can get a new version."), code="not_published")
    last_number = dataset.versions.order_by("-number").values_list("number", flat=True).first()
    copy = DatasetVersion(dataset=dataset, number=last_number + 1, created_by=actor, change_note=change_note.strip())
    for field in (*METADATA_FIELDS, "pii_justification"):
        setattr(copy, field, getattr(published, field))
    copy.save()
    audit(actor=actor, action="version.started", obj=copy, organization=dataset.publisher, data={"from": published.number})
    return copy


def _staging_path(upload: Upload) -> Path:
    return Path(settings.UPLOAD_STAGING_DIR) / f"{upload.pk}.part"


def format_for(filename: str) -> str | None:
    return SUFFIX_FORMATS.get(Path(filename).suffix.lower())


@transaction.atomic
def upload_create(*, actor, version: DatasetVersion, filename: str, length: int) -> Upload:
    """Open a resumable upload of one file into an editable version."""
    _require_publisher(actor, version.dataset.publisher)
    version = _lock_editable(version)
    filename = Path(filename.replace("\\", "/")).name.strip()[:255]
    if not filename or format_for(filename) is None:
        raise DomainError(
            _("Upload CSV, TSV, XLSX, JSON, GeoJSON or a ZIP of these files."), code="format_unsupported"
        )
    if length <= 0:
        raise DomainError(_("The file is empty."), code="empty_file")
    if length > settings.UPLOAD_MAX_BYTES:
        raise DomainError(
            _("The file is larger than the limit of %(limit)s GB.") % {"limit": settings.UPLOAD_MAX_BYTES // 1024**3},
            code="too_large",
        )
    upload = Upload.objects.create(version=version, created_by=actor, filename=filename, length=length)
    path = _staging_path(upload)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return upload


class OffsetMismatch(DomainError):
    pass


def upload_append(*, actor, upload: Upload, offset: int, stream, chunk_size: int = 1 << 20) -> Upload:
    """Append the bytes of one tus PATCH request at `offset`, streamed to the staging file.

    No database transaction is held while bytes arrive (a PATCH can take minutes): an exclusive
    lock on the staging file serialises concurrent PATCHes of one upload, and the offset moves by
    compare-and-set. Bytes that arrived before a dropped connection are kept and counted, so the
    client resumes from there.
    """
    upload = Upload.objects.get(pk=upload.pk)
    if upload.created_by_id != actor.pk:
        raise NotAllowed(_("This upload belongs to someone else."))
    written = 0
    with open(_staging_path(upload), "r+b") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OffsetMismatch(_("Another request is still sending this file."), code="upload_busy") from None
        upload.refresh_from_db(fields=["offset", "state"])
        if upload.state != Upload.State.UPLOADING:
            raise DomainError(_("This upload is already finished."), code="upload_closed")
        if offset != upload.offset:
            raise OffsetMismatch(_("The upload is at byte %(offset)s.") % {"offset": upload.offset}, code="offset_mismatch")
        remaining = upload.length - offset
        fh.truncate(offset)  # drop a torn tail a crashed request may have left
        fh.seek(offset)
        try:
            while remaining > 0:
                chunk = stream.read(min(chunk_size, remaining))
                if not chunk:
                    break
                fh.write(chunk)
                written += len(chunk)
                remaining -= len(chunk)
        except OSError:
            pass  # the client went away mid-request: keep what arrived and let it resume
        finally:
            fh.flush()
            os.fsync(fh.fileno())
            if written:
                Upload.objects.filter(pk=upload.pk, offset=offset).update(offset=offset + written, updated_at=timezone.now())
    upload.refresh_from_db()
    if upload.offset == upload.length:
        upload_complete(upload=upload)
        upload.refresh_from_db()
    return upload


@transaction.atomic
def upload_complete(*, upload: Upload) -> DataFile:
    """The last byte arrived: hash the file, move it into private storage, start its checks."""
    upload = Upload.objects.select_for_update().get(pk=upload.pk)
    if upload.datafile_id:
        return upload.datafile
    version = _lock_editable(upload.version)
    path = _staging_path(upload)
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    datafile = DataFile(
        version=version, original_name=upload.filename, format=format_for(upload.filename),
        size=upload.length, sha256=digest,
    )
    with open(path, "rb") as fh:
        datafile.file.save(upload.filename, File(fh, name=upload.filename), save=False)
    datafile.save()
    upload.state = Upload.State.COMPLETE
    upload.datafile = datafile
    upload.save(update_fields=["state", "datafile", "updated_at"])
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
    _refresh_version_state(version)
    _enqueue_check(datafile)
    return datafile


def _enqueue_check(datafile: DataFile) -> None:
    from catalog.tasks import datafile_check_task

    transaction.on_commit(lambda: datafile_check_task.delay(datafile.pk))


@transaction.atomic
def upload_abort(*, actor, upload: Upload) -> None:
    """The publisher cancels an unfinished upload; its staged bytes are deleted."""
    upload = Upload.objects.select_for_update().get(pk=upload.pk)
    if upload.created_by_id != actor.pk:
        raise NotAllowed(_("This upload belongs to someone else."))
    if upload.state == Upload.State.UPLOADING:
        upload.state = Upload.State.ABORTED
        upload.save(update_fields=["state", "updated_at"])
        path = _staging_path(upload)
        transaction.on_commit(lambda: path.unlink(missing_ok=True))


@transaction.atomic
def datafile_remove(*, actor, datafile: DataFile) -> None:
    """A publisher removes a file (and its ZIP members) from a version that is still a draft."""
    _require_publisher(actor, datafile.version.dataset.publisher)
    version = _lock_editable(datafile.version)
    names = [datafile.file.name, *datafile.members.values_list("file", flat=True)]
    audit(actor=actor, action="datafile.removed", obj=datafile, organization=version.dataset.publisher,
          data={"name": datafile.original_name, "sha256": datafile.sha256})
    datafile.delete()
    transaction.on_commit(lambda: [default_storage.delete(n) for n in names if n])
    _refresh_version_state(version)


def _refresh_version_state(version: DatasetVersion) -> None:
    """draft / checking / ready follow from the files (ZIP members included): any check waiting or
    running → checking; every file passed (warnings allowed) → ready; otherwise draft."""
    if not version.is_editable:
        return
    states = list(version.files.values_list("check_state", flat=True))
    if any(s in (DataFile.Check.PENDING, DataFile.Check.RUNNING) for s in states):
        target = S.CHECKING
    elif states and all(s in (DataFile.Check.PASSED, DataFile.Check.WARNING) for s in states):
        target = S.READY
    else:
        target = S.DRAFT
    if target != version.state:
        transition(version, to=target)


def datafile_check_started(*, datafile_id: int) -> DataFile | None:
    """Claim a file for checking (compare-and-set, so a redelivered task does not run twice at once)."""
    claimed = DataFile.objects.filter(pk=datafile_id, check_state__in=[DataFile.Check.PENDING, DataFile.Check.RUNNING]).update(
        check_state=DataFile.Check.RUNNING, check_started_at=timezone.now(), check_progress=0, check_stage="start"
    )
    return DataFile.objects.select_related("version").get(pk=datafile_id) if claimed else None


def datafile_check_progress(*, datafile_id: int, stage: str, percent: int) -> None:
    DataFile.objects.filter(pk=datafile_id).update(check_stage=stage[:40], check_progress=max(0, min(100, percent)))


@transaction.atomic
def datafile_check_finished(*, datafile_id: int, report: dict) -> DataFile:
    """Store a file's check report and let the version follow (checking → ready or draft)."""
    datafile = DataFile.objects.select_for_update().get(pk=datafile_id)
    for field in ("encoding", "delimiter", "row_count", "column_count", "table_schema", "profile", "preview", "geo"):
        if field in report:
            setattr(datafile, field, report[field])
    datafile.pii_findings = report.get("pii_findings", [])
    if report.get("members"):
        datafile.check_messages = report.get("messages", [])
    datafile.check_messages = report.get("messages", [])
    datafile.check_state = report["state"]
    datafile.check_stage = "done"
    datafile.check_progress = 100
    datafile.checked_at = timezone.now()
    datafile.save()
    for member in report.get("members", []):
        child = DataFile(
            version_id=datafile.version_id, parent=datafile, original_name=Path(member["name"]).name,
            format=member["format"], size=member["size"], sha256=member["sha256"],
        )
        with open(member["local_path"], "rb") as fh:
            child.file.save(child.original_name, File(fh, name=child.original_name), save=False)
        child.save()
    version = DatasetVersion.objects.select_for_update().get(pk=datafile.version_id)
    bbox = (report.get("geo") or {}).get("bbox_wgs84")
    if bbox and version.is_editable:
        # The coverage of a GeoJSON file widens the version's bounding box (the official may edit it).
        old = version.spatial_bbox
        version.spatial_bbox = bbox if not old else [min(old[0], bbox[0]), min(old[1], bbox[1]), max(old[2], bbox[2]), max(old[3], bbox[3])]
        version.save(update_fields=["spatial_bbox", "updated_at"])
    for member in datafile.members.filter(check_state=DataFile.Check.PENDING):
        _enqueue_check(member)
    _refresh_version_state(version)
    return datafile


def datafile_check_failed(*, datafile_id: int, error: str) -> DataFile:
    """Checks crashed after their retries: say so (to the publisher and admins), never stay "running"."""
    return datafile_check_finished(
        datafile_id=datafile_id,
        report={
            "state": DataFile.Check.FAILED,
            "messages": [{
                "level": "error", "code": "internal_error",
                "message": in_every_language(_("The checks stopped because of an error on our side. Remove the file "
                                               "and upload it again; if it happens again, contact the platform admins.")),
                "detail": error[:500],
            }],
        },
    )


@transaction.atomic
def offer_create(*, actor, dataset: Dataset, kind: str, price_krw: int = 0, subscription_days: int | None = None,
                 cost_basis: str = "", contract_type: str = "") -> Offer:
    """A publisher offers the dataset. The law of the data decides what may be priced:

    - 공공데이터 (공공데이터법 제3조④, 제35조): free, or a cost-recovery fee with its stated basis;
    - 공공누리 제2·4유형 data may not be sold at all (commercial use is forbidden);
    - 민간·가공 데이터 (데이터산업법): any price, with the standard-contract type it follows.
    """
    _require_publisher(actor, dataset.publisher)
    version = dataset.versions.order_by("-number").select_related("licence").first()
    price_krw = int(price_krw or 0)
    if kind not in Offer.Kind.values:
        raise DomainError(_("Choose how the dataset is offered."), code="offer_kind")
    if kind == Offer.Kind.FREE:
        price_krw, subscription_days = 0, None
    elif price_krw <= 0:
        raise DomainError(_("Enter a price in won (excluding VAT)."), code="offer_price")
    if kind == Offer.Kind.SUBSCRIPTION and subscription_days not in (30, 90, 365):
        raise DomainError(_("A subscription runs for 30, 90 or 365 days."), code="offer_period")
    if kind != Offer.Kind.SUBSCRIPTION:
        subscription_days = None
    public = version.data_kind == DatasetVersion.DataKind.PUBLIC
    if kind != Offer.Kind.FREE:
        if version.licence and version.licence.code in ("kogl-2", "kogl-4"):
            raise DomainError(
                _("Data under 공공누리 제2·4유형 forbids commercial use, so it cannot be sold: offer it free of charge."),
                code="offer_licence",
            )
        if public and not cost_basis.strip():
            raise DomainError(
                _("Public data may carry only a cost-recovery fee (공공데이터법 제35조): state its basis and unit "
                  "(비용부과기준 및 단위), e.g. the cost of preparing and delivering the files."),
                code="offer_cost_basis",
            )
        if not public and contract_type not in Offer.Contract.values:
            raise DomainError(_("Choose the standard-contract type (데이터 표준계약서) the sale follows."), code="offer_contract")
    rule = "공공데이터법" if public else "데이터산업법"
    offer = Offer.objects.create(
        dataset=dataset, kind=kind, price_krw=price_krw, subscription_days=subscription_days,
        cost_basis=cost_basis.strip() if public else "", contract_type="" if public else contract_type, rule=rule,
    )
    audit(actor=actor, action="offer.created", obj=dataset, organization=dataset.publisher,
          data={"kind": kind, "price_krw": price_krw, "days": subscription_days, "rule": rule})
    return offer


@transaction.atomic
def offer_deactivate(*, actor, offer: Offer) -> Offer:
    """A publisher stops an offer; orders already placed keep their own copy of its terms."""
    _require_publisher(actor, offer.dataset.publisher)
    Offer.objects.filter(pk=offer.pk).update(active=False)
    audit(actor=actor, action="offer.deactivated", obj=offer.dataset, organization=offer.dataset.publisher,
          data={"offer": offer.pk})
    offer.active = False
    return offer


def _decision(*, version: DatasetVersion, action: str, actor, reason: str = "", data: dict | None = None) -> Review:
    """One decision: the append-only Review row and the platform-wide audit event, in the same transaction."""
    review = Review.objects.create(version=version, action=action, actor=actor, reason=reason, data=data or {})
    audit(actor=actor, action=f"version.{action}", obj=version, organization=version.dataset.publisher,
          reason=reason, data={"dataset": version.dataset.slug, "number": version.number, **(data or {})})
    return review


def review_record(*, version: DatasetVersion, action: str, actor, reason: str = "", data: dict | None = None) -> Review:
    return _decision(version=version, action=action, actor=actor, reason=reason, data=data)


def _notify_publisher(version: DatasetVersion, template: str, **context) -> None:
    from accounts.models import Membership

    recipients = list(
        Membership.objects.filter(organization=version.dataset.publisher, role__in=[Membership.Role.OWNER, Membership.Role.PUBLISHER])
        .values_list("user__email", flat=True)
    )
    email_on_commit(to=recipients, template=template, context={"version": version, **context,
                    "url": settings.SITE_URL.rstrip("/") + reverse("catalog:version", args=[version.pk])})


def submission_problems(version: DatasetVersion, *, pii_justification: str = "") -> list:
    """Why a version cannot be submitted yet (empty when it can). The page lists them; submit refuses."""
    problems = []
    files = list(version.files.all())
    if not files:
        problems.append(_("Upload at least one data file."))
    if any(f.check_state in (DataFile.Check.PENDING, DataFile.Check.RUNNING) for f in files):
        problems.append(_("Wait until every file has been checked."))
    if any(f.check_state == DataFile.Check.FAILED for f in files):
        problems.append(_("A file failed its checks: remove it or upload a corrected file."))
    if any(f.check_state == DataFile.Check.BLOCKED for f in files):
        problems.append(_("A file contains resident or foreigner registration numbers, which may not be published "
                          "(개인정보 보호법 제24조의2). Remove them and upload the file again."))
    if any(f.pii_findings for f in files if f.check_state == DataFile.Check.WARNING) and not pii_justification.strip():
        problems.append(_("Personal data was found: explain why it may be published (for example, pseudonymised)."))
    if not version.dataset.offers.filter(active=True).exists():
        problems.append(_("Say how the dataset is offered: free, or with a price."))
    if version.licence_id is None:
        problems.append(_("Choose a licence."))
    elif version.data_kind == DatasetVersion.DataKind.PUBLIC and not version.licence.allows_commercial_use:
        problems.append(_("Public data (공공데이터법 제3조④) may not carry a licence that forbids commercial use: "
                          "choose 공공누리 제1유형 or 제3유형, or a licence that allows commercial use."))
    return problems


@transaction.atomic
def version_submit(*, actor, version: DatasetVersion, pii_justification: str = "") -> DatasetVersion:
    """The publisher sends a ready version to the platform admins. From here on it cannot change."""
    _require_publisher(actor, version.dataset.publisher)
    version = (
        DatasetVersion.objects.select_for_update(of=("self",)).select_related("dataset__publisher", "licence").get(pk=version.pk)
    )
    if version.state == S.SUBMITTED:
        return version  # a double click
    problems = submission_problems(version, pii_justification=pii_justification)
    if problems:
        raise DomainError(problems[0], code="not_submittable")
    version.pii_justification = pii_justification.strip()
    version.submitted_at = timezone.now()
    version.save(update_fields=["pii_justification", "submitted_at", "updated_at"])
    transition(version, to=S.SUBMITTED)
    rule = "공공데이터법" if version.data_kind == DatasetVersion.DataKind.PUBLIC else "데이터산업법"
    _decision(version=version, action=Review.Action.SUBMIT, actor=actor,
              data={"pii_justification": version.pii_justification, "rule": rule})
    from accounts.models import User

    email_on_commit(
        to=list(User.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True)),
        template="email/version_submitted",
        context={"version": version, "url": settings.SITE_URL.rstrip("/") + "/staff/"},
    )
    return version


def _lock_for_decision(actor, version: DatasetVersion) -> DatasetVersion:
    if not can(actor, "accounts.verify_org"):
        raise NotAllowed(_("Only platform admins decide on submissions."))
    return DatasetVersion.objects.select_for_update().select_related("dataset__publisher").get(pk=version.pk)


@transaction.atomic
def version_approve(*, actor, version: DatasetVersion, reason: str = "") -> DatasetVersion:
    """A platform admin publishes a submitted version; the one published before it is superseded."""
    version = _lock_for_decision(actor, version)
    if version.state == S.PUBLISHED:
        return version  # the same decision twice (double click, or a second admin agreeing)
    if version.state != S.SUBMITTED:
        raise IllegalTransition(_("Only a submitted version can be approved (this one is “%(state)s”).")
                                % {"state": version.get_state_display()})
    previous = (
        DatasetVersion.objects.select_for_update().filter(dataset=version.dataset, state=S.PUBLISHED).first()
    )
    if previous:
        transition(previous, to=S.SUPERSEDED)
    transition(version, to=S.PUBLISHED)
    version.published_at = timezone.now()
    version.save(update_fields=["published_at", "updated_at"])
    Dataset.objects.filter(pk=version.dataset_id).update(updated_at=timezone.now())
    _decision(version=version, action=Review.Action.APPROVE, actor=actor, reason=reason.strip(),
              data={"superseded": previous.number if previous else None})
    _notify_publisher(version, "email/version_decided", approved=True, reason=reason.strip())
    return version


@transaction.atomic
def version_reject(*, actor, version: DatasetVersion, reason: str) -> DatasetVersion:
    """A platform admin sends a submitted version back; the reason is required and shown to the publisher."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Write the reason for the rejection: the publisher will read it."), code="reason_required")
    version = _lock_for_decision(actor, version)
    if version.state == S.REJECTED:
        return version
    if version.state != S.SUBMITTED:
        raise IllegalTransition(_("Only a submitted version can be rejected (this one is “%(state)s”).")
                                % {"state": version.get_state_display()})
    transition(version, to=S.REJECTED)
    _decision(version=version, action=Review.Action.REJECT, actor=actor, reason=reason)
    _notify_publisher(version, "email/version_decided", approved=False, reason=reason)
    return version


@transaction.atomic
def version_reopen(*, actor, version: DatasetVersion) -> DatasetVersion:
    """The publisher starts fixing a rejected version: it becomes a draft again."""
    _require_publisher(actor, version.dataset.publisher)
    version = DatasetVersion.objects.select_for_update().get(pk=version.pk)
    if version.state != S.REJECTED:
        raise IllegalTransition(_("Only a rejected version can be reopened."))
    transition(version, to=S.DRAFT)
    _refresh_version_state(version)
    return version


@transaction.atomic
def version_withdraw(*, actor, version: DatasetVersion, reason: str) -> DatasetVersion:
    """The publisher takes a published version down (buyers keep what they bought)."""
    _require_publisher(actor, version.dataset.publisher)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Say why the version is withdrawn."), code="reason_required")
    version = DatasetVersion.objects.select_for_update().select_related("dataset__publisher").get(pk=version.pk)
    transition(version, to=S.WITHDRAWN)
    _decision(version=version, action=Review.Action.WITHDRAW, actor=actor, reason=reason)
    return version


def _set_listing(*, actor, dataset: Dataset, to: str, action: str, reason: str) -> Dataset:
    if not can(actor, "accounts.verify_org"):
        raise NotAllowed(_("Only platform admins suspend or reinstate listings."))
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Write the reason: the publisher will read it."), code="reason_required")
    dataset = Dataset.objects.select_for_update().select_related("publisher").get(pk=dataset.pk)
    if dataset.listing == to:
        return dataset
    dataset.listing = to
    dataset.save(update_fields=["listing", "updated_at"])
    version = dataset.versions.filter(state=S.PUBLISHED).first() or dataset.versions.order_by("-number").first()
    _decision(version=version, action=action, actor=actor, reason=reason)
    _notify_publisher(version, "email/listing_changed", suspended=to == Dataset.Listing.SUSPENDED, reason=reason)
    return dataset


@transaction.atomic
def dataset_suspend(*, actor, dataset: Dataset, reason: str) -> Dataset:
    """A platform admin hides a live listing from buyers, with a reason."""
    return _set_listing(actor=actor, dataset=dataset, to=Dataset.Listing.SUSPENDED, action=Review.Action.SUSPEND, reason=reason)


@transaction.atomic
def dataset_reinstate(*, actor, dataset: Dataset, reason: str) -> Dataset:
    """A platform admin lists a suspended dataset again, with a reason."""
    return _set_listing(actor=actor, dataset=dataset, to=Dataset.Listing.ACTIVE, action=Review.Action.REINSTATE, reason=reason)


def local_copy_path(datafile: DataFile, workdir: Path) -> Path:
    """A local path to the stored file: the file itself on local storage, a streamed copy otherwise."""
    try:
        return Path(datafile.file.path)
    except NotImplementedError:
        target = workdir / f"source{Path(datafile.original_name).suffix.lower()}"
        with datafile.file.open("rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        return target
