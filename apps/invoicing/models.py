"""Invoices: one per organization per billing period, built from the seat history and the usage ledger.

Every cent on an invoice is traceable: a seat-fee line to the seat intervals it prorates, a usage line to the
events of one member and one model it sums (with the usage window stored on the invoice), a credit line to
the SeatCharge it repays.
"""

import datetime as dt

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES
from apps.common.periods import local_date
from apps.organizations.models import Membership, Organization
from apps.usage.models import AIModel

MONEY = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_PLACES}
CENTS = {"max_digits": 14, "decimal_places": 2}


class InvoiceStatus(models.TextChoices):
    """draft → open (issued, awaiting payment) → paid / void / uncollectible. An uncollectible invoice can
    still be paid (a late payment); a paid or void one is final."""

    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    VOID = "void", _("Void")
    UNCOLLECTIBLE = "uncollectible", _("Uncollectible")


# Computed, never stored: an open invoice past its due date (Invoice.status_on).
OVERDUE = "overdue"
STATUS_LABELS = {**dict(InvoiceStatus.choices), OVERDUE: _("Overdue")}

DEFAULT_PAYMENT_TERMS_DAYS = 30


class BillingProfile(models.Model):
    """An organization's billing details, kept by its owners on the "Billing details" page (audited) and
    copied onto each invoice when it is issued, so a later change never rewrites an issued document. The
    payment terms (net days) are set by staff in Django admin."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="billing_profile")
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    address = models.TextField(_("address"), max_length=1000, blank=True)
    tax_id = models.CharField(_("tax ID"), max_length=50, blank=True)
    billing_email = models.EmailField(_("billing email"), blank=True)
    payment_terms_days = models.PositiveSmallIntegerField(
        _("payment terms (days)"), default=DEFAULT_PAYMENT_TERMS_DAYS,
        validators=[MinValueValidator(0), MaxValueValidator(365)],
        help_text=_("Net days: an invoice is due this many days after it is issued."),
    )
    country = models.CharField(_("billing country"), max_length=2, blank=True,
                               help_text=_("ISO 3166 code; decides the tax rate and the VAT check."))
    po_number = models.CharField(_("purchase order number"), max_length=100, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"Billing details of {self.organization}"


class TaxRate(models.Model):
    """The tax rate of one billing country (staff edit the table in Django admin). An invoice copies the rate
    it applied when it is issued, so editing this table never changes an issued invoice. A country without a
    row is billed without tax."""

    country = models.CharField(_("country"), max_length=2, unique=True, help_text=_("ISO 3166 code, e.g. DE."))
    name = models.CharField(_("tax name"), max_length=30, default="VAT", help_text=_("e.g. VAT, GST, Sales tax"))
    rate = models.DecimalField(_("rate (%)"), max_digits=5, decimal_places=2,
                               validators=[MinValueValidator(0), MaxValueValidator(100)])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("country",)
        verbose_name = _("tax rate")
        verbose_name_plural = _("tax rates")

    def __str__(self):
        return f"{self.country}: {self.name} {self.rate}%"


class InvoiceSequence(models.Model):
    """The last invoice number allocated for an organization. Incremented under a row lock in the issuing
    transaction, so numbers are gapless: a rolled-back issue gives its number back."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="invoice_sequence")
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.organization}: {self.last_number}"


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
    number = models.CharField(max_length=60, unique=True, null=True, blank=True)
    # The organization's gapless sequence number (see InvoiceSequence); `number` is "<SLUG>-<sequence>".
    sequence = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(**CENTS, default=0)
    total = models.DecimalField(**CENTS, default=0)
    usage_from = models.DateTimeField(null=True, blank=True)
    usage_cutoff = models.DateTimeField()
    created_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    payment_source = models.CharField(max_length=40, blank=True, help_text="Who marked it paid: admin, stripe…")
    uncollectible_at = models.DateTimeField(null=True, blank=True)
    # The billing details as they were when the invoice was issued (copied from BillingProfile).
    bill_to_name = models.CharField(max_length=200, blank=True)
    bill_to_address = models.TextField(blank=True)
    bill_to_tax_id = models.CharField(max_length=50, blank=True)
    bill_to_email = models.EmailField(blank=True)
    bill_to_country = models.CharField(max_length=2, blank=True)
    bill_to_po_number = models.CharField(max_length=100, blank=True)
    # The seller as it was when the invoice was issued (settings.INVOICE_ISSUER): legal name, address, tax ID,
    # contact and bank details.
    issuer = models.JSONField(default=dict, blank=True)
    # The local date the period closed (the issue date printed on the document), in the billing time zone.
    issue_date = models.DateField(null=True, blank=True)
    # Tax as issued, never recomputed: `total = subtotal + tax_amount`; tax_amount = subtotal × rate, rounded once.
    tax_name = models.CharField(max_length=30, blank=True)
    tax_rate = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    tax_amount = models.DecimalField(**CENTS, default=0)
    reverse_charge = models.BooleanField(default=False)
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
            models.UniqueConstraint(fields=["organization", "sequence"], name="invoice_sequence_unique_per_org"),
        ]
        indexes = [models.Index(fields=["organization", "-period_start"])]

    def __str__(self):
        return self.number or f"Draft invoice {self.pk}"

    @property
    def is_void(self) -> bool:
        return self.status == InvoiceStatus.VOID

    @property
    def is_paid(self) -> bool:
        return self.status == InvoiceStatus.PAID

    @property
    def document_date(self) -> dt.date | None:
        """The issue date printed (invoices issued before it was stored: the local date they were issued)."""
        if self.issue_date is not None or self.issued_at is None:
            return self.issue_date
        return local_date(self.issued_at, self.organization.billing_timezone)

    def status_on(self, today: dt.date) -> str:
        """The status a reader sees on a local date: an open invoice past its due date is overdue (computed,
        never stored)."""
        if self.status == InvoiceStatus.OPEN and self.due_date is not None and today > self.due_date:
            return OVERDUE
        return self.status

    @property
    def shown_status(self) -> str:
        """The status today in the organization's billing time zone (`status_on`)."""
        return self.status_on(local_date(timezone.now(), self.organization.billing_timezone))

    @property
    def shown_status_label(self) -> str:
        return STATUS_LABELS[self.shown_status]


class InvoiceDocument(models.Model):
    """The invoice's PDF, rendered once when it is issued and served as stored from then on (its SHA-256
    lets anyone check that a copy is the document we issued). Its own table, so lists never load the bytes."""

    invoice = models.OneToOneField(Invoice, on_delete=models.CASCADE, related_name="document")
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    rendered_at = models.DateTimeField()

    def __str__(self):
        return f"{self.invoice} PDF ({self.size:,} bytes, sha256 {self.sha256[:12]}…)"


class LineKind(models.TextChoices):
    """One line per member per kind (apps.common.money's rounding rule): seat fee, HIPAA add-on, upgrades
    already charged, included usage, extra or pooled usage, late usage per earlier period."""

    SEAT_FEE = "seat_fee", _("Seat fee")
    SEAT_UPGRADE_CHARGE = "seat_upgrade_charge", _("Upgrade already charged")
    HIPAA = "hipaa", _("HIPAA-ready add-on")
    INCLUDED_USAGE = "included_usage", _("Covered by included usage")
    USAGE = "usage", _("Usage")
    LATE_USAGE_ADJUSTMENT = "late_usage_adjustment", _("Late usage adjustment")
    PREPAID_PURCHASE = "prepaid_purchase", _("Prepaid purchase")
    AUTO_RELOAD = "auto_reload", _("Auto-reload")
    PREPAID_USAGE_INFO = "prepaid_usage_info", _("Extra usage from prepaid balance")


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
    member_name = models.CharField(max_length=150, blank=True)
    # The member's place on the document (1, 2, …) in natural order of name then email ("member2" before
    # "member10"), fixed when the invoice is built: a page of members is one indexed range of it.
    member_index = models.PositiveIntegerField(null=True, blank=True)
    product = models.CharField(max_length=20, blank=True)
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
    # What the line is made of, to say it in the reader's language (seat tiers and their local day ranges,
    # upgrades already charged): see selectors.line_label.
    detail = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ("invoice", "position", "id")
        indexes = [models.Index(fields=["invoice", "membership"]),
                   models.Index(fields=["invoice", "member_index"], name="invoiceline_member_order")]

    def __str__(self):
        return f"{self.description}: {self.amount}"

    @property
    def has_tokens(self) -> bool:
        """Usage lines carry token counts (and their events); seat, credit and prepaid lines do not."""
        return self.model_id is not None or self.event_count > 0


class InvoiceUsageRow(models.Model):
    """The invoice's usage by model and product (and earlier period, for late usage), exact: the breakdown
    behind the member lines. Its amounts are included in the member lines (each member's usage is billed as
    one line, rounded once); they are never billed or rounded again. Written when the invoice is issued, from
    the same single pass over the events as the member lines."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="usage_rows")
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=20)
    usage_period_start = models.DateField(null=True, blank=True)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)
    usage_cost = models.DecimalField(**MONEY)
    included_cost = models.DecimalField(**MONEY)
    # cost − included on seat-based plans, cost on usage-based Enterprise: billed (or drawn from the prepaid
    # balance on Team) through the member lines.
    billable = models.DecimalField(**MONEY)
    informational = models.BooleanField(default=False)

    class Meta:
        ordering = ("invoice", "model", "product")
        indexes = [models.Index(fields=["invoice"], name="invoiceusagerow_invoice")]

    def __str__(self):
        return f"{self.invoice}: {self.model_id} {self.product} {self.billable}"


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


class CreditNoteSequence(models.Model):
    """The last credit-note number allocated for an organization: gapless, like InvoiceSequence (incremented
    under a row lock in the issuing transaction)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE,
                                        related_name="credit_note_sequence")
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.organization}: {self.last_number}"


class CreditNote(models.Model):
    """A correction of an issued invoice: it credits amounts back and references the invoice, which is never
    edited. Tax is credited at the invoice's rate (reverse charge stays reverse charge). Numbered
    "<SLUG>-CN-0001" on its own gapless sequence. Its PDF is rendered once and stored."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="credit_notes")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    number = models.CharField(max_length=60, unique=True)
    sequence = models.PositiveIntegerField()
    issue_date = models.DateField()
    issued_at = models.DateTimeField()
    reason = models.CharField(max_length=300)
    currency = models.CharField(max_length=3, default="USD")
    subtotal = models.DecimalField(**CENTS)
    tax_amount = models.DecimalField(**CENTS, default=0)
    total = models.DecimalField(**CENTS)
    pdf = models.BinaryField(null=True, blank=True, editable=False)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ("-issued_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=["organization", "sequence"], name="credit_note_sequence_unique_per_org"),
        ]

    def __str__(self):
        return self.number


class CreditNoteLine(models.Model):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=300)
    amount = models.DecimalField(**CENTS, help_text="Credited, before tax (positive).")

    class Meta:
        ordering = ("credit_note", "position", "id")

    def __str__(self):
        return f"{self.description}: {self.amount}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class InvoicePayment(models.Model):
    """One card payment of an invoice through the payment provider. Claimed by this unique row (committed)
    before the provider is called outside any transaction, with the row's key as the provider's idempotency
    key, then settled: a retried click or task never charges twice."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    idempotency_key = models.CharField(max_length=100, unique=True)
    amount = models.DecimalField(**CENTS)
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    reference = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")

    def __str__(self):
        return f"{self.invoice} {self.amount} ({self.status})"


class ReminderKind(models.TextChoices):
    BEFORE_DUE = "before_due", "Before the due date"
    AFTER_DUE = "after_due", "After the due date"


class InvoiceReminder(models.Model):
    """One reminder email (to owners and the billing email) per invoice and kind: the unique row is the claim,
    so the beat task can run any number of times."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=20, choices=ReminderKind.choices)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["invoice", "kind"], name="invoice_reminder_once")]

    def __str__(self):
        return f"{self.invoice} {self.kind}"
