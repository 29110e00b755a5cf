from django.db import models
from django.db.models import Q

from apps.common.ids import new_public_id
from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES
from apps.organizations.models import Membership, Organization
from apps.seats.models import Product, SeatTier

RATE_DIGITS = {"max_digits": 12, "decimal_places": 4}
MONEY = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_PLACES}


class AIModel(models.Model):
    """A model known by its API id (claude-sonnet-4-5-20250929) and its alias (claude-sonnet-4-5)."""

    api_id = models.CharField(max_length=100, unique=True)
    alias = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=100)

    class Meta:
        ordering = ("display_name",)
        verbose_name = "model"

    def __str__(self):
        return self.display_name


class ModelPrice(models.Model):
    """US dollars per million tokens, from `effective_from` on. Long-context rates (prompts over 200,000
    tokens) are blank for models that have none: they are then charged at the standard rates."""

    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="prices")
    effective_from = models.DateTimeField()
    input = models.DecimalField(**RATE_DIGITS)
    output = models.DecimalField(**RATE_DIGITS)
    cache_write = models.DecimalField(**RATE_DIGITS)
    cache_read = models.DecimalField(**RATE_DIGITS)
    long_input = models.DecimalField(**RATE_DIGITS, null=True, blank=True)
    long_output = models.DecimalField(**RATE_DIGITS, null=True, blank=True)
    long_cache_write = models.DecimalField(**RATE_DIGITS, null=True, blank=True)
    long_cache_read = models.DecimalField(**RATE_DIGITS, null=True, blank=True)

    class Meta:
        ordering = ("model", "-effective_from")
        constraints = [
            models.UniqueConstraint(fields=["model", "effective_from"], name="price_unique_per_date"),
            models.CheckConstraint(
                condition=Q(long_input__isnull=True, long_output__isnull=True, long_cache_write__isnull=True,
                            long_cache_read__isnull=True)
                | Q(long_input__isnull=False, long_output__isnull=False, long_cache_write__isnull=False,
                    long_cache_read__isnull=False),
                name="price_long_context_all_or_none",
            ),
        ]

    def __str__(self):
        return f"{self.model} from {self.effective_from:%Y-%m-%d}"


class CapScope(models.TextChoices):
    ORGANIZATION = "organization", "Organization"
    SEAT_TIER = "seat_tier", "Seat tier"
    MEMBER = "member", "Member"


def new_spend_limit_id() -> str:
    return new_public_id("spl")


class SpendCap(models.Model):
    """A monthly spend cap at one level. `amount` None means unlimited.

    The organization cap bounds the organization's total; a tier cap and a member cap bound each member's own
    spend. On usage-based Enterprise they bound all spend; on seat-based plans, extra usage beyond the seat's
    included usage.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="spend_caps")
    scope = models.CharField(max_length=20, choices=CapScope.choices)
    tier = models.ForeignKey(SeatTier, null=True, blank=True, on_delete=models.CASCADE, related_name="caps")
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="spend_caps"
    )
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    public_id = models.CharField(max_length=40, unique=True, default=new_spend_limit_id, editable=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(scope="organization"), name="cap_one_per_org"
            ),
            models.UniqueConstraint(fields=["tier"], condition=Q(scope="seat_tier"), name="cap_one_per_tier"),
            models.UniqueConstraint(
                fields=["membership"], condition=Q(scope="member"), name="cap_one_per_member"
            ),
            models.CheckConstraint(
                condition=(Q(scope="organization", tier__isnull=True, membership__isnull=True)
                           | Q(scope="seat_tier", tier__isnull=False, membership__isnull=True)
                           | Q(scope="member", tier__isnull=True, membership__isnull=False)),
                name="cap_scope_matches_target",
            ),
            models.CheckConstraint(condition=Q(amount__isnull=True) | Q(amount__gte=0), name="cap_non_negative"),
        ]

    def __str__(self):
        return f"{self.scope} cap {self.amount if self.amount is not None else 'unlimited'}"


class Funding(models.TextChoices):
    POOLED = "pooled", "Pooled"
    INCLUDED = "included", "Included usage"
    EXTRA_USAGE = "extra_usage", "Extra usage"


class UsageEvent(models.Model):
    """One priced model request. Immutable: stored once per (organization, idempotency key), with the rates it
    was priced at. `included_cost` is the part funded by the seat's included usage; the rest (`cost` −
    `included_cost`) is pooled spend (usage-based Enterprise) or extra usage (seat-based plans).

    On PostgreSQL the table is partitioned by month of `period_start` (apps/usage/partitions.py; migration
    0004). A unique key of a partitioned table must include the partition key, so the exactly-once guard across
    months is UsageEventKey, written by the same statement; the database's primary key is
    (id, organization_id, period_start), `id` still coming from one sequence."""

    # No index of its own: the (organization, idempotency_key) and (organization, period_start, membership)
    # indexes lead with it, and every index is written again by each insert into this, the largest table.
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="usage_events",
                                     db_index=False)
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="usage_events")
    idempotency_key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64, help_text="Digest of the request body, to spot key reuse.")
    product = models.CharField(max_length=20, choices=Product.choices)
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="events")
    price = models.ForeignKey(ModelPrice, on_delete=models.PROTECT, related_name="events")
    input_tokens = models.BigIntegerField()
    output_tokens = models.BigIntegerField()
    cache_write_tokens = models.BigIntegerField()
    cache_read_tokens = models.BigIntegerField()
    long_context = models.BooleanField()
    rate_input = models.DecimalField(**RATE_DIGITS)
    rate_output = models.DecimalField(**RATE_DIGITS)
    rate_cache_write = models.DecimalField(**RATE_DIGITS)
    rate_cache_read = models.DecimalField(**RATE_DIGITS)
    cost = models.DecimalField(**MONEY)
    included_cost = models.DecimalField(**MONEY, default=0)
    funding = models.CharField(max_length=20, choices=Funding.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    period_start = models.DateField(help_text="The billing period (local month) the event belongs to.")
    # The answer given the first time, repeated verbatim to a retry with the same key.
    member_month_to_date = models.DecimalField(**MONEY)
    blocked_after = models.BooleanField()

    class Meta:
        ordering = ("-occurred_at",)
        constraints = [
            # Within a month; across months UsageEventKey guards the key. Also the index replays are found by.
            models.UniqueConstraint(fields=["organization", "idempotency_key", "period_start"],
                                    name="event_idempotency_key_month"),
            models.CheckConstraint(
                condition=Q(input_tokens__gte=0, output_tokens__gte=0, cache_write_tokens__gte=0,
                            cache_read_tokens__gte=0),
                name="event_tokens_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(included_cost__gte=0, included_cost__lte=models.F("cost")),
                name="event_included_within_cost",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "period_start", "membership"]),
            models.Index(fields=["organization", "received_at"]),
        ]

    def __str__(self):
        return f"{self.idempotency_key}: {self.cost}"

    @property
    def extra_cost(self):
        return self.cost - self.included_cost


class UsageEventKey(models.Model):
    """The ledger's exactly-once guard: one row per (organization, idempotency key) ever stored, inserted by the
    same statement as its event (ledger_record), so a second event with the key fails that statement on this
    primary key and nothing of it is written. Kept apart from the partitioned event table because PostgreSQL
    enforces uniqueness across partitions only for keys that include the partition key; a few narrow columns
    per event. Rows stay when a month's partition is archived, so an archived key is still never charged twice.
    """

    pk = models.CompositePrimaryKey("organization_id", "idempotency_key")
    # No database foreign key: the value is copied from the event row in the same statement, whose own foreign
    # key checks it, and every check costs the hot path an index probe at commit.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+",
                                     db_constraint=False, db_index=False)
    idempotency_key = models.CharField(max_length=200)
    period_start = models.DateField(help_text="The month (partition) holding the event.")
    event_id = models.BigIntegerField()


class MemberPeriodUsage(models.Model):
    """A member's month-to-date counters, changed in the same transaction as each event (F() updates).
    `spend` is everything; `included_spend` the part funded by included usage."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="period_usage")
    period_start = models.DateField()
    spend = models.DecimalField(**MONEY, default=0)
    included_spend = models.DecimalField(**MONEY, default=0)
    event_count = models.BigIntegerField(default=0)
    # When the member first went past their included usage this period (seat-based plans).
    extra_usage_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "member period counter"
        verbose_name_plural = "member period counters"
        constraints = [
            # organization last: the index still serves look-ups by member, and with organization_id in every
            # key the table could be distributed by organization (Citus; docs/scaling.md).
            models.UniqueConstraint(fields=["membership", "period_start", "organization"],
                                    name="member_usage_one_per_period_org")
        ]
        indexes = [models.Index(fields=["organization", "period_start"])]

    @property
    def capped_spend(self):
        return self.spend - self.included_spend


class OrgUsageSlot(models.Model):
    """One of ORG_COUNTER_SLOTS counter rows that together hold an organization's month-to-date spend. Each
    event adds to one slot chosen at random, so thousands of members writing at once spread their row locks
    instead of queueing on a single hot row; readers sum the slots."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    slot = models.PositiveSmallIntegerField()
    spend = models.DecimalField(**MONEY, default=0)
    included_spend = models.DecimalField(**MONEY, default=0)
    event_count = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "organization usage slot"
        verbose_name_plural = "organization usage slots"
        constraints = [
            models.UniqueConstraint(fields=["organization", "period_start", "slot"], name="org_slot_unique")
        ]


class UsageDailyRollup(models.Model):
    """Spend and tokens per member, model, product and local day, kept in the event's transaction.
    Dashboards read these instead of raw events."""

    # No indexes of their own: the unique (membership, day, model, product) and the (organization, …) indexes
    # lead with them, and every index is written again by each new rollup row.
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+", db_index=False)
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=20, choices=Product.choices)
    day = models.DateField()
    period_start = models.DateField()
    cost = models.DecimalField(**MONEY, default=0)
    included_cost = models.DecimalField(**MONEY, default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(  # organization last, as for MemberPeriodUsage
                fields=["membership", "day", "model", "product", "organization"],
                name="rollup_unique_member_day_model_product_org",
            )
        ]
        indexes = [
            models.Index(fields=["organization", "period_start"]),
            models.Index(fields=["organization", "day"]),
        ]


class UsageHourlyRollup(models.Model):
    """Tokens, cost per token kind and request count per member, UTC hour, model, product and context window,
    kept in the event's transaction (ledger_record). The Usage and Cost Analytics API reads these, never raw
    events: any UTC range of whole hours, hourly or daily buckets, grouped by member, model, product, context
    window or token kind.

    Each `*_cost` is that kind's tokens × the event's rate ÷ 1,000,000, exact at 10 places (rates have four), so
    the four add up to the events' `cost` to the last digit.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+", db_index=False)
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="+", db_index=False)
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="+", db_index=False)
    product = models.CharField(max_length=20, choices=Product.choices)
    long_context = models.BooleanField(help_text="Prompts over 200,000 tokens, priced at long-context rates.")
    hour = models.DateTimeField(help_text="The UTC hour the events occurred in (its start).")
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    input_cost = models.DecimalField(**MONEY, default=0)
    output_cost = models.DecimalField(**MONEY, default=0)
    cache_write_cost = models.DecimalField(**MONEY, default=0)
    cache_read_cost = models.DecimalField(**MONEY, default=0)
    event_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "hour", "model", "product", "long_context", "organization"],
                name="hourly_rollup_unique_member_hour_model_product_window",
            )
        ]
        indexes = [models.Index(fields=["organization", "hour"], name="hourly_rollup_org_hour")]
