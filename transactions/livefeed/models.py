"""Webhook endpoints of buyer organizations and their deliveries. Imported at the end of transactions/models.py."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.db import choices_constraint


class WebhookEndpoint(models.Model):
    """Where an organization wants the new rows of one live table POSTed, signed with its secret.

    The secret (`whsec_…`, Standard Webhooks) is shown once when the endpoint is made; it is kept to sign."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    table = models.ForeignKey("catalog.LiveTable", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    # Deliveries were made for every row up to this seq (rows appended while the endpoint was inactive or the
    # organization had no live access are skipped, not queued for later).
    queued_seq = models.BigIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"webhook {self.pk} → {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Waiting to be sent")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed after every retry")
    CANCELLED = "cancelled", _("Cancelled")  # the endpoint was switched off or the live access ended


class WebhookDelivery(models.Model):
    """One message to an endpoint: the rows first_seq..last_seq of its table. Its `message_id` (webhook-id) stays
    the same across retries, so the receiver can drop a duplicate."""

    State = DeliveryState

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    message_id = models.CharField(max_length=40, unique=True)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    state = models.CharField(max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_at = models.DateTimeField()
    lease = models.UUIDField(null=True, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        indexes = [models.Index(fields=["state", "next_at"], name="webhookdelivery_due")]
        constraints = [choices_constraint("state", DeliveryState, name="webhookdelivery_state_valid")]

    def __str__(self):
        return f"delivery {self.message_id} ({self.first_seq}–{self.last_seq})"
