"""Datasets, their versions and files, licences, offers, reviews and resumable uploads.

A Dataset is the stable identity (slug, publisher, listing state). Everything an official
describes lives on a DatasetVersion, which is editable while it is a draft and frozen once
submitted; buyers only ever see published versions.
"""

import os
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from core.db import choices_constraint

# The sample levels that have partial indexes of their own (CatalogEntry.Meta): the default CATALOG_SAMPLE_LEVELS.
SAMPLE_INDEX_LEVELS = (1000, 100, 10)


def _bilingual(obj, field):
    value_en = getattr(obj, f"{field}_en", "")
    return value_en if get_language() == "en" and value_en else getattr(obj, f"{field}_ko")


class Theme(models.Model):
    """A top class of the national 공공데이터 분류체계 (data.go.kr's 16 classes)."""

    code = models.SlugField(max_length=40, unique=True)
    name_ko = models.CharField(max_length=50)
    name_en = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        verbose_name = _("theme")
        verbose_name_plural = _("themes")

    def __str__(self):
        return self.name_ko

    @property
    def name(self):
        return _bilingual(self, "name")


class Licence(models.Model):
    """공공누리 types 1–4, Creative Commons, or an organization's own commercial licence."""

    class Family(models.TextChoices):
        KOGL = "kogl", _("Korea Open Government License (공공누리)")
        CC = "cc", _("Creative Commons")
        COMMERCIAL = "commercial", _("Commercial licence")

    code = models.SlugField(max_length=60, unique=True)
    family = models.CharField(max_length=20, choices=Family.choices)
    name_ko = models.CharField(max_length=120)
    name_en = models.CharField(max_length=120)
    summary_ko = models.TextField()
    summary_en = models.TextField()
    text_ko = models.TextField()
    text_en = models.TextField(blank=True)
    url = models.URLField(blank=True)
    allows_commercial_use = models.BooleanField()
    allows_derivatives = models.BooleanField()
    # A commercial licence written by one organization is offered only to it.
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="licences"
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("licence")
        verbose_name_plural = _("licences")

    def __str__(self):
        return self.name_ko

    @property
    def name(self):
        return _bilingual(self, "name")

    @property
    def summary(self):
        return _bilingual(self, "summary")


class DatasetListing(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")  # hidden from buyers by a platform admin, with a reason


class Dataset(models.Model):
    """The stable identity of a dataset; its description lives on its versions."""

    Listing = DatasetListing

    slug = models.SlugField(max_length=120, unique=True)
    publisher = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="datasets")
    listing = models.CharField(max_length=20, choices=Listing.choices, default=Listing.ACTIVE)
    # Completed downloads of delivered packages; transactions reports them (catalog.services.dataset_count_download).
    download_count = models.PositiveBigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        constraints = [
            choices_constraint("listing", DatasetListing, name="dataset_listing_valid"),
        ]

    def __str__(self):
        latest = self.versions.order_by("-number").first()
        return latest.title_ko if latest else self.slug


class VersionState(models.TextChoices):
    DRAFT = "draft", _("Draft")  # being written; files may be added or removed
    CHECKING = "checking", _("Checking files")  # automatic checks are running
    READY = "ready", _("Ready to submit")  # every file passed its checks
    SUBMITTED = "submitted", _("Submitted for review")  # frozen; waiting for a platform admin
    PUBLISHED = "published", _("Published")  # visible to buyers
    REJECTED = "rejected", _("Rejected")  # reason recorded; goes back to draft to be fixed
    SUPERSEDED = "superseded", _("Superseded")  # a newer version was published
    WITHDRAWN = "withdrawn", _("Withdrawn")  # taken down by its publisher


class DataKind(models.TextChoices):
    PUBLIC = "public", _("Public data (공공데이터법)")
    PRIVATE = "private", _("Private or processed data (데이터산업법)")


class DatasetVersion(models.Model):
    """One version of a dataset: its metadata snapshot and files, with the review state machine."""

    # What a publisher describes: copied to a new version, compared in the review diff.
    METADATA_FIELDS = (
        "title_ko",
        "title_en",
        "description_ko",
        "description_en",
        "theme",
        "tags",
        "department",
        "contact_name",
        "contact_phone",
        "contact_email",
        "update_cadence",
        "spatial_area",
        "spatial_bbox",
        "temporal_start",
        "temporal_end",
        "legal_basis",
        "collection_method",
        "data_kind",
        "licence",
        "data_limits",
        "notes",
    )

    State = VersionState

    class Cadence(models.TextChoices):
        REALTIME = "realtime", _("Real time (실시간)")
        DAILY = "daily", _("Daily (일간)")
        WEEKLY = "weekly", _("Weekly (주간)")
        MONTHLY = "monthly", _("Monthly (월간)")
        QUARTERLY = "quarterly", _("Quarterly (분기)")
        HALF_YEARLY = "half_yearly", _("Half-yearly (반기)")
        YEARLY = "yearly", _("Yearly (연간)")
        IRREGULAR = "irregular", _("Irregular (수시)")
        NONE = "none", _("Not updated (없음)")

    DataKind = DataKind

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT)
    change_note = models.TextField(_("what changed"), blank=True)

    title_ko = models.CharField(_("title (Korean)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    description_ko = models.TextField(_("description (Korean)"))
    description_en = models.TextField(_("description (English)"), blank=True)
    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, verbose_name=_("theme"))
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True, verbose_name=_("keywords"))
    department = models.CharField(_("managing department"), max_length=120, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=100)
    contact_phone = models.CharField(_("contact phone"), max_length=30)
    contact_email = models.EmailField(_("contact e-mail"))
    update_cadence = models.CharField(_("update cadence"), max_length=20, choices=Cadence.choices)
    spatial_area = models.CharField(
        _("spatial coverage"), max_length=200, blank=True, help_text=_("Administrative area, e.g. 경기도 시흥시 정왕동")
    )
    spatial_bbox = models.JSONField(
        _("bounding box"), null=True, blank=True, help_text=_("[west, south, east, north] in WGS84")
    )
    temporal_start = models.DateField(_("covers from"), null=True, blank=True)
    temporal_end = models.DateField(_("covers until"), null=True, blank=True)
    legal_basis = models.CharField(_("legal basis (보유근거)"), max_length=300, blank=True)
    collection_method = models.CharField(_("collection method"), max_length=300, blank=True)
    data_kind = models.CharField(_("kind of data"), max_length=20, choices=DataKind.choices)
    licence = models.ForeignKey(Licence, null=True, blank=True, on_delete=models.PROTECT, verbose_name=_("licence"))
    data_limits = models.TextField(_("limits of the data (데이터 한계)"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Why personal data other than resident numbers may be published (e.g. 가명처리 완료); the reviewer reads it.
    pii_justification = models.TextField(_("personal data justification"), blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    EDITABLE_STATES = ("draft", "checking", "ready")

    class Meta:
        ordering = ["dataset", "-number"]
        verbose_name = _("dataset version")
        verbose_name_plural = _("dataset versions")
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="version_unique_number"),
            # At most one version of a dataset is being worked on, and at most one is live.
            models.UniqueConstraint(
                fields=["dataset"],
                condition=models.Q(
                    state__in=[
                        VersionState.DRAFT,
                        VersionState.CHECKING,
                        VersionState.READY,
                        VersionState.SUBMITTED,
                        VersionState.REJECTED,
                    ]
                ),
                name="version_one_open_per_dataset",
            ),
            models.UniqueConstraint(
                fields=["dataset"], condition=models.Q(state="published"), name="version_one_published_per_dataset"
            ),
            choices_constraint("state", VersionState, name="version_state_valid"),
            choices_constraint("data_kind", DataKind, name="version_data_kind_valid"),
        ]

    def __str__(self):
        return f"{self.title_ko} v{self.number}"

    @property
    def title(self):
        return _bilingual(self, "title")

    @property
    def description(self):
        return _bilingual(self, "description")

    @property
    def is_editable(self):
        return self.state in self.EDITABLE_STATES


def datafile_upload_to(instance, filename):
    """A storage name of our own: the uploader's name (any length, any characters) stays in original_name."""
    suffix = "".join(c for c in os.path.splitext(filename)[1].lower() if c.isalnum() or c == ".")[:10]
    return f"datasets/{instance.version.dataset_id}/v{instance.version.number}/{uuid.uuid4().hex}{suffix}"


class DataFileQuerySet(models.QuerySet):
    def needing_justification(self):
        """Files that passed with personal data: submitting their version needs a justification."""
        return self.filter(check_state=DataFile.Check.WARNING).exclude(pii_findings=[])


class CheckState(models.TextChoices):
    PENDING = "pending", _("Waiting for checks")
    RUNNING = "running", _("Checking")
    PASSED = "passed", _("Checks passed")
    WARNING = "warning", _("Passed with warnings")  # e.g. personal data that needs a justification
    BLOCKED = "blocked", _("Blocked: resident registration numbers found")
    FAILED = "failed", _("Check failed")


class DataFile(models.Model):
    """An uploaded file of a version (or a member of an uploaded ZIP) with its check results.

    A workbook (XLSX) with several non-empty sheets is one file whose members are its tables, one per
    sheet: rows with `sheet` set and no stored file of their own (the workbook is what is shipped),
    each with the schema, profile, preview and personal data of its sheet. A workbook with one table
    keeps it on its own row, like any file, with `sheet` naming the sheet it came from.
    """

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        TSV = "tsv", "TSV"
        XLSX = "xlsx", "XLSX"
        JSON = "json", "JSON"
        GEOJSON = "geojson", "GeoJSON"
        ZIP = "zip", "ZIP"

    Check = CheckState

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="files")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="members")
    # The file of the version this one was started from that this file continues: a file carried over into a
    # new version (the same stored object, `file` has the same name) or a file uploaded to replace one.
    # The review diff pairs files by it first.
    predecessor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("previous file")
    )
    # Several rows (a published file and its copies in later versions) may name one stored object: it is
    # deleted only when no row names it any more (catalog.services.checks.delete_unreferenced_on_commit).
    file = models.FileField(upload_to=datafile_upload_to, max_length=500)
    original_name = models.CharField(max_length=255)
    format = models.CharField(max_length=10, choices=Format.choices)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    check_state = models.CharField(max_length=20, choices=Check.choices, default=Check.PENDING)
    check_stage = models.CharField(max_length=40, blank=True)
    check_progress = models.PositiveSmallIntegerField(default=0)  # 0–100, shown while checking
    check_messages = models.JSONField(default=list, blank=True)  # [{"level", "code", "message"}]
    check_started_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    encoding = models.CharField(max_length=30, blank=True)
    delimiter = models.CharField(max_length=5, blank=True)
    row_count = models.PositiveBigIntegerField(null=True, blank=True)
    column_count = models.PositiveIntegerField(null=True, blank=True)
    table_schema = models.JSONField(null=True, blank=True)
    profile = models.JSONField(null=True, blank=True)
    preview = models.JSONField(null=True, blank=True)
    pii_findings = models.JSONField(default=list, blank=True)
    geo = models.JSONField(null=True, blank=True)  # GeoJSON: bbox (WGS84), CRS, geometry types
    # What the map draws, made by the checks and bounded (catalog.ingest.maps): {"kind": "points" | "grid" |
    # "features", …}. Deferred on pages; served by its own URL.
    map_layer = models.JSONField(null=True, blank=True)
    # The data dictionary the publisher writes, by column name (catalog.dictionary): {"<column>":
    # {"description_ko", "description_en", "unit", "codes": [{"code", "label_ko", "label_en"}]}}. Not in
    # table_schema, which every check rewrites; copied to a new version's files with the same columns.
    dictionary = models.JSONField(default=dict, blank=True)
    # XLSX, a table: the worksheet it was read from: {"name", "index" (0-based among the worksheets), "header_rows"
    # (1-based Excel rows of the header: two for a two-row header), "title" (a title row above it, or "")}; on a
    # workbook, also "empty": the names of its empty sheets (skipped); a workbook of several tables has only
    # {"tables": how many, "empty": [...]}.
    sheet = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)

    objects = DataFileQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("data file")
        verbose_name_plural = _("data files")
        # "Does another row still name this stored object?" before deleting it (carried files share objects).
        indexes = [models.Index(fields=["file"], name="datafile_file")]
        constraints = [
            choices_constraint("check_state", CheckState, name="datafile_check_state_valid"),
        ]

    def __str__(self):
        return self.original_name

    @property
    def is_sheet(self) -> bool:
        """A table read from one sheet of its parent workbook (it has no stored file of its own)."""
        return self.sheet is not None and self.parent_id is not None and not self.file

    @property
    def display_name(self) -> str:
        """The name a reader knows the table by: "workbook.xlsx › sheet" for a sheet's table."""
        return f"{self.parent.original_name} › {self.original_name}" if self.is_sheet else self.original_name

    @property
    def has_sheet_tables(self) -> bool:
        """A workbook whose tables (several sheets) are its members rather than on this row."""
        return bool((self.sheet or {}).get("tables")) and self.format == self.Format.XLSX

    @property
    def is_checked(self):
        return self.check_state in (self.Check.PASSED, self.Check.WARNING, self.Check.BLOCKED, self.Check.FAILED)

    @property
    def column_names(self) -> list[str]:
        return [f["name"] for f in (self.table_schema or {}).get("fields") or []]

    @property
    def columns_described(self) -> int:
        """How many of the file's columns have an entry in its data dictionary."""
        names = set(self.column_names)
        return sum(1 for name, entry in (self.dictionary or {}).items() if name in names and entry)

    @property
    def is_carried(self):
        """Carried over unchanged from the previous version: the same stored bytes as its predecessor."""
        return self.predecessor_id is not None and self.predecessor.file.name == self.file.name


class DerivedKind(models.TextChoices):
    EXCEL = "excel", _("Copy for Excel")
    UTF8 = "utf8", _("UTF-8 copy")


class DerivedFile(models.Model):
    """A copy of a published data file made once and reused by every package of its version
    (catalog.derived): the Excel copy of a CSV/TSV (UTF-8 with a BOM, formula cells neutralised) or the
    UTF-8 copy of a JSON/GeoJSON stored in another encoding. Kept in private storage as one raw DEFLATE
    stream (level 1) with the CRC-32 and sizes a ZIP member needs, so a package copies its bytes instead
    of decoding, scanning and compressing the file again. Built under a lease (`lease`, `leased_until`)
    by whichever comes first, the publication's task or a package; `built_at` set means ready."""

    Kind = DerivedKind

    datafile = models.ForeignKey(DataFile, on_delete=models.CASCADE, related_name="derived_files")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file = models.FileField(max_length=500, blank=True)  # the raw DEFLATE stream; empty when same_as_original
    size = models.PositiveBigIntegerField(null=True, blank=True)  # of the copy itself (uncompressed)
    sha256 = models.CharField(max_length=64, blank=True)  # of the copy itself
    crc32 = models.PositiveBigIntegerField(null=True, blank=True)
    compressed_size = models.PositiveBigIntegerField(null=True, blank=True)
    compressed_sha256 = models.CharField(max_length=64, blank=True)  # of the stored stream: checked when copied
    formula_cells = models.PositiveBigIntegerField(null=True, blank=True)  # Excel copy: cells given an apostrophe
    # The copy would be the original byte for byte (a UTF-8 file with a BOM and no formula-looking cell):
    # nothing is stored and the package says the original is the one to open in Excel.
    same_as_original = models.BooleanField(default=False)
    lease = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("derived copy of a data file")
        verbose_name_plural = _("derived copies of data files")
        constraints = [
            models.UniqueConstraint(fields=["datafile", "kind"], name="derivedfile_one_per_kind"),
            choices_constraint("kind", DerivedKind, name="derivedfile_kind_valid"),
        ]

    def __str__(self):
        return f"{self.datafile} ({self.kind})"

    @property
    def ready(self) -> bool:
        return self.built_at is not None


class OfferKind(models.TextChoices):
    FREE = "free", _("Free")
    ONE_OFF = "one_off", _("One-off purchase")
    SUBSCRIPTION = "subscription", _("Subscription")
    # Issue 16: access to the data API (transactions.apiplans).
    API_DEV = "api_dev", _("API development plan")  # free, a daily call quota, active at once
    API_METERED = "api_metered", _("API metered plan")  # a price per 1,000 calls, the buyer's monthly cap
    API_SUBSCRIPTION = "api_subscription", _("API subscription")  # a flat monthly price with a rate limit


API_OFFER_KINDS = (OfferKind.API_DEV, OfferKind.API_METERED, OfferKind.API_SUBSCRIPTION)


class Offer(models.Model):
    """How a dataset is offered. Prices are integer KRW excluding VAT; enforced by the purchase flow."""

    Kind = OfferKind

    class Contract(models.TextChoices):
        """The four types of the 데이터 표준계약서 (MSIT, 2024), for 민간·가공 데이터."""

        PROVISION = "provision", _("Data provision (제공형)")
        CREATION = "creation", _("Data creation (창출형)")
        PROCESSING = "processing", _("Processing service (가공서비스형)")
        BROKERAGE = "brokerage", _("Brokered trade (중개거래형)")

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="offers")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    price_krw = models.PositiveBigIntegerField(default=0)
    subscription_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # 공공데이터: the basis of a cost-recovery fee (비용부과기준 및 단위).
    cost_basis = models.TextField(blank=True)
    # 민간·가공 데이터: the standard-contract type the sale follows.
    contract_type = models.CharField(max_length=20, choices=Contract.choices, blank=True)
    # Which law's pricing rule was applied when the offer was made, for the reviewer.
    rule = models.CharField(max_length=40, blank=True)
    # A one-off offer may be for one version; empty means "the latest published version at purchase".
    version = models.ForeignKey(DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="offers")
    # A private offer: a custom price or terms for one named buyer organization, invisible to everyone else.
    buyer = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="private_offers"
    )
    terms = models.TextField(blank=True)  # extra terms of a private offer, shown at checkout and snapshotted
    # The provider accepts the 데이터바우처 for this offer (registered as a voucher product): a buyer with a verified
    # voucher may pay part of it with the voucher at checkout. Shown to the reviewer and on the dataset page.
    voucher_eligible = models.BooleanField(default=False)
    # API plans (issue 16): the development plan's calls a day, the subscription's calls a minute, the metered
    # plan's price per 1,000 calls (공급가액, KRW; VAT by the publisher's status as any price).
    daily_quota = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    price_per_1000_krw = models.PositiveBigIntegerField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        constraints = [
            choices_constraint("kind", OfferKind, name="offer_kind_valid"),
            models.CheckConstraint(
                condition=~models.Q(kind="free") | models.Q(price_krw=0), name="offer_free_has_no_price"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="free") | models.Q(voucher_eligible=False), name="offer_free_not_voucher"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="subscription") | models.Q(subscription_days__in=[30, 90, 365]),
                name="offer_subscription_period",
            ),
            # API plans: the development plan is free with a quota; metered has a price per 1,000 calls and
            # nothing up front; the subscription is 30 days at a time with a rate limit.
            models.CheckConstraint(
                condition=~models.Q(kind="api_dev") | models.Q(price_krw=0, daily_quota__gt=0),
                name="offer_api_dev_free_with_quota",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="api_metered") | models.Q(price_krw=0, price_per_1000_krw__gt=0),
                name="offer_api_metered_priced_per_call",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="api_subscription")
                | models.Q(subscription_days=30, rate_limit_per_minute__gt=0),
                name="offer_api_subscription_monthly",
            ),
        ]

    def __str__(self):
        return f"offer {self.pk} of dataset {self.dataset_id} ({self.kind}, {self.price_krw:,} KRW)"


class CatalogEntry(models.Model):
    """What buyers can find: one row per actively listed dataset with a published version.

    The search index of the catalog (catalog.search, catalog.discovery): the stored search vector, every
    facet as a column (for display and sorting) and as a key in `facet_keys`, so a search with its filters
    is one GIN index scan and its facets one pass over the matching rows, without joins. Rows are written only by
    catalog.services.catalog_entry_refresh, which deletes the row when the dataset stops being visible;
    drafts, rejected, withdrawn and suspended datasets have no row, so no query can show them.
    """

    dataset = models.OneToOneField(Dataset, primary_key=True, on_delete=models.CASCADE, related_name="entry")
    version = models.OneToOneField(DatasetVersion, on_delete=models.CASCADE, related_name="entry")
    title_ko = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200, blank=True)
    publisher = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    theme = models.ForeignKey(Theme, on_delete=models.PROTECT, related_name="+")
    licence = models.ForeignKey(Licence, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    formats = ArrayField(models.CharField(max_length=10), default=list, blank=True)
    price_types = ArrayField(models.CharField(max_length=20), default=list, blank=True)  # free / paid / subscription
    # The public offers' prices for the result lines, excluding VAT (공급가액; the line adds VAT by the publisher's
    # status, catalog.pricing): the lowest one-off offer, and the lowest subscription price of each period as
    # [[days, won], …] by days. Written by catalog_entry_refresh with the offers (catalog.pricing.entry_prices).
    price_from_krw = models.PositiveBigIntegerField(null=True, blank=True)
    subscription_prices = models.JSONField(default=list, blank=True)
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    update_cadence = models.CharField(max_length=20, blank=True)
    area = models.CharField(max_length=60, blank=True)  # 시·도 + 시·군·구 of the spatial coverage
    published_at = models.DateTimeField()
    download_count = models.PositiveBigIntegerField(default=0)
    search_vector = SearchVectorField(null=True)
    # Every facet value as a key ("t:3" theme, "a:경기도 시흥시" area, "g:CCTV" tag, …; catalog.search.facet_keys),
    # plus "~" on a fixed 1 % sample. One GIN index over the vector and these keys answers a search with all of
    # its filters (and its sample) as one index scan: no heap row is read that does not match everything.
    facet_keys = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    # Buckets of the sort keys ("d:7": 127–254 downloads, "n:202611": published in November 2026; catalog.search.
    # sort_keys; "s3:17": the 18th title bucket of TitleBucketSet 3) in the same index: a page of a large search
    # reads only the matches in the buckets that can hold it, a prefix of the order (catalog.discovery._bucket_route).
    sort_keys = ArrayField(models.CharField(max_length=12), default=list, blank=True)

    class Meta:
        verbose_name = _("catalog entry")
        verbose_name_plural = _("catalog entries")
        indexes = [
            GinIndex(fields=["search_vector", "facet_keys", "sort_keys"], name="entry_search_gin"),
            # The same keys of the entries of each fixed sample (settings.CATALOG_SAMPLE_LEVELS' defaults, catalog.
            # search.in_sample) alone: an estimate's statement (the words AND the filters AND "~100") reads the
            # sample's posting lists, not the whole catalog's — a word in 50,000 entries has 500 of them here.
            # The planner takes one when the statement carries its sample key as a constant (discovery._counts
            # does); with other levels configured they go unused and searches read entry_search_gin as before.
            *(
                GinIndex(
                    fields=["search_vector", "facet_keys", "sort_keys"],
                    name=f"entry_sample_{modulus}",
                    condition=models.Q(facet_keys__contains=[f"~{modulus}"]),
                )
                for modulus in SAMPLE_INDEX_LEVELS
            ),
            # The sort orders, ending in the primary key like the orders themselves (catalog.discovery.SORT_ORDER):
            # a page without filters is an index-only scan, however deep.
            models.Index(fields=["-published_at", "dataset"], name="entry_newest"),
            models.Index(fields=["-download_count", "-published_at", "dataset"], name="entry_popular"),
            models.Index(fields=["title_ko", "dataset"], name="entry_title"),
            models.Index(fields=["theme", "-published_at"], name="entry_theme"),
            models.Index(fields=["publisher", "-published_at"], name="entry_publisher"),
            models.Index(fields=["area", "-published_at"], name="entry_area"),
            models.Index(fields=["update_cadence", "-published_at"], name="entry_cadence"),
            models.Index(fields=["licence", "-published_at"], name="entry_licence"),
        ]

    def __str__(self):
        return self.title_ko

    @property
    def title(self):
        return _bilingual(self, "title")


class TitleBucketSet(models.Model):
    """Edges splitting the catalog's title order into buckets, so that a large search in title order reads only its
    matches in the buckets up to its page (catalog.discovery._bucket_route), as popularity and newest do with their
    buckets. An entry's key "s<set>:<n>" (CatalogEntry.sort_keys) is how many of the set's edges come at or before its
    title, compared by PostgreSQL with the column's collation: the buckets follow what ORDER BY title_ko gives,
    whatever the database's locale. Built by catalog.services.title_buckets.title_buckets_build; it serves searches
    once `complete` (every entry carries its key)."""

    complete = models.BooleanField(default=False)
    entries = models.PositiveIntegerField(default=0)  # the catalog's size when built
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("title bucket set")
        verbose_name_plural = _("title bucket sets")

    def __str__(self):
        return f"title buckets {self.pk}{'' if self.complete else ' (building)'}"


class TitleBucketEdge(models.Model):
    bucket_set = models.ForeignKey(TitleBucketSet, on_delete=models.CASCADE, related_name="edges")
    title = models.CharField(max_length=200)

    class Meta:
        indexes = [models.Index(fields=["bucket_set", "title"], name="title_edge_lookup")]

    def __str__(self):
        return self.title


class Review(models.Model):
    """One decision about a version (submit, approve, reject, suspend, reinstate, withdraw). Append-only."""

    class Action(models.TextChoices):
        SUBMIT = "submit", _("Submitted")
        APPROVE = "approve", _("Approved")
        REJECT = "reject", _("Rejected")
        SUSPEND = "suspend", _("Suspended")
        REINSTATE = "reinstate", _("Reinstated")
        WITHDRAW = "withdraw", _("Withdrawn")

    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="reviews")
    action = models.CharField(max_length=20, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")

    def __str__(self):
        return f"{self.action} of version {self.version_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Review decisions are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Review decisions are append-only")


class UploadState(models.TextChoices):
    UPLOADING = "uploading", _("Uploading")
    COMPLETE = "complete", _("Complete")
    ABORTED = "aborted", _("Cancelled")


class Upload(models.Model):
    """A resumable (tus) upload in progress: each PATCH's bytes become one staged chunk in the shared storage
    (UploadChunk), so any web node can continue it.

    One request at a time sends bytes: it holds the lease (a token and its expiry, claimed by compare-and-set and
    renewed while the bytes arrive); a lease whose request died expires after UPLOAD_LEASE_SECONDS. When the last
    byte arrives the chunks become one DataFile in storage and checks start.
    """

    State = UploadState

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="uploads")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(max_length=255)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.UPLOADING)
    datafile = models.OneToOneField(DataFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="upload")
    # The file of the version this upload replaces when it completes (the "Replace" button of a file).
    replaces = models.ForeignKey(DataFile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The request sending bytes now (catalog.services.uploads.upload_append), and until when its claim holds.
    lease = models.UUIDField(null=True, blank=True, editable=False)
    lease_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(offset__lte=models.F("length")), name="upload_offset_within_length"
            ),
            choices_constraint("state", UploadState, name="upload_state_valid"),
        ]

    def __str__(self):
        return f"{self.filename} ({self.offset}/{self.length})"


class UploadChunk(models.Model):
    """The bytes of one PATCH of a resumable upload, staged in the default storage under `name`
    (staging/uploads/<upload>/<offset>-<request>): bytes [offset, offset + size) of the file. Recorded in the same short
    transaction that moves the upload's offset; the chunks are joined into the DataFile when the last one arrives
    and deleted then, or when the upload is cancelled or expires."""

    upload = models.ForeignKey(Upload, on_delete=models.CASCADE, related_name="chunks")
    offset = models.PositiveBigIntegerField()
    size = models.PositiveBigIntegerField()
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["upload", "offset"], name="uploadchunk_one_per_offset"),
            models.CheckConstraint(condition=models.Q(size__gt=0), name="uploadchunk_not_empty"),
        ]
        ordering = ["upload", "offset"]

    def __str__(self):
        return f"{self.name} ({self.size})"


from catalog.harvest.models import (  # noqa: E402,F401  (models of catalog/harvest)
    ExternalResource,
    HarvestedDataset,
    HarvestRecord,
    HarvestRun,
    HarvestSource,
)
from catalog.live.models import LiveBatch, LiveRow, LiveTable  # noqa: E402,F401  (models of catalog/live)
from catalog.querystore.models import QueryStore, QueryTable  # noqa: E402,F401  (models of catalog/querystore)
