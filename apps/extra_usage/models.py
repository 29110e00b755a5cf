from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.common.ids import new_public_id
from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES
from apps.organizations.models import Membership, Organization
from apps.usage.models import UsageEvent

MONEY = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_PLACES}


class ExtraUsageSettings(models.Model):
    """An organization's extra-usage switches (seat-based plans). Turning extra usage off keeps the caps as
    configured; turning it back on restores them. Team organizations fund extra usage from a prepaid balance
    (`prepaid_balance`, always equal to the sum of its ledger rows), optionally with auto-reload."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="extra_usage")
    enabled = models.BooleanField(default=False)
    # True: every member may use extra usage; False: only members with MemberExtraUsage.enabled.
    all_members = models.BooleanField(default=True)
    requests_enabled = models.BooleanField(default=True)
    prepaid_balance = models.DecimalField(**MONEY, default=0)
    auto_reload_enabled = models.BooleanField(default=False)
    reload_threshold = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    reload_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    monthly_reload_limit = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "extra usage settings"

    def __str__(self):
        return f"Extra usage for {self.organization}"


class MemberExtraUsage(models.Model):
    """Extra usage switched on (or off) for one member, when the organization enables it for chosen members."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="extra_usage")
    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "member extra-usage switch"
        verbose_name_plural = "member extra-usage switches"


class LedgerKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    AUTO_RELOAD = "auto_reload", _("Auto-reload")
    USAGE = "usage", "Usage"
    ADJUSTMENT = "adjustment", "Adjustment"


class PrepaidLedgerEntry(models.Model):
    """One movement of a Team organization's prepaid balance: purchases and reloads add, usage subtracts.
    The balance is the sum of these rows, always. A usage row is unique per event, so nothing is drawn twice."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="prepaid_ledger")
    kind = models.CharField(max_length=20, choices=LedgerKind.choices)
    amount = models.DecimalField(**MONEY)
    # No database foreign key: the event table is partitioned by month and its ids are unique only with their
    # month (PostgreSQL needs the partition key in any key referenced), and an archived month is detached. The
    # draw is written in the event's transaction, with the id the event's insert returned.
    event = models.OneToOneField(
        UsageEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="prepaid_draw",
        db_constraint=False,
    )
    payment_reference = models.CharField(max_length=100, blank=True)
    # Auto-reloads: one per (organization, reload_key); the key names the threshold crossing it answers.
    reload_key = models.CharField(max_length=100, null=True, blank=True)
    period_start = models.DateField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "reload_key"], condition=Q(reload_key__isnull=False),
                name="ledger_one_reload_per_key",
            ),
        ]
        indexes = [models.Index(fields=["organization", "period_start", "kind"])]
        verbose_name_plural = "prepaid ledger entries"


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", "Approved"
    DENIED = "denied", "Denied"
    # Closed by the admission decision: the member could spend again (a limit raised elsewhere, a new period).
    CLOSED = "closed", _("No longer needed")


def new_increase_request_id() -> str:
    return new_public_id("slir")


class ExtraUsageRequest(models.Model):
    """A member's request for more usage. At most one pending request per member (a partial unique index)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="extra_usage_requests")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="extra_usage_requests")
    public_id = models.CharField(max_length=40, unique=True, default=new_increase_request_id, editable=False)
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    period_start = models.DateField()
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when an Admin API key decided the request (the API reports it as a scoped_api_key_actor).
    resolved_by_api_key_id = models.CharField(max_length=40, blank=True)
    approved_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # What the member may add when asking: a note for the reviewer and the monthly limit they would like.
    note = models.CharField(max_length=500, blank=True)
    requested_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    # The admission decision asked again right after the approval: "" when the member can keep working, else
    # the refusal reason that still stops them (what their email tells them). See apps/spending/requests.py.
    stopped_reason = models.CharField(max_length=40, blank=True)
    # What the approval did: limit_set, extra_usage_enabled or moved_to_premium (the email says it).
    outcome = models.CharField(max_length=30, blank=True)
    # Set by the conditional UPDATE that claims the decision email, so a retried task sends it once.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["membership"], condition=Q(status="pending"), name="request_one_pending_per_member"
            )
        ]
        indexes = [models.Index(fields=["organization", "status", "-created_at"])]


class ChargeKind(models.TextChoices):
    PURCHASE = "purchase", _("Purchase")
    AUTO_RELOAD = "auto_reload", _("Auto-reload")


class ChargeStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class PrepaidCharge(models.Model):
    """One attempt to buy prepaid extra usage (an owner's purchase or an auto-reload), claimed before the payment
    provider is called and settled after it. The claim is the unique (organization, idempotency_key) row, which
    is also the provider's idempotency key: a retried purchase or a second reload worker finds the row taken and
    charges nothing. Only a succeeded charge moves the balance (through its ledger row)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="prepaid_charges")
    kind = models.CharField(max_length=20, choices=ChargeKind.choices)
    status = models.CharField(max_length=10, choices=ChargeStatus.choices, default=ChargeStatus.PENDING)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    idempotency_key = models.CharField(max_length=100)
    period_start = models.DateField()
    payment_reference = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["organization", "idempotency_key"], name="charge_one_per_key"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="charge_positive"),
        ]
        indexes = [models.Index(fields=["organization", "kind", "period_start"])]

    def __str__(self):
        return f"{self.get_kind_display()} {self.amount} ({self.status})"


class DigestDelivery(models.Model):
    """The daily digest of pending requests sent to one admin on one (organization-local) day: the unique row
    is the claim, so a second run that day sends nothing once `sent_at` is set. A claim left unsent (its
    worker died between claiming and sending) is taken over after DIGEST_CLAIM_LEASE by the next run."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    pending_count = models.PositiveIntegerField()
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-day", "-id")
        constraints = [models.UniqueConstraint(fields=["membership", "day"], name="digest_one_per_admin_per_day")]
        verbose_name_plural = "digest deliveries"


class StripeCustomer(models.Model):
    """The organization's Stripe customer and the card saved for off-session charges (StripeProvider). The card
    is captured by Stripe Checkout in setup mode; its `setup_intent.succeeded` webhook stores it here."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="stripe_customer")
    customer_id = models.CharField(max_length=100, unique=True)
    payment_method_id = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField()

    def __str__(self):
        return self.customer_id
