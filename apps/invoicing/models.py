"""Invoices: one per organization per billing period, built from the seat history and the usage ledger.

Every cent on an invoice is traceable: a seat-fee line to the seat intervals it prorates, a usage line to the
events of one member and one model it sums (with the usage window stored on the invoice), a credit line to
the SeatCharge it repays.
"""

from django.db import models
from django.db.models import Q

from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES
from apps.organizations.models import Membership, Organization
from apps.usage.models import AIModel

MONEY = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_PLACES}
CENTS = {"max_digits": 14, "decimal_places": 2}


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ISSUED = "issued", "Issued"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


class Invoice(models.Model):
    """The bill for one organization and one billing period (a local month).

    `total` is the sum of the rounded amounts of the lines that are not informational, exactly. The usage
    window [usage_from, usage_cutoff) says which events (by received_at) this invoice covers: the period's own
    events received before the cutoff, and late events of earlier, already invoiced periods received since the
    previous invoice's cutoff. A re-issue keeps the voided invoice's window, so no event is billed twice.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="invoices")
    period_start = models.DateField()
    period_end = models.DateField(help_text="The first local day after the period.")
    number = models.CharField(max_length=40, unique=True, null=True, blank=True)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(**CENTS, default=0)
    total = models.DecimalField(**CENTS, default=0)
    usage_from = models.DateTimeField(null=True, blank=True)
    usage_cutoff = models.DateTimeField()
    created_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True)
    # Claimed by a conditional UPDATE before the owners' email is sent, so a retried task sends it once.
    owners_notified_at = models.DateTimeField(null=True, blank=True)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by",
        help_text="The voided invoice this one re-issues.",
    )

    class Meta:
        ordering = ("-period_start", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "period_start"], condition=~Q(status="void"),
                name="invoice_one_live_per_org_period",
            ),
        ]
        indexes = [models.Index(fields=["organization", "-period_start"])]

    def __str__(self):
        return self.number or f"Draft invoice {self.pk}"

    @property
    def is_void(self) -> bool:
        return self.status == InvoiceStatus.VOID


class LineKind(models.TextChoices):
    SEAT_FEE = "seat_fee", "Seat fee"
    SEAT_UPGRADE_CHARGE = "seat_upgrade_charge", "Upgrade already charged"
    HIPAA = "hipaa", "HIPAA-ready add-on"
    USAGE = "usage", "Usage"
    LATE_USAGE_ADJUSTMENT = "late_usage_adjustment", "Late usage adjustment"
    PREPAID_PURCHASE = "prepaid_purchase", "Prepaid purchase"
    AUTO_RELOAD = "auto_reload", "Auto-reload"
    PREPAID_USAGE_INFO = "prepaid_usage_info", "Extra usage from prepaid balance"


class InvoiceLine(models.Model):
    """One line. `unrounded_amount` keeps full precision; `amount` is it rounded to cents, half up.
    Informational lines (already paid, or drawn from a Team's prepaid balance) are shown but not billed."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=30, choices=LineKind.choices)
    position = models.PositiveIntegerField(default=0)
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.PROTECT, related_name="invoice_lines"
    )
    member_email = models.CharField(max_length=254, blank=True)
    description = models.CharField(max_length=300)
    model = models.ForeignKey(AIModel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The earlier period a late-usage adjustment belongs to.
    usage_period_start = models.DateField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)
    # Usage at API rates, and the part of it covered by the seat's included usage.
    usage_cost = models.DecimalField(**MONEY, null=True, blank=True)
    included_cost = models.DecimalField(**MONEY, null=True, blank=True)
    # Seat lines: days held out of the period's days, at the tier's monthly fee.
    days = models.PositiveSmallIntegerField(null=True, blank=True)
    period_days = models.PositiveSmallIntegerField(null=True, blank=True)
    unit_price = models.DecimalField(**CENTS, null=True, blank=True)
    unrounded_amount = models.DecimalField(**MONEY)
    amount = models.DecimalField(**CENTS)
    informational = models.BooleanField(default=False)

    class Meta:
        ordering = ("invoice", "position", "id")
        indexes = [models.Index(fields=["invoice", "membership"])]

    def __str__(self):
        return f"{self.description}: {self.amount}"


class ClaimStatus(models.TextChoices):
    STARTED = "started", "Started"
    DONE = "done", "Done"


class InvoiceRunClaim(models.Model):
    """The claim on one organization's period: unique, so the monthly run issues at most one invoice for it.
    A claim left `started` (a crash) is finished by the next run."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invoice_claims")
    period_start = models.DateField()
    status = models.CharField(max_length=10, choices=ClaimStatus.choices, default=ClaimStatus.STARTED)
    attempts = models.PositiveIntegerField(default=0)
    invoice = models.ForeignKey(Invoice, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ("-period_start", "organization")
        constraints = [
            models.UniqueConstraint(fields=["organization", "period_start"], name="invoice_claim_one_per_period")
        ]

    def __str__(self):
        return f"{self.organization} {self.period_start:%Y-%m} ({self.status})"
