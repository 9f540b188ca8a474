"""Harvest sources, their runs and per-record reports, harvested listings and their link resources.
Imported at the end of catalog/models.py.

A HarvestSource is another catalog (a CKAN portal's Action API or a DCAT-AP endpoint) that a platform admin
registers for one owner organization. Each HarvestRun reads the whole source and imports its datasets as
listings of that organization (a Dataset with a published DatasetVersion, audited as automatic); the run's
report is one HarvestRecord per source record (added, updated, unchanged, kept because edited locally, removed,
failed with its reason). HarvestedDataset ties a listing to its source record; a listing's resources are
ExternalResource rows (links to the source's files) unless the source fetches files.
"""

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.db import choices_constraint


class HarvestKind(models.TextChoices):
    CKAN = "ckan", _("CKAN portal (Action API)")
    DCAT = "dcat", _("DCAT-AP endpoint (Turtle, JSON-LD or RDF/XML)")


class HarvestSchedule(models.TextChoices):
    MANUAL = "manual", _("Only when started by hand")
    HOURLY = "hourly", _("Every hour")
    DAILY = "daily", _("Every day")
    WEEKLY = "weekly", _("Every week")


# How long after a run a scheduled source is due again (a manual source has no interval: it never comes due).
SCHEDULE_INTERVALS = {
    HarvestSchedule.HOURLY: dt.timedelta(hours=1),
    HarvestSchedule.DAILY: dt.timedelta(days=1),
    HarvestSchedule.WEEKLY: dt.timedelta(days=7),
}


def next_run_after(schedule: str, moment: dt.datetime | None) -> dt.datetime | None:
    """When a source on `schedule` runs next after `moment` (None: manual, or no moment)."""
    interval = SCHEDULE_INTERVALS.get(schedule)
    return moment + interval if interval and moment else None


class ResourceMode(models.TextChoices):
    LINK = "link", _("Link to the source's files")
    FETCH = "fetch", _("Fetch the files into this exchange")


class HarvestSource(models.Model):
    Kind = HarvestKind
    Schedule = HarvestSchedule
    ResourceMode = ResourceMode

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=10, choices=HarvestKind.choices)
    # CKAN: the portal's base URL (the Action API is <url>/api/3/action/…). DCAT: the catalog document's URL
    # (its Hydra `next` links are followed).
    url = models.URLField(_("address"), max_length=500)
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.PROTECT, related_name="harvest_sources", verbose_name=_("owner")
    )
    schedule = models.CharField(
        _("schedule"), max_length=10, choices=HarvestSchedule.choices, default=HarvestSchedule.DAILY
    )
    resource_mode = models.CharField(
        _("resources"), max_length=10, choices=ResourceMode.choices, default=ResourceMode.LINK
    )
    # Mapping rules: {"themes": {source value (CKAN group name, DCAT theme URI, tag): our Theme.code},
    # "licences": {source licence id or URI: our Licence.code}, "default_theme": code, "default_licence": code,
    # "data_kind": "public" | "private"}
    mapping = models.JSONField(_("mapping rules"), default=dict, blank=True)
    # A CKAN `fq` (e.g. organization:siheung) that narrows what is read; empty: everything.
    filter_query = models.CharField(_("filter"), max_length=300, blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("harvest source")
        verbose_name_plural = _("harvest sources")
        constraints = [
            models.UniqueConstraint(fields=["url", "organization"], name="harvestsource_unique_url_org"),
            choices_constraint("kind", HarvestKind, name="harvestsource_kind_valid"),
            choices_constraint("schedule", HarvestSchedule, name="harvestsource_schedule_valid"),
            choices_constraint("resource_mode", ResourceMode, name="harvestsource_resource_mode_valid"),
        ]

    def __str__(self):
        return self.name


class HarvestRunState(models.TextChoices):
    QUEUED = "queued", _("Waiting")
    RUNNING = "running", _("Running")
    DONE = "done", _("Finished")
    FAILED = "failed", _("Failed")


class HarvestRun(models.Model):
    State = HarvestRunState

    source = models.ForeignKey(HarvestSource, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=10, choices=HarvestRunState.choices, default=HarvestRunState.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )  # None: the schedule
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Where a killed run resumes: the source page (CKAN `start`, DCAT page URL) after the last committed one.
    cursor = models.JSONField(default=dict, blank=True)
    seen = models.PositiveIntegerField(default=0)  # source records read so far
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    kept = models.PositiveIntegerField(default=0)  # changed at the source but edited locally: not overwritten
    removed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Why the whole run failed (the source unreachable, not a catalog): Korean and English.
    error_ko = models.TextField(blank=True)
    error_en = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("harvest run")
        verbose_name_plural = _("harvest runs")
        constraints = [
            choices_constraint("state", HarvestRunState, name="harvestrun_state_valid"),
            # One run of a source at a time.
            models.UniqueConstraint(
                fields=["source"], condition=models.Q(state__in=["queued", "running"]), name="harvestrun_one_open"
            ),
        ]

    def __str__(self):
        return f"harvest run {self.pk} of {self.source_id} ({self.state})"


class RecordAction(models.TextChoices):
    ADDED = "added", _("Added")
    UPDATED = "updated", _("Updated")
    UNCHANGED = "unchanged", _("Unchanged")
    KEPT = "kept", _("Kept: edited here")
    REMOVED = "removed", _("Removed at the source")
    FAILED = "failed", _("Failed")


class HarvestRecord(models.Model):
    """One line of a run's report."""

    Action = RecordAction

    run = models.ForeignKey(HarvestRun, on_delete=models.CASCADE, related_name="records")
    identifier = models.CharField(max_length=500)  # the source's id (CKAN id or name; DCAT dataset URI)
    title = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=10, choices=RecordAction.choices)
    message_ko = models.TextField(blank=True)
    message_en = models.TextField(blank=True)
    dataset = models.ForeignKey("catalog.Dataset", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name = _("harvest record")
        verbose_name_plural = _("harvest records")
        constraints = [
            choices_constraint("action", RecordAction, name="harvestrecord_action_valid"),
            # A retried page records each source record once per run.
            models.UniqueConstraint(fields=["run", "identifier"], name="harvestrecord_unique_per_run"),
        ]
        indexes = [models.Index(fields=["run", "action"], name="harvestrecord_run_action")]

    def __str__(self):
        return f"{self.identifier}: {self.action}"


class HarvestedDataset(models.Model):
    """A listing that came from a harvest source: which record, where it lives there, what was imported."""

    dataset = models.OneToOneField("catalog.Dataset", on_delete=models.CASCADE, related_name="harvest")
    source = models.ForeignKey(HarvestSource, on_delete=models.PROTECT, related_name="datasets")
    identifier = models.CharField(max_length=500)
    source_url = models.URLField(max_length=1000, blank=True)  # the record's page at the source (link back)
    source_modified = models.DateTimeField(null=True, blank=True)
    # SHA-256 of the listing's metadata as the harvester last wrote it (catalog.harvest decides what it covers):
    # when the published version no longer hashes to it, someone edited the listing here, and the harvester
    # keeps their edit and says so in the report (RecordAction.KEPT).
    imported_hash = models.CharField(max_length=64)
    # SHA-256 of the source record as last read: unchanged records are skipped without touching the listing.
    source_hash = models.CharField(max_length=64)
    harvested_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)  # gone from the source (the listing is withdrawn)
    last_run = models.ForeignKey(HarvestRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("harvested dataset")
        verbose_name_plural = _("harvested datasets")
        constraints = [
            models.UniqueConstraint(fields=["source", "identifier"], name="harvesteddataset_unique_record"),
        ]

    def __str__(self):
        return f"{self.identifier} from {self.source_id}"


class ExternalResource(models.Model):
    """A resource of a harvested listing that stays at its source: a link with what the source says of it."""

    version = models.ForeignKey("catalog.DatasetVersion", on_delete=models.CASCADE, related_name="external_resources")
    position = models.PositiveSmallIntegerField(default=0)
    source_id = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=2000)
    format = models.CharField(max_length=40, blank=True)  # upper case, as CKAN shows it: CSV, JSON, XLSX, API
    media_type = models.CharField(max_length=120, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    checksum = models.CharField(max_length=200, blank=True)  # as the source gives it (e.g. "sha256:…" or a hex)
    created_at = models.DateTimeField(auto_now_add=True)
    # A stable id for CKAN's resource_show and DCAT distribution URIs.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta:
        ordering = ["version", "position", "id"]
        verbose_name = _("external resource")
        verbose_name_plural = _("external resources")

    def __str__(self):
        return self.name
