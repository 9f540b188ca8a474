"""Datasets and their versions: creation, description, the version state machine."""

import re

from django.db import models, transaction
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can
from catalog.models import DataFile, Dataset, DatasetVersion
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.romanize import unique_slug
from core.text import choice_label, lazy_percent
from core.transitions import transition

S = DatasetVersion.State

METADATA_FIELDS = DatasetVersion.METADATA_FIELDS


def _require_publisher(actor, organization):
    if not can(actor, "accounts.publish_for_org", organization):
        raise NotAllowed(_("Only publishers of a verified provider organization can do this."))


def _unique_slug(title_en: str, title_ko: str) -> str:
    """From the English title, else the romanised Korean one; `dataset-N` only when neither gives letters.

    Slugs are in URLs, so a dataset keeps its slug when its titles change later.
    """
    return unique_slug(Dataset.objects.all(), title_en, title_ko, fallback="dataset", max_length=80)


def clean_tags(tags) -> list[str]:
    if isinstance(tags, str):
        tags = re.split(r"[,#\n]", tags)
    seen = []
    for tag in tags or []:
        tag = tag.strip()
        if tag and tag not in seen:
            seen.append(tag[:40])
    return seen[:20]


def bbox_problem(values) -> str | None:
    """Why these numbers are not a bounding box [west, south, east, north] in degrees (None when they are).
    The description form and the API both ask it."""
    if len(values) != 4 or not (-180 <= values[0] < values[2] <= 180 and -90 <= values[1] < values[3] <= 90):
        return _("Enter four numbers: west, south, east, north (west < east, south < north), in degrees.")
    return None


def temporal_problem(start, end) -> str | None:
    """Why the period a version covers is not one (None when it is)."""
    if start and end and start > end:
        return _("The end date is before the start date.")
    return None


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
    version = (
        DatasetVersion.objects.select_for_update(of=("self",)).select_related("dataset__publisher").get(pk=version.pk)
    )
    if not version.is_editable:
        raise DomainError(
            lazy_percent(
                _("This version is “%(state)s” and can no longer be changed. Start a new version instead."),
                {"state": choice_label(version, "state")},
            ),
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


OPEN_STATES = (S.DRAFT, S.CHECKING, S.READY, S.SUBMITTED, S.REJECTED)

# Fields of a DataFile row that belong to the row, not to the file: everything else is copied (so a field added
# to DataFile later, e.g. a data dictionary, is carried over without touching this list).
_NOT_CARRIED = frozenset({"id", "version", "parent", "predecessor", "created_at"})


def _carry_files(published: DatasetVersion, target: DatasetVersion) -> int:
    """Copy the published version's file rows (ZIP members too) into `target`, each naming the same stored
    object and keeping its check results, with `predecessor` pointing at the row it came from. No byte is read
    or copied: a stored object is deleted only once no row names it (uploads.delete_unreferenced_on_commit),
    so removing or replacing a carried file in the draft never touches the published version's bytes."""
    fields = [f for f in DataFile._meta.concrete_fields if f.name not in _NOT_CARRIED]

    def copy_of(old: DataFile, **extra) -> DataFile:
        values = {}
        for f in fields:
            value = getattr(old, f.attname)
            # A FieldFile is bound to its row; the new row gets the stored name (no upload, no copy).
            values[f.attname] = value.name if isinstance(f, models.FileField) else value
        return DataFile(version=target, predecessor_id=old.pk, **values, **extra)

    files = list(published.files.order_by("created_at", "id"))
    # Level by level: top-level files, their members (a ZIP's files, a workbook's sheets), then the sheets of
    # a workbook inside a ZIP.
    new_ids: dict[int, int | None] = {None: None}
    level = [f for f in files if f.parent_id is None]
    copied = 0
    while level:
        created = DataFile.objects.bulk_create([copy_of(f, parent_id=new_ids[f.parent_id]) for f in level])
        new_ids.update({new.predecessor_id: new.pk for new in created})
        copied += len(created)
        level = [f for f in files if f.parent_id is not None and f.parent_id in new_ids and f.pk not in new_ids]
    return copied


@transaction.atomic
def version_start_new(*, actor, dataset: Dataset, change_note: str) -> DatasetVersion:
    """Start the next version as a draft copy of the published one: its description and its files, which keep
    their checks (nothing is uploaded or checked again). The publisher then replaces or removes files.

    Idempotent: with a version already in progress (a double click, concurrent requests) that version is
    returned; the dataset row lock serialises the requests, so there is only ever one. The returned version's
    `started_now` says whether this call created it.
    """
    _require_publisher(actor, dataset.publisher)
    Dataset.objects.select_for_update().get(pk=dataset.pk)
    published = dataset.versions.filter(state=S.PUBLISHED).first()
    if published is None:
        raise DomainError(_("Only a published dataset can get a new version."), code="not_published")
    in_progress = dataset.versions.filter(state__in=OPEN_STATES).first()
    if in_progress is not None:
        in_progress.started_now = False
        return in_progress
    last_number = dataset.versions.order_by("-number").values_list("number", flat=True).first()
    copy = DatasetVersion(dataset=dataset, number=last_number + 1, created_by=actor, change_note=change_note.strip())
    for field in (*METADATA_FIELDS, "pii_justification"):
        setattr(copy, field, getattr(published, field))
    copy.save()
    carried = _carry_files(published, copy)
    audit(
        actor=actor,
        action="version.started",
        obj=copy,
        organization=dataset.publisher,
        data={"from": published.number, "files": carried},
    )
    _refresh_version_state(copy)  # carried files are checked already: the copy may be ready at once
    copy.refresh_from_db()
    copy.started_now = True
    return copy


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
        transition(version, to=target, actor=None)
