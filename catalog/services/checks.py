"""The automatic checks of a file as seen by the version: claim, progress, report, failure, removal."""

from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from catalog.ingest.errors import in_every_language
from catalog.models import DataFile, DatasetVersion
from catalog.services.dictionary import datafile_dictionary_inherit
from catalog.services.uploads import _enqueue_check, delete_unreferenced_on_commit
from catalog.services.versions import (
    _lock_editable,
    _refresh_version_state,
    _require_publisher,
)
from core.audit import audit
from core.errors import DomainError
from core.text import lazy_percent


@transaction.atomic
def datafile_remove(*, actor, datafile: DataFile) -> None:
    """A publisher removes a file (and its ZIP members) from a version that is still a draft."""
    _require_publisher(actor, datafile.version.dataset.publisher)
    if datafile.parent_id is not None:
        # A ZIP's member or a workbook's sheet belongs to the file buyers receive whole: remove that file instead.
        raise DomainError(
            lazy_percent(
                _("“%(name)s” is part of “%(parent)s”: remove or replace the whole file."),
                {"name": datafile.original_name, "parent": datafile.parent.original_name},
            ),
            code="datafile_member",
        )
    version = _lock_editable(datafile.version)
    names = [datafile.file.name, *datafile.members.values_list("file", flat=True)]
    audit(
        actor=actor,
        action="datafile.removed",
        obj=datafile,
        organization=version.dataset.publisher,
        data={"name": datafile.original_name, "sha256": datafile.sha256},
    )
    datafile.delete()
    delete_unreferenced_on_commit(names)  # a carried file's bytes stay with the published version
    _refresh_version_state(version)


# A check still "running" after this long was lost with its worker: it may be claimed again.
STALE_CHECK = timedelta(hours=3)


def datafile_check_started(*, datafile_id: int) -> DataFile | None:
    """Claim a file for checking by compare-and-set: a waiting file, or one whose worker was lost.
    A redelivered task finds the file claimed (or checked) and does nothing."""
    claimable = Q(check_state=DataFile.Check.PENDING) | Q(
        check_state=DataFile.Check.RUNNING, check_started_at__lt=timezone.now() - STALE_CHECK
    )
    claimed = DataFile.objects.filter(claimable, pk=datafile_id).update(
        check_state=DataFile.Check.RUNNING, check_started_at=timezone.now(), check_progress=0, check_stage="start"
    )
    return DataFile.objects.select_related("version").get(pk=datafile_id) if claimed else None


def datafile_check_release(*, datafile_id: int) -> None:
    """Give a claimed file back (before a retry), so the retried task can claim it again."""
    DataFile.objects.filter(pk=datafile_id, check_state=DataFile.Check.RUNNING).update(
        check_state=DataFile.Check.PENDING, check_stage="retry"
    )


def datafile_check_progress(*, datafile_id: int, stage: str, percent: int) -> None:
    DataFile.objects.filter(pk=datafile_id).update(check_stage=stage[:40], check_progress=max(0, min(100, percent)))


def datafile_check_finished(*, datafile_id: int, report: dict) -> DataFile:
    """Store a file's check report and let the version follow (checking → ready or draft).

    The members of a ZIP are put into storage first, outside the transaction (with object storage that is network
    I/O, never done under a row lock), under names of their own that the next run finds again (_member_name): a
    worker killed between storing them and the commit leaves copies that the check's next run (it is retried, or
    claimed again once stale) takes as they are, instead of orphans beside new copies. When the report is not
    recorded after all (another run finished it first, or the transaction failed) the copies no file names are
    deleted again."""
    stored = _store_members(datafile_id, report.get("members", []))
    recorded = False
    try:
        datafile, recorded = _record_check(datafile_id, report, stored)
    finally:
        if not recorded:
            _delete_unreferenced(stored)
    return datafile


def _delete_unreferenced(names) -> None:
    """Delete the stored members no DataFile names (another run of the same check may have recorded them)."""
    for name in names:
        if not DataFile.objects.filter(file=name).exists():
            default_storage.delete(name)


def _member_name(parent: DataFile, index: int, member: dict) -> str:
    """The storage name of the ZIP's `index`th member: fixed by the archive's file, the position and the member's
    SHA-256, so every run of the check stores it under the same name (beside the archive)."""
    folder = Path(parent.file.name).parent.as_posix()
    suffix = "".join(c for c in Path(member["name"]).suffix.lower() if c.isalnum() or c == ".")[:10]
    return f"{folder}/m{parent.pk}-{index:04d}-{member['sha256'][:32]}{suffix}"


def _store_members(datafile_id: int, members: list[dict]) -> list[str]:
    """The storage names of the extracted members (local files of this check's work folder), in their order. A
    member a run that died stored before already (same name, its size) is kept as it is; a shorter one (a file
    system's half-written file) is written again."""
    if not members:
        return []
    parent = DataFile.objects.get(pk=datafile_id)
    stored: list[str] = []
    try:
        for index, member in enumerate(members):
            name = _member_name(parent, index, member)
            if default_storage.exists(name):
                if default_storage.size(name) == member["size"]:
                    stored.append(name)
                    continue
                default_storage.delete(name)
            with open(member["local_path"], "rb") as fh:
                stored.append(default_storage.save(name, File(fh)))
    except BaseException:
        _delete_unreferenced(stored)
        raise
    return stored


@transaction.atomic
def _record_check(datafile_id: int, report: dict, stored: list[str]) -> tuple[DataFile, bool]:
    datafile = DataFile.objects.select_for_update().get(pk=datafile_id)
    if datafile.check_state != DataFile.Check.RUNNING:
        return datafile, False  # already finished by another run: never store a report (or ZIP members) twice
    _store_report(datafile, report)
    datafile.save()
    datafile_dictionary_inherit(datafile=datafile)
    for table in report.get("sheets", []):
        # A table of the workbook, one per non-empty sheet: checked already (the sheets were read in this run).
        sheet = DataFile(
            version_id=datafile.version_id,
            parent=datafile,
            original_name=table["sheet"]["name"][:255],
            format=datafile.format,
            size=0,
            sha256=table["sha256"],
        )
        _store_report(sheet, table)
        sheet.save()
        datafile_dictionary_inherit(datafile=sheet)
    for member, name in zip(report.get("members", []), stored, strict=True):
        child = DataFile(
            version_id=datafile.version_id,
            parent=datafile,
            original_name=Path(member["name"]).name,
            format=member["format"],
            size=member["size"],
            sha256=member["sha256"],
            file=name,
        )
        child.save()
    version = DatasetVersion.objects.select_for_update().get(pk=datafile.version_id)
    bbox = (report.get("geo") or {}).get("bbox_wgs84")
    if bbox and version.is_editable:
        # The coverage of a GeoJSON file widens the version's bounding box (the official may edit it).
        old = version.spatial_bbox
        version.spatial_bbox = (
            bbox
            if not old
            else [min(old[0], bbox[0]), min(old[1], bbox[1]), max(old[2], bbox[2]), max(old[3], bbox[3])]
        )
        version.save(update_fields=["spatial_bbox", "updated_at"])
    points_bbox = (report.get("map_layer") or {}).get("bbox") if not bbox else None
    if points_bbox and version.is_editable and not version.spatial_bbox:
        # The points of a table fill the coverage only when the publisher (or an earlier file) left it empty.
        version.spatial_bbox = points_bbox
        version.save(update_fields=["spatial_bbox", "updated_at"])
    for member in datafile.members.filter(check_state=DataFile.Check.PENDING):
        _enqueue_check(member)
    _refresh_version_state(version)
    return datafile, True


_REPORT_FIELDS = (
    "encoding",
    "delimiter",
    "row_count",
    "column_count",
    "table_schema",
    "profile",
    "preview",
    "geo",
    "map_layer",
    "sheet",
)


def _store_report(datafile: DataFile, report: dict) -> None:
    for field in _REPORT_FIELDS:
        if field in report:
            setattr(datafile, field, report[field])
    datafile.pii_findings = report.get("pii_findings", [])
    datafile.check_messages = report.get("messages", [])
    datafile.check_state = report["state"]
    datafile.check_stage = "done"
    datafile.check_progress = 100
    datafile.checked_at = timezone.now()


def datafile_check_failed(*, datafile_id: int, error: str) -> DataFile:
    """Checks crashed after their retries: say so (to the publisher and admins), never stay "running"."""
    return datafile_check_finished(
        datafile_id=datafile_id,
        report={
            "state": DataFile.Check.FAILED,
            "messages": [
                {
                    "level": "error",
                    "code": "internal_error",
                    "message": in_every_language(
                        _(
                            "The checks stopped because of an error on our side. Remove the file "
                            "and upload it again; if it happens again, contact the platform admins."
                        )
                    ),
                    "detail": error[:500],
                }
            ],
        },
    )
