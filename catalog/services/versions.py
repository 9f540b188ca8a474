"""Datasets and their versions: creation, description, the version state machine."""

import re

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.permissions import can
from catalog.models import DataFile, Dataset, DatasetVersion
from core.audit import audit
from core.errors import DomainError, NotAllowed
from core.romanize import unique_slug
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
    audit(
        actor=actor, action="version.started", obj=copy, organization=dataset.publisher, data={"from": published.number}
    )
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
