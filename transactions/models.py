"""Purchases: carts, orders with price snapshots, payments, licence acceptances, entitlements,
packages built by the workers, and the download log.

States move only through `transactions.states.transition` (tables below); money is integer KRW;
an order line keeps its own copy of the offer's price, VAT and licence terms, so later changes to an
offer never touch an order already placed.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from catalog.models import Dataset, DatasetVersion, Licence, Offer
from core.db import choices_constraint


class Cart(models.Model):
    """A buyer's cart for one organization (a user buying for two companies has two carts)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="carts")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="carts")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="cart_one_per_user_org")]

    def __str__(self):
        return f"cart of user {self.user_id} for organization {self.organization_id}"


class CartItem(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="+")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [models.UniqueConstraint(fields=["cart", "offer"], name="cartitem_offer_once")]

    def __str__(self):
        return f"offer {self.offer_id} in cart {self.cart_id}"


class OrderState(models.TextChoices):
    PENDING = "pending", _("Placed")  # created at checkout, payment not started
    AWAITING_PAYMENT = "awaiting_payment", _("Awaiting payment")  # card checkout opened, or bank transfer expected
    PAID = "paid", _("Paid")  # a payment is confirmed; entitlements exist, packages are being built
    FULFILLED = "fulfilled", _("Delivered")  # every package is ready
    CANCELLED = "cancelled", _("Cancelled")  # by the buyer, or automatically when unpaid in time
    REFUNDED = "refunded", _("Refunded")  # fully refunded (partial refunds keep the state: see Refund rows)


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card (online payment)")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer (무통장입금)")
    FREE = "free", _("Free order")


class Order(models.Model):
    State = OrderState

    Method = PaymentMethod

    id = models.BigAutoField(primary_key=True)
    # Shown to the buyer and sent to the PG as orderId (6–64 characters of [A-Za-z0-9_-]).
    number = models.CharField(max_length=64, unique=True)
    # One checkout form submission makes one order, however often it is submitted (double click, reload).
    checkout_token = models.UUIDField(unique=True, default=uuid.uuid4)
    buyer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="orders")
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    method = models.CharField(max_length=20, choices=Method.choices)

    supply_krw = models.PositiveBigIntegerField(default=0)  # 공급가액
    vat_krw = models.PositiveBigIntegerField(default=0)  # 부가세
    total_krw = models.PositiveBigIntegerField(default=0)  # 합계
    tax_free_krw = models.PositiveBigIntegerField(default=0)  # part of the total without VAT (면세 suppliers)
    # What was refunded is never a column: it is the sum of the order's `done` Refund rows (`refunded_krw` below).
    # The part of the total a 데이터바우처 pays (a receivable from the voucher agency, transactions.vouchers); the
    # buyer pays the rest (`due_krw`) by card or bank transfer. Never the whole total (the co-payment is over 0).
    voucher_krw = models.PositiveBigIntegerField(default=0)

    # Billing details as given at checkout (the organization's may change later).
    billing_name = models.CharField(_("billing name"), max_length=200)
    billing_brn = models.CharField(_("business registration number"), max_length=12, blank=True)
    billing_email = models.EmailField(_("billing e-mail"))
    billing_phone = models.CharField(_("billing phone"), max_length=30, blank=True)
    billing_address = models.CharField(_("billing address"), max_length=300, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    payment_due_at = models.DateTimeField(null=True, blank=True)  # unpaid after this → cancelled automatically
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            choices_constraint("state", OrderState, name="order_state_valid"),
            choices_constraint("method", PaymentMethod, name="order_method_valid"),
            models.CheckConstraint(
                condition=Q(total_krw=models.F("supply_krw") + models.F("vat_krw")), name="order_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(voucher_krw=0) | Q(voucher_krw__lt=models.F("total_krw")),
                name="order_voucher_below_total",
            ),
        ]
        indexes = [
            models.Index(fields=["buyer", "-created_at"], name="order_buyer_recent"),
            models.Index(fields=["state", "payment_due_at"], name="order_state_due"),
        ]

    def __str__(self):
        return self.number

    @property
    def due_krw(self) -> int:
        """What the buyer itself pays (card or bank transfer): the total less the voucher's part. Every amount
        sent to or checked against a PG or a deposit is this one."""
        return self.total_krw - self.voucher_krw

    def due_tax_free_krw(self) -> int:
        """The tax-free part of `due_krw` (the PG's taxFreeAmount): the 면세 lines less what the voucher pays of them."""
        if not self.voucher_krw:
            return self.tax_free_krw
        covered = sum(item.voucher_krw for item in self.items.all() if item.tax_free)
        return max(0, self.tax_free_krw - covered)

    @property
    def refunded_krw(self) -> int:
        """What was given back: the sum of the order's done refunds (never more than the total: the refund
        services check it with the order locked). A list may annotate `refunded_krw_sum` to spare the query."""
        annotated = getattr(self, "refunded_krw_sum", None)
        if annotated is not None:
            return int(annotated)
        if self.pk is None:
            return 0
        total = self.refunds.filter(state=RefundState.DONE).aggregate(total=models.Sum("amount_krw"))["total"]
        return int(total or 0)


class OrderItem(models.Model):
    """One line of an order: a snapshot of the offer, its price and VAT, and the licence terms at order time."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    offer = models.ForeignKey(Offer, null=True, on_delete=models.SET_NULL, related_name="+")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    # One-off: the version bought (the offer's own, or the latest published at purchase). Subscription: null.
    version = models.ForeignKey(DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    seller = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sales")
    kind = models.CharField(max_length=20, choices=Offer.Kind.choices)
    subscription_days = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.CharField(max_length=200)
    supply_krw = models.PositiveBigIntegerField()
    vat_krw = models.PositiveBigIntegerField()
    total_krw = models.PositiveBigIntegerField()
    tax_free = models.BooleanField(default=False)
    # What the order's voucher pays of this line (its share of Order.voucher_krw; 0 for a line not eligible).
    voucher_krw = models.PositiveBigIntegerField(default=0)
    licence = models.ForeignKey(Licence, null=True, on_delete=models.PROTECT, related_name="+")
    # The terms as the buyer saw them: licence code/name/text digest, cost basis, contract type, law rule,
    # private terms. Kept whatever happens to the offer or licence later.
    terms = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_krw=models.F("supply_krw") + models.F("vat_krw")), name="orderitem_total_adds_up"
            ),
            models.CheckConstraint(
                condition=Q(voucher_krw__lte=models.F("total_krw")), name="orderitem_voucher_within_total"
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.kind})"


class LicenceAcceptance(models.Model):
    """Who accepted which licence text for which order line, when and from where. Append-only."""

    order_item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="acceptances")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    licence = models.ForeignKey(Licence, null=True, on_delete=models.PROTECT, related_name="+")
    licence_code = models.CharField(max_length=60)
    # The licence "version": SHA-256 of the exact text shown (Korean and English), so a later edit is a new version.
    licence_sha256 = models.CharField(max_length=64)
    accepted_at = models.DateTimeField()
    ip = models.GenericIPAddressField(null=True, blank=True)

    def __str__(self):
        return f"{self.licence_code or 'licence'} accepted for order line {self.order_item_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Licence acceptances are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Licence acceptances are append-only")


class PaymentState(models.TextChoices):
    READY = "ready", _("Waiting for the payer")  # card checkout opened / bank transfer expected
    # The PG is being asked to take the money (card): the key and Idempotency-Key are recorded first, so a
    # request that dies mid-call leaves a row the reconciliation task finishes (transactions.payments.services).
    CONFIRMING = "confirming", _("Being confirmed")
    DONE = "done", _("Paid")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


class Payment(models.Model):
    """One attempt to pay an order through one adapter. At most one per order ends `done` (a constraint)."""

    State = PaymentState

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    method = models.CharField(max_length=20, choices=Order.Method.choices)
    adapter = models.CharField(max_length=20)  # toss, portone, bank
    state = models.CharField(max_length=20, choices=State.choices, default=State.READY)
    amount_krw = models.PositiveBigIntegerField()
    # The PG's key of the payment (Toss paymentKey / PortOne paymentId); unique so one PG payment maps to one row.
    payment_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True)  # sent with the confirm call
    gateway_status = models.CharField(max_length=40, blank=True)
    gateway_response = models.JSONField(default=dict, blank=True)
    failure_code = models.CharField(max_length=80, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    # Bank transfer: who paid in, and the admin who confirmed the deposit.
    depositor_name = models.CharField(max_length=100, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the request now asking the PG started (a lease: others do not ask again meanwhile); empty while
    # `confirming` when that request ended without an answer (the PG unreachable), so anyone may ask again.
    confirm_started_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(state="done"), name="payment_one_done_per_order"),
            choices_constraint("state", PaymentState, name="payment_state_valid"),
        ]

    def __str__(self):
        return f"{self.adapter} payment {self.pk} of order {self.order_id} ({self.amount_krw:,} KRW)"


class PaymentEvent(models.Model):
    """Everything a gateway told us or we asked it (redirects, confirms, webhooks, refusals). Append-only."""

    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="payment_events")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="events")
    kind = models.CharField(max_length=40)  # redirect_success, redirect_fail, confirm, webhook, amount_mismatch, ...
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.kind} (order {self.order_id})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Payment events are append-only")
        super().save(*args, **kwargs)


class SubscriptionState(models.TextChoices):
    # A period runs (or the next one is paid) and the buyer is reminded to renew before the last one ends.
    ACTIVE = "active", _("Renewal on")
    # The buyer turned renewal off: the periods paid run to their end, no reminder, then it ends.
    CANCELLED = "cancelled", _("Renewal cancelled")
    ENDED = "ended", _("Ended")  # the last period ended without a renewal (a new purchase makes it active again)


class Subscription(models.Model):
    """An organization's subscription to a dataset: the chain of its paid periods (each an Entitlement of its
    own order line, `periods`) and whether it is meant to go on.

    One per (organization, dataset), not per offer: access is to the dataset, the periods chain without gap or
    overlap whichever offer paid for them, and a publisher replacing its offer does not split the history.
    `offer` is the offer last paid for, which "renew" offers again (if it is still offered; otherwise the page
    says so). Renewing is a new order at the price then in force, paid by the buyer through checkout: there is
    no stored card (billing key) to charge automatically.
    """

    State = SubscriptionState

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="subscriptions")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices, default=State.ACTIVE)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["organization", "dataset"], name="subscription_one_per_org_dataset"),
            choices_constraint("state", SubscriptionState, name="subscription_state_valid"),
        ]

    def __str__(self):
        return f"subscription of organization {self.organization_id} to dataset {self.dataset_id}"


class Entitlement(models.Model):
    """What an organization may download: one version (one-off, free) or every version published
    between valid_from and valid_until (subscription)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="entitlements")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="+")
    order_item = models.OneToOneField(OrderItem, on_delete=models.PROTECT, related_name="entitlement")
    kind = models.CharField(max_length=20, choices=Offer.Kind.choices)
    version = models.ForeignKey(DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    valid_from = models.DateTimeField()
    valid_until = models.DateTimeField(null=True, blank=True)  # null: no end (one-off, free)
    revoked_at = models.DateTimeField(null=True, blank=True)  # refunded
    # A subscription period: the subscription it is a period of, and when the expiry task ended it (its
    # packages expired, the buyer told). Access stops at valid_until whether or not the task ran yet.
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="periods"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "dataset"], name="entitlement_org_dataset"),
            # The expiry task's query: subscription periods past their end and not yet ended.
            models.Index(
                fields=["valid_until"],
                condition=Q(ended_at__isnull=True, valid_until__isnull=False),
                name="entitlement_to_end",
            ),
        ]

    def __str__(self):
        return f"{self.kind} entitlement of organization {self.organization_id} to dataset {self.dataset_id}"


class SubscriptionNoticeKind(models.TextChoices):
    REMINDER = "reminder", _("Renewal reminder")
    ENDED = "ended", _("Subscription ended")
    VERSION_READY = "version_ready", _("New version ready")


class SubscriptionNotice(models.Model):
    """An e-mail sent about a subscription period, recorded in the transaction that sends it (after commit):
    the unique constraints make it once per period (reminder, end) or once per period and version (a new
    version's package is ready), however often or concurrently the tasks run. Append-only."""

    Kind = SubscriptionNoticeKind

    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    version = models.ForeignKey(DatasetVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            choices_constraint("kind", SubscriptionNoticeKind, name="subscription_notice_kind_valid"),
            models.UniqueConstraint(
                fields=["entitlement", "kind"], condition=Q(version__isnull=True), name="subscription_notice_once"
            ),
            models.UniqueConstraint(
                fields=["entitlement", "kind", "version"],
                condition=Q(version__isnull=False),
                name="subscription_notice_once_per_version",
            ),
        ]

    def __str__(self):
        return f"{self.kind} notice of entitlement {self.entitlement_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Subscription notices are append-only")
        super().save(*args, **kwargs)


class PackageState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    BUILDING = "building", _("Building")
    READY = "ready", _("Ready to download")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class PackageQuerySet(models.QuerySet):
    def lease_expired(self, now=None):
        """Building packages whose heartbeat is older than PACKAGE_LEASE_SECONDS: their worker is gone."""
        cutoff = (now or timezone.now()) - timedelta(seconds=settings.PACKAGE_LEASE_SECONDS)
        return self.filter(state=PackageState.BUILDING).filter(
            Q(heartbeat_at__lt=cutoff)
            | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
            | Q(heartbeat_at__isnull=True, started_at__isnull=True)
        )


class Package(models.Model):
    """The ZIP a worker builds for one entitlement and version: data files, datapackage.json, licence,
    README and MANIFEST-SHA256."""

    State = PackageState

    entitlement = models.ForeignKey(Entitlement, on_delete=models.PROTECT, related_name="packages")
    version = models.ForeignKey(DatasetVersion, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=20, choices=State.choices, default=State.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # 0–100 while building
    file = models.FileField(max_length=500, blank=True)  # storage name of the ZIP
    size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)  # of the ZIP itself
    manifest = models.JSONField(default=dict, blank=True)  # {path in zip: sha256}
    attempts = models.PositiveSmallIntegerField(default=0)  # builds started since it was last queued by a person
    # When the last build message was sent (the housekeeping re-sends one only after STALE_QUEUED).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    # The lease of the attempt building it: a token of that attempt and the last time its worker said it
    # was alive. A build whose heartbeat is older than PACKAGE_LEASE_SECONDS lost its worker and is taken over.
    lease = models.UUIDField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # why the last attempt failed (shown to the buyer and admins)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    objects = PackageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        constraints = [
            models.UniqueConstraint(fields=["entitlement", "version"], name="package_one_per_entitlement_version"),
            choices_constraint("state", PackageState, name="package_state_valid"),
        ]

    def __str__(self):
        return f"package {self.pk} of version {self.version_id}"

    def lease_expired(self, now=None) -> bool:
        """A build whose heartbeat is older than PACKAGE_LEASE_SECONDS lost its worker (killed, machine gone)."""
        beat = self.heartbeat_at or self.started_at
        limit = (now or timezone.now()) - timedelta(seconds=settings.PACKAGE_LEASE_SECONDS)
        return beat is None or beat < limit


class DownloadEvent(models.Model):
    """Every download of a package: who, what, when, how many bytes, from where. Append-only."""

    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="downloads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    range_header = models.CharField(max_length=200, blank=True)
    status = models.PositiveSmallIntegerField()  # 200, 206, or the redirect/handoff code
    bytes_sent = models.PositiveBigIntegerField(default=0)  # updated when the stream ends
    completed = models.BooleanField(default=False)
    via = models.CharField(max_length=20)  # stream, x-accel, presigned
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"download of package {self.package_id} ({self.status})"


# --- The ledger (double entry, append-only) ---------------------------------------------------------------------


class LedgerAccountKind(models.TextChoices):
    """The accounts money moves between. Platform accounts have no organization; the others belong to one."""

    CASH = "cash", _("Cash held by the platform")  # platform: what buyers and the voucher agency paid in
    COMMISSION = "commission", _("Platform commission")  # platform: its income
    PROVIDER_PAYABLE = "provider_payable", _("Owed to the provider (supply)")  # provider: supply less commission
    PROVIDER_VAT = "provider_vat", _("Owed to the provider (VAT)")  # provider: the VAT it charged and must remit
    VOUCHER_RECEIVABLE = "voucher_receivable", _("Due from the voucher agency")  # platform
    REFUND_PAYABLE = "refund_payable", _("Refunds owed to the buyer")  # buyer: granted, not yet paid back
    # platform: the voucher part of refunds the agency had already paid for (to give back to it)
    VOUCHER_PAYABLE = "voucher_payable", _("Owed back to the voucher agency")


PLATFORM_ACCOUNTS = (
    LedgerAccountKind.CASH,
    LedgerAccountKind.COMMISSION,
    LedgerAccountKind.VOUCHER_RECEIVABLE,
    LedgerAccountKind.VOUCHER_PAYABLE,
)


class LedgerAccount(models.Model):
    Kind = LedgerAccountKind

    kind = models.CharField(max_length=24, choices=LedgerAccountKind.choices)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )

    class Meta:
        constraints = [
            choices_constraint("kind", LedgerAccountKind, name="ledger_account_kind_valid"),
            models.UniqueConstraint(fields=["kind", "organization"], name="ledger_account_once"),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(organization__isnull=True), name="ledger_platform_account_once"
            ),
            models.CheckConstraint(
                condition=Q(organization__isnull=True, kind__in=[k.value for k in PLATFORM_ACCOUNTS])
                | Q(organization__isnull=False) & ~Q(kind__in=[k.value for k in PLATFORM_ACCOUNTS]),
                name="ledger_account_owner_fits_kind",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.organization or 'platform'})"


class LedgerTransactionKind(models.TextChoices):
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")
    VOUCHER_SETTLEMENT = "voucher_settlement", _("Voucher settlement")
    REFUND_PAID = "refund_paid", _("Refund paid back")
    VOUCHER_REPAID = "voucher_repaid", _("Voucher part paid back to the agency")
    PAYOUT = "payout", _("Payout")
    CORRECTION = "correction", _("Correction")


class LedgerTransaction(models.Model):
    """One event's movement of money: entries that sum to zero (a deferred trigger refuses any other commit).
    Never edited or deleted (a trigger refuses it): a correction is a new transaction."""

    Kind = LedgerTransactionKind

    kind = models.CharField(max_length=24, choices=LedgerTransactionKind.choices)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            choices_constraint("kind", LedgerTransactionKind, name="ledger_transaction_kind_valid"),
            # A payment is booked once, whatever retries or double confirmations happen.
            models.UniqueConstraint(fields=["payment"], condition=Q(kind="payment"), name="ledger_payment_booked_once"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class LedgerEntry(models.Model):
    """A debit (positive) or credit (negative) of one account within one transaction, in whole won; the order
    line it concerns when there is one (so refunds and statements can be traced per dataset)."""

    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(LedgerAccount, on_delete=models.PROTECT, related_name="entries")
    amount_krw = models.BigIntegerField()
    order_item = models.ForeignKey(OrderItem, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount_krw=0), name="ledger_entry_not_zero")]

    def __str__(self):
        return f"{self.account}: {self.amount_krw:+,} KRW"


# --- The data voucher (데이터바우처) ------------------------------------------------------------------------------


class VoucherState(models.TextChoices):
    REGISTERED = "registered", _("Awaiting verification")  # the buyer organization entered its agreement
    VERIFIED = "verified", _("Verified")  # a platform admin checked the agreement: usable at checkout in its period
    REJECTED = "rejected", _("Rejected")  # the agreement could not be confirmed (the reason is kept)


class Voucher(models.Model):
    """A buyer organization's 데이터바우처 agreement (MSIT / K-DATA): an amount granted for a period, of which the
    voucher pays at most (100 − copay_percent) % of the eligible lines of an order; the agency pays the platform
    later (VoucherSettlement). The balance is `granted_krw − used_krw`; `used_krw` is the sum of the uses not
    released less what refunds returned of them (VoucherUse.returned_krw), changed only with this row locked, and a CHECK keeps it within the amount granted."""

    State = VoucherState

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="vouchers")
    agreement_number = models.CharField(_("agreement number (협약번호)"), max_length=60)
    granted_krw = models.PositiveBigIntegerField(_("amount granted (won)"))
    used_krw = models.PositiveBigIntegerField(default=0)
    copay_percent = models.PositiveSmallIntegerField(_("own share (자부담, %)"))
    starts_on = models.DateField(_("valid from"))
    ends_on = models.DateField(_("valid until"))
    state = models.CharField(max_length=20, choices=State.choices, default=State.REGISTERED)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("data voucher")
        verbose_name_plural = _("data vouchers")
        constraints = [
            choices_constraint("state", VoucherState, name="voucher_state_valid"),
            models.CheckConstraint(condition=Q(granted_krw__gt=0), name="voucher_granted_positive"),
            # The balance never goes below zero, whatever the code above it does.
            models.CheckConstraint(
                condition=Q(used_krw__lte=models.F("granted_krw")), name="voucher_used_within_grant"
            ),
            models.CheckConstraint(
                condition=Q(copay_percent__gte=1, copay_percent__lte=99), name="voucher_copay_range"
            ),
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="voucher_period_order"),
            # One live registration per agreement (a rejected one may be registered again, corrected).
            models.UniqueConstraint(
                fields=["agreement_number"], condition=~Q(state="rejected"), name="voucher_agreement_once"
            ),
        ]

    def __str__(self):
        return f"voucher {self.agreement_number} of organization {self.organization_id}"

    @property
    def balance_krw(self) -> int:
        return self.granted_krw - self.used_krw

    def in_period(self, day=None) -> bool:
        day = day or timezone.localdate()
        return self.starts_on <= day <= self.ends_on


class VoucherSettlement(models.Model):
    """The voucher agency paid the platform for some orders of one voucher (recorded by a platform admin): one
    `voucher_settlement` ledger transaction per order (Dr cash / Cr voucher_receivable per line)."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="settlements")
    paid_on = models.DateField()
    reference = models.CharField(max_length=100)  # the agency's transfer reference
    amount_krw = models.PositiveBigIntegerField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-paid_on", "-id"]
        constraints = [models.CheckConstraint(condition=Q(amount_krw__gt=0), name="voucher_settlement_positive")]

    def __str__(self):
        return f"settlement {self.reference} of voucher {self.voucher_id} ({self.amount_krw:,} KRW)"


class VoucherUse(models.Model):
    """What a voucher pays of one order: reserved at checkout, released if the order is cancelled unpaid, settled
    when the agency pays for it."""

    voucher = models.ForeignKey(Voucher, on_delete=models.PROTECT, related_name="uses")
    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="voucher_use")
    amount_krw = models.PositiveBigIntegerField()
    # What refunds of the paid order gave back to the voucher's balance (their voucher share; never above amount).
    returned_krw = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)  # the order was cancelled: back on the balance
    settlement = models.ForeignKey(
        VoucherSettlement, null=True, blank=True, on_delete=models.PROTECT, related_name="uses"
    )

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_krw__gt=0), name="voucher_use_positive"),
            models.CheckConstraint(
                condition=Q(returned_krw__lte=models.F("amount_krw")), name="voucher_use_returned_within_amount"
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | Q(settlement__isnull=True),
                name="voucher_use_released_or_settled",
            ),
        ]

    def __str__(self):
        return f"{self.amount_krw:,} KRW of voucher {self.voucher_id} for order {self.order_id}"


# --- Refunds (pretix-style: rows, never an edited total) -------------------------------------------------------


class RefundState(models.TextChoices):
    CREATED = "created", _("Recorded")  # the intent, with its Idempotency-Key; nothing sent yet (bank: to transfer)
    # Card: the PG is being asked to cancel (or its answer was lost: the reconciliation asks again, same key).
    TRANSMITTED = "transmitted", _("Sent to the payment company")
    DONE = "done", _("Refunded")  # the money is back: booked in the ledger, access to fully refunded lines ended
    FAILED = "failed", _("Failed")  # the PG refused (failure_message says why): nothing changed


class RefundSource(models.TextChoices):
    ADMIN = "admin", _("Platform admin")
    BUYER = "buyer", _("Buyer's request")


class RefundRequestState(models.TextChoices):
    REQUESTED = "requested", _("Waiting for a decision")
    APPROVED = "approved", _("Approved")
    REFUSED = "refused", _("Refused")


class RefundRequestKind(models.TextChoices):
    # 전자상거래법 제17조①: within REFUND_WINDOW_DAYS of payment, for lines nobody has downloaded yet.
    CHANGE_OF_MIND = "change_of_mind", _("Withdrawal (change of mind)")
    # 제17조③: data not as described or not usable, within REFUND_DEFECT_DAYS of payment, downloaded or not.
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described or not usable")


class RefundRequest(models.Model):
    """A buyer's request to give back whole order lines; an admin approves it (a Refund is made) or refuses it
    with a reason. Its own row, not a state of Refund: a request moves no money and may be refused, while a
    Refund's states (created → transmitted → done | failed) are those of the money alone."""

    State = RefundRequestState
    Kind = RefundRequestKind

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refund_requests")
    items = models.ManyToManyField(OrderItem, related_name="refund_requests")
    kind = models.CharField(max_length=20, choices=RefundRequestKind.choices)
    state = models.CharField(max_length=20, choices=RefundRequestState.choices, default=RefundRequestState.REQUESTED)
    reason = models.CharField(_("reason"), max_length=1000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Bank-transfer orders: where the buyer asks the money to be paid back.
    refund_bank = models.CharField(max_length=40, blank=True)
    refund_account_number = models.CharField(max_length=40, blank=True)
    refund_account_holder = models.CharField(max_length=100, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        constraints = [
            choices_constraint("state", RefundRequestState, name="refund_request_state_valid"),
            choices_constraint("kind", RefundRequestKind, name="refund_request_kind_valid"),
            # One open request per order at a time (a double submission makes one).
            models.UniqueConstraint(
                fields=["order"], condition=Q(state="requested"), name="refund_request_one_open_per_order"
            ),
        ]

    def __str__(self):
        return f"refund request {self.pk} of order {self.order_id}"


class Refund(models.Model):
    """Money given back for an order through one payment: its lines say how much of which order line (a line
    refunded in full loses its entitlement). The order's `refunded_krw` is the sum of its done refunds."""

    State = RefundState
    Source = RefundSource

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    request = models.OneToOneField(
        RefundRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="refund"
    )
    source = models.CharField(max_length=10, choices=RefundSource.choices)
    state = models.CharField(max_length=20, choices=RefundState.choices, default=RefundState.CREATED)
    # The whole amount given back of the order lines (what `Order.refunded_krw` adds up) ...
    amount_krw = models.PositiveBigIntegerField()
    # ... of which this much goes back to the data voucher (its balance; the agency's receivable), the sum of the
    # lines' voucher shares (transactions.ledger.voucher_share); the rest (`own_krw`) goes back through the payment.
    voucher_krw = models.PositiveBigIntegerField(default=0)
    reason = models.CharField(_("reason"), max_length=1000)
    requested_by = models.ForeignKey(  # the buyer who asked (buyer requests)
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_by = models.ForeignKey(  # the admin who granted it
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Card: sent with the cancel call; the PG answers a repeat (a retry, the reconciliation) with its first answer.
    idempotency_key = models.UUIDField(default=uuid.uuid4, unique=True)
    gateway_status = models.CharField(max_length=40, blank=True)
    gateway_response = models.JSONField(default=dict, blank=True)
    failure_code = models.CharField(max_length=80, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    # Bank transfer: the account paid back to, the admin who confirmed the transfer and its reference.
    refund_bank = models.CharField(max_length=40, blank=True)
    refund_account_number = models.CharField(max_length=40, blank=True)
    refund_account_holder = models.CharField(max_length=100, blank=True)
    transfer_reference = models.CharField(max_length=100, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When the request now asking the PG started (a lease, as Payment.confirm_started_at); empty when it ended
    # without an answer, so the reconciliation may ask again at once.
    transmitted_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        constraints = [
            choices_constraint("state", RefundState, name="refund_state_valid"),
            choices_constraint("source", RefundSource, name="refund_source_valid"),
            models.CheckConstraint(condition=Q(amount_krw__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=Q(voucher_krw__lte=models.F("amount_krw")), name="refund_voucher_within_amount"
            ),
        ]
        indexes = [models.Index(fields=["state", "created_at"], name="refund_state_recent")]

    def __str__(self):
        return f"refund {self.pk} of order {self.order_id} ({self.amount_krw:,} KRW)"

    @property
    def own_krw(self) -> int:
        """What goes back through the payment (the PG's cancel amount, or the bank transfer): the buyer's share."""
        return self.amount_krw - self.voucher_krw


class RefundLine(models.Model):
    """How much of one order line a refund gives back."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="lines")
    order_item = models.ForeignKey(OrderItem, on_delete=models.PROTECT, related_name="refund_lines")
    amount_krw = models.PositiveBigIntegerField()
    # Of it, the voucher's share (back to the voucher); the rest is the buyer's (back through the payment).
    voucher_krw = models.PositiveBigIntegerField(default=0)
    # The ledger's refund transaction of this line (set when the refund is done).
    ledger_transaction = models.ForeignKey(
        LedgerTransaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "order_item"], name="refund_line_once"),
            models.CheckConstraint(condition=Q(amount_krw__gt=0), name="refund_line_amount_positive"),
            models.CheckConstraint(
                condition=Q(voucher_krw__lte=models.F("amount_krw")), name="refund_line_voucher_within_amount"
            ),
        ]

    def __str__(self):
        return f"{self.amount_krw:,} KRW of order line {self.order_item_id}"

    @property
    def own_krw(self) -> int:
        return self.amount_krw - self.voucher_krw


# Receipts and tax documents, and monthly provider statements, live in their own modules
# (transactions/documents/models.py, transactions/statements/models.py); imported here so Django registers them
# with this app.
from transactions.apiplans.models import ApiBill, ApiPlan, ApiUsage, ApiUsageFlush  # noqa: E402, F401  (issue 16)
from transactions.documents.models import (  # noqa: E402, F401
    CashReceiptCancel,
    Document,
    DocumentCounter,
    DocumentKind,
)
from transactions.livefeed.models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401  (models of transactions/livefeed)
from transactions.statements.models import ProviderStatement, StatementLine, StatementState  # noqa: E402, F401
