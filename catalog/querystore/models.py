"""The query store of a published version: one DuckDB database file per (version, variant) in private storage,
and the tables inside it (catalog.querystore.build makes them, catalog.querystore.engine queries them)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.db import choices_constraint


class StoreVariant(models.TextChoices):
    FULL = "full", _("All rows")
    SAMPLE = "sample", _("Sample rows")


class StoreState(models.TextChoices):
    PENDING = "pending", _("Waiting to be loaded")
    BUILDING = "building", _("Loading into the query store")
    READY = "ready", _("Ready to query")
    FAILED = "failed", _("Loading failed")


class QueryStore(models.Model):
    """One DuckDB file of a version's tables: "full" (every row, personal-data columns masked) or "sample" (the
    published sample rows). Built under a lease (`lease`, `leased_until`) by the publication's task; a stale lease
    is taken over by the housekeeping beat. `error` ({"ko", "en"}) says why a build failed."""

    Variant = StoreVariant
    State = StoreState

    version = models.ForeignKey("catalog.DatasetVersion", on_delete=models.CASCADE, related_name="query_stores")
    variant = models.CharField(max_length=10, choices=StoreVariant.choices)
    state = models.CharField(max_length=10, choices=StoreState.choices, default=StoreState.PENDING)
    file = models.FileField(max_length=500, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    error = models.JSONField(null=True, blank=True)
    lease = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("query store")
        verbose_name_plural = _("query stores")
        constraints = [
            models.UniqueConstraint(fields=["version", "variant"], name="querystore_one_per_variant"),
            choices_constraint("state", StoreState, name="querystore_state_valid"),
            choices_constraint("variant", StoreVariant, name="querystore_variant_valid"),
        ]
        indexes = [models.Index(fields=["state", "leased_until"], name="querystore_state_lease")]

    def __str__(self):
        return f"{self.version} ({self.variant}, {self.state})"


class QueryTable(models.Model):
    """A table of a query store: one tabular file, or one sheet's table of a workbook.

    `columns`: [{"name", "type" (DuckDB), "schema_type" (Table Schema), "format", "masked", "description_ko",
    "description_en", "unit"}] (the visible columns; every table also has the hidden `_row BIGINT`, 1-based source
    order, and a GeoJSON table `_minx,_miny,_maxx,_maxy DOUBLE`). `geometry`: {"kind": "latlon", "lat", "lon"} or
    {"kind": "geojson"} (a `geometry` column of GeoJSON text). `order_key`: the column the rows are stored sorted
    by ("" = source order)."""

    store = models.ForeignKey(QueryStore, on_delete=models.CASCADE, related_name="tables")
    datafile = models.ForeignKey("catalog.DataFile", null=True, on_delete=models.SET_NULL, related_name="+")
    name = models.SlugField(max_length=63)
    title = models.CharField(max_length=300)
    columns = models.JSONField(default=list)
    row_count = models.BigIntegerField(default=0)
    geometry = models.JSONField(null=True, blank=True)
    order_key = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["store", "position", "id"]
        verbose_name = _("query table")
        verbose_name_plural = _("query tables")
        constraints = [models.UniqueConstraint(fields=["store", "name"], name="querytable_unique_name")]

    def __str__(self):
        return f"{self.name} ({self.store_id})"
