"""Outgoing webhooks: endpoints an owner registers, the events the portal emits, and one delivery per
(event, endpoint) with every attempt logged.

A delivery is the unit of retry: its `webhook-id` is the event's public id, the same on every attempt, replay
and endpoint, so a receiver can drop duplicates by it (Standard Webhooks). Signing secrets are stored as is:
the portal must sign with them, so they cannot be hashed; they are shown to the owner only once.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.common.ids import new_public_id
from apps.organizations.models import Organization


class EventType(models.TextChoices):
    SPEND_THRESHOLD_REACHED = "spend.threshold_reached", _("A spend threshold was reached")
    SPEND_CAP_REACHED = "spend.cap_reached", _("A spend limit was reached")
    EXTRA_USAGE_REQUEST_CREATED = "extra_usage.request_created", _("A member requested extra usage")
    EXTRA_USAGE_REQUEST_DECIDED = "extra_usage.request_decided", _("A request for extra usage was decided")
    PREPAID_RELOADED = "prepaid.reloaded", _("The prepaid balance was reloaded")
    PREPAID_RELOAD_FAILED = "prepaid.reload_failed", _("A prepaid reload failed")
    INVOICE_ISSUED = "invoice.issued", _("An invoice was issued")
    INVOICE_PAID = "invoice.paid", _("An invoice was paid")


# Sent by "Send test event" only; endpoints cannot subscribe to it (it goes to the endpoint tested).
TEST_EVENT_TYPE = "webhook.test"


def new_endpoint_public_id() -> str:
    return new_public_id("ep")


def new_event_public_id() -> str:
    return new_public_id("msg")


class WebhookEndpoint(models.Model):
    """An HTTPS URL of the organization's that receives the events it subscribed to, signed with its secret."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_endpoints")
    public_id = models.CharField(max_length=40, unique=True, default=new_endpoint_public_id, editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # A list of EventType values (JSON, so every supported database holds it).
    events = models.JSONField(default=list)
    secret = models.CharField(max_length=100)
    # After a rotation the previous secret keeps signing (both signatures sent) until this time.
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # Set by the first failed attempt after a success (or ever), cleared by any success.
    failing_since = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ("created_at", "id")
        indexes = [models.Index(fields=["organization", "created_at"])]

    def __str__(self):
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return event_type in self.events


class WebhookEvent(models.Model):
    """Something that happened in an organization, recorded in the transaction that caused it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_events")
    public_id = models.CharField(max_length=40, unique=True, default=new_event_public_id, editable=False)
    event_type = models.CharField(max_length=60)
    payload = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self):
        return f"{self.event_type} {self.public_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event to one endpoint. Pending until an attempt gets a 2xx (delivered) or the retries run out
    (failed). `lease_until` is the claim of the worker sending it now; a worker that dies leaves a lease that
    expires, and the sweep sends it again with the same webhook-id."""

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["event", "endpoint"], name="webhook_delivery_once")]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"]),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due",
                         condition=models.Q(status="pending")),
        ]

    def __str__(self):
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: what came back and how long it took."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    succeeded = models.BooleanField()
    manual = models.BooleanField(default=False)

    class Meta:
        ordering = ("-attempted_at", "-id")

    def __str__(self):
        return f"{self.delivery_id} @ {self.attempted_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
