from django.db import models
from django.db.models import Q
from djmoney.models.fields import MoneyField

from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES
from apps.organizations.models import Membership, Organization


class TierCode(models.TextChoices):
    STANDARD = "standard", "Standard"
    PREMIUM = "premium", "Premium"
    CHAT = "chat", "Chat"
    CHAT_CODE = "chat_code", "Chat + Claude Code"


class Product(models.TextChoices):
    CHAT = "chat", "Chat"
    CLAUDE_CODE = "claude_code", "Claude Code"
    COWORK = "cowork", "Cowork"


class SeatTier(models.Model):
    """One seat tier of an organization's plan: its monthly fee, the products it grants and, on seat-based
    plans, the usage (in dollars at API rates) it includes each month."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="seat_tiers")
    code = models.CharField(max_length=20, choices=TierCode.choices)
    monthly_fee = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    included_usage = MoneyField(
        max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES, default_currency="USD", default=0
    )
    products = models.JSONField(default=list)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ("organization", "position")
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="seat_tier_unique_code")]

    def __str__(self):
        return self.get_code_display()

    def grants(self, product: str) -> bool:
        return product in self.products


class SeatAssignment(models.Model):
    """A member held a tier from `started_at` until `ended_at` (open while current). Invoices prorate by these
    intervals, so rows are closed, never edited or deleted."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="seat_assignments")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="seat_assignments")
    tier = models.ForeignKey(SeatTier, on_delete=models.PROTECT, related_name="assignments")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("membership", "started_at")
        constraints = [
            models.UniqueConstraint(
                fields=["membership"], condition=Q(ended_at__isnull=True), name="seat_one_open_assignment"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="seat_interval_ordered",
            ),
        ]
        indexes = [models.Index(fields=["organization", "ended_at"])]

    def __str__(self):
        return f"{self.membership} {self.tier} {self.started_at:%Y-%m-%d}–{self.ended_at or ''}"


class SeatCharge(models.Model):
    """A prorated fee charged at the moment of a mid-period upgrade. The invoice shows it as its own line and
    bills the rest of the period's seat fee without it, so it is never charged twice."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="seat_charges")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="seat_charges")
    from_tier = models.ForeignKey(SeatTier, on_delete=models.PROTECT, related_name="+")
    to_tier = models.ForeignKey(SeatTier, on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    amount = MoneyField(max_digits=12, decimal_places=2, default_currency="USD")
    remaining_days = models.PositiveSmallIntegerField()
    period_days = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at",)
        indexes = [models.Index(fields=["organization", "period_start"])]

    @property
    def reference(self) -> str:
        """The charge's reference on Billing history, its receipt and the audit trail (stable: from the id)."""
        return f"SEAT-{self.pk:06d}"
