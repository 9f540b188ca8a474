"""Live tables and their rows. Imported at the end of catalog/models.py.

A LiveTable is one table of a published dataset that its provider keeps appending rows to. Its schema is fixed
when the provider enables it (the columns of one of the published files). Rows arrive in batches (LiveBatch, one
per idempotency key) and each row gets the next `seq` of its table under the table's row lock, so seq order is
commit order: a reader asking for rows after the last seq it saw never skips one. Rows and batches are
append-only (a database trigger refuses UPDATE and DELETE): a correction is a new row.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.db import choices_constraint


class LiveState(models.TextChoices):
    ACTIVE = "active", _("Receiving rows")
    PAUSED = "paused", _("Paused")


class LiveTable(models.Model):
    State = LiveState

    dataset = models.ForeignKey("catalog.Dataset", on_delete=models.CASCADE, related_name="live_tables")
    # ASCII identifier ([a-z][a-z0-9_]*) in URLs and SQL, like a query-store table's name.
    name = models.SlugField(max_length=63)
    title = models.CharField(max_length=200)
    # Same shape as QueryTable.columns: [{"name", "type" (DuckDB), "schema_type", "format", "masked", "required",
    # "description_ko", "description_en", "unit"}]
    columns = models.JSONField()
    # The published file (or sheet) the schema was declared from.
    source = models.ForeignKey("catalog.DataFile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # How often a dated snapshot version is published (a DatasetVersion.Cadence value; daily, weekly, monthly
    # make snapshots, others none).
    cadence = models.CharField(max_length=20, default="daily")
    state = models.CharField(max_length=20, choices=LiveState.choices, default=LiveState.ACTIVE)
    enabled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    enabled_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    last_seq = models.BigIntegerField(default=0)
    last_row_at = models.DateTimeField(null=True, blank=True)
    row_count = models.BigIntegerField(default=0)

    # Compaction: rows with seq <= compacted_seq are in `store` (a DuckDB file in private storage).
    compacted_seq = models.BigIntegerField(default=0)
    store = models.FileField(max_length=500, blank=True)
    compacted_at = models.DateTimeField(null=True, blank=True)
    compaction_lease = models.UUIDField(null=True, blank=True)
    compaction_leased_until = models.DateTimeField(null=True, blank=True)

    # Snapshots: the version being published from the rows (checks running), and the last period published.
    last_snapshot_at = models.DateTimeField(null=True, blank=True)
    snapshot_period = models.DateField(null=True, blank=True)  # first day of the last period snapshotted
    snapshot_version = models.ForeignKey(
        "catalog.DatasetVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("live table")
        verbose_name_plural = _("live tables")
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="livetable_unique_name"),
            choices_constraint("state", LiveState, name="livetable_state_valid"),
        ]

    def __str__(self):
        return f"{self.title} ({self.name})"

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.columns]


class _AppendOnly(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise PermissionError(f"{type(self).__name__} rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError(f"{type(self).__name__} rows are append-only")


class LiveBatch(_AppendOnly):
    """One accepted POST of rows. A retry with the same idempotency key returns this batch."""

    table = models.ForeignKey(LiveTable, on_delete=models.CASCADE, related_name="batches")
    idempotency_key = models.CharField(max_length=200)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    rows = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)  # of the request's rows (canonical JSON)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("live batch")
        verbose_name_plural = _("live batches")
        constraints = [
            models.UniqueConstraint(fields=["table", "idempotency_key"], name="livebatch_unique_key"),
        ]

    def __str__(self):
        return f"batch {self.idempotency_key} of {self.table_id} ({self.first_seq}–{self.last_seq})"


class LiveRow(_AppendOnly):
    """One appended row: immutable."""

    table = models.ForeignKey(LiveTable, on_delete=models.CASCADE, related_name="rows")
    seq = models.BigIntegerField()
    batch = models.ForeignKey(LiveBatch, on_delete=models.CASCADE, related_name="+")
    data = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("live row")
        verbose_name_plural = _("live rows")
        constraints = [models.UniqueConstraint(fields=["table", "seq"], name="liverow_unique_seq")]

    def __str__(self):
        return f"row {self.seq} of {self.table_id}"
