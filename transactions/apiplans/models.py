"""API plans and their usage (issue 16).

An `ApiPlan` is what an API offer (catalog.models.OfferKind api_dev / api_metered / api_subscription) gives an
organization once its order line is paid (free for the development and metered plans): one per entitlement,
with the offer's terms copied (quota, rate limit, price per 1,000 calls), and for a metered plan the monthly cap
the buyer set. `ApiUsage` holds the calls counted by transactions.dataapi.metering, persisted from Redis every
minute per (organization, plan, dataset, table, day); `ApiUsageFlush` makes each persisted batch count once;
`ApiBill` ties a metered plan's month to the order that bills it (once per plan and month).
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Dataset, OfferKind
from core.db import choices_constraint

API_KINDS = (OfferKind.API_DEV, OfferKind.API_METERED, OfferKind.API_SUBSCRIPTION)


class ApiPlanState(models.TextChoices):
    ACTIVE = "active", _("Active")
    CANCELLED = "cancelled", _("Cancelled")  # by the buyer (or replaced by another plan of the dataset)
    ENDED = "ended", _("Ended")  # the period paid for is over, or the order line was refunded


class ApiPlan(models.Model):
    State = ApiPlanState

    entitlement = models.OneToOneField("transactions.Entitlement", on_delete=models.PROTECT, related_name="api_plan")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="api_plans")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=[(k.value, k.label) for k in API_KINDS])
    daily_quota = models.PositiveIntegerField(null=True, blank=True)  # development plan
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)  # subscription plan
    price_per_1000_krw = models.PositiveBigIntegerField(default=0)  # metered plan: 공급가액 per 1,000 calls
    monthly_cap_krw = models.PositiveBigIntegerField(null=True, blank=True)  # metered plan: set by the buyer
    state = models.CharField(max_length=20, choices=ApiPlanState.choices, default=ApiPlanState.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API plan")
        verbose_name_plural = _("API plans")
        constraints = [
            choices_constraint("state", ApiPlanState, name="apiplan_state_valid"),
            models.CheckConstraint(condition=Q(kind__in=[k.value for k in API_KINDS]), name="apiplan_kind_valid"),
            # One plan meters an organization's calls to a dataset: taking another ends the one before.
            models.UniqueConstraint(
                fields=["organization", "dataset"], condition=Q(state="active"), name="apiplan_one_active"
            ),
            models.CheckConstraint(
                condition=~Q(kind="api_metered") | Q(monthly_cap_krw__isnull=False, price_per_1000_krw__gt=0),
                name="apiplan_metered_has_cap_and_price",
            ),
            models.CheckConstraint(condition=~Q(kind="api_dev") | Q(daily_quota__gt=0), name="apiplan_dev_has_quota"),
            models.CheckConstraint(
                condition=~Q(kind="api_subscription") | Q(rate_limit_per_minute__gt=0),
                name="apiplan_subscription_has_rate",
            ),
        ]

    def __str__(self):
        return f"{self.kind} plan {self.pk} of organization {self.organization_id} for dataset {self.dataset_id}"

    @property
    def monthly_call_cap(self) -> int | None:
        """A metered plan's calls a month within its cap: calls × price / 1,000 (rounded down) stays ≤ the cap."""
        if self.kind != OfferKind.API_METERED or not self.price_per_1000_krw:
            return None
        return int(self.monthly_cap_krw or 0) * 1000 // int(self.price_per_1000_krw)


class ApiUsage(models.Model):
    """Calls of one organization (none: anonymous) under one plan (none: the default allowance) to one table of a
    dataset on one day (Asia/Seoul). Only increased, by transactions.apiplans.services.usage_flush."""

    organization = models.ForeignKey(Organization, null=True, on_delete=models.CASCADE, related_name="+")
    plan = models.ForeignKey(ApiPlan, null=True, on_delete=models.CASCADE, related_name="usage")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+")
    table = models.CharField(max_length=63)  # a table name, or "sql" for SQL calls
    day = models.DateField()
    calls = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)  # calls answered with a status ≥ 400
    bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day", "dataset_id", "table"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "plan", "dataset", "table", "day"],
                name="apiusage_one_row",
                nulls_distinct=False,
            )
        ]
        indexes = [models.Index(fields=["dataset", "day"], name="apiusage_dataset_day")]

    def __str__(self):
        return f"{self.calls} calls to {self.dataset_id}/{self.table} on {self.day}"


class ApiUsageFlush(models.Model):
    """A batch of Redis usage counters persisted (its Redis key name): inserted in the transaction that adds the
    batch to ApiUsage, so a batch is added once however often (or concurrently) the flush runs, and never lost."""

    batch = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.batch


class ApiBill(models.Model):
    """The order that bills a metered plan's calls of one month (made on the 1st of the next month, once)."""

    plan = models.ForeignKey(ApiPlan, on_delete=models.PROTECT, related_name="bills")
    month = models.DateField()  # the first day of the month billed
    calls = models.PositiveBigIntegerField()
    amount_krw = models.PositiveBigIntegerField()  # 공급가액: calls × price / 1,000, rounded down
    order = models.OneToOneField("transactions.Order", null=True, on_delete=models.PROTECT, related_name="api_bill")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "-id"]
        constraints = [models.UniqueConstraint(fields=["plan", "month"], name="apibill_once_per_month")]

    def __str__(self):
        return f"bill of plan {self.plan_id} for {self.month:%Y-%m}"
