"""Monitoring: per-organization daily totals for the dashboards and the spend notices already sent (one row
per threshold, scope and period: the guard that makes each notice fire once). The notice thresholds live in
apps.spending.models."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES
from apps.organizations.models import Membership, Organization
from apps.seats.models import Product
from apps.usage.models import AIModel

MONEY = {"max_digits": MONEY_MAX_DIGITS, "decimal_places": MONEY_PLACES}


class OrgDailyUsage(models.Model):
    """An organization's spend and tokens per local day, model and product: the sum of its members'
    UsageDailyRollup rows for that day. Rebuilt (never incremented) from the rollups by
    `services.org_daily_refresh`, so a rerun cannot double-count; readers check it against the organization's
    event counters and fall back to the rollups when it is behind."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    period_start = models.DateField()
    day = models.DateField()
    model = models.ForeignKey(AIModel, on_delete=models.PROTECT, related_name="+")
    product = models.CharField(max_length=20, choices=Product.choices)
    cost = models.DecimalField(**MONEY, default=0)
    included_cost = models.DecimalField(**MONEY, default=0)
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_read_tokens = models.BigIntegerField(default=0)
    event_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "model", "product"], name="org_daily_unique_day_model_product"
            )
        ]


class NoticeScope(models.TextChoices):
    MEMBER_LIMIT = "member_limit", _("Member's spend limit")
    MEMBER_ALLOWANCE = "member_allowance", _("Member's included usage")
    ORG_CAP = "org_cap", _("Organization's spend cap")


class SpendNotice(models.Model):
    """A threshold crossed and notified: at most one per (organization, scope, member, threshold, period). The
    row is claimed before the email is sent (after commit), so concurrent checks and task retries send once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(max_length=20, choices=NoticeScope.choices)
    membership = models.ForeignKey(Membership, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    threshold = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(100)])
    period_start = models.DateField()
    limit_amount = models.DecimalField(**MONEY)
    spend = models.DecimalField(**MONEY)
    recipients = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "scope", "membership", "threshold", "period_start"],
                condition=Q(membership__isnull=False), name="spend_notice_once_per_member",
            ),
            models.UniqueConstraint(
                fields=["organization", "scope", "threshold", "period_start"],
                condition=Q(membership__isnull=True), name="spend_notice_once_per_org",
            ),
            models.CheckConstraint(
                condition=Q(scope="org_cap", membership__isnull=True)
                | (~Q(scope="org_cap") & Q(membership__isnull=False)),
                name="spend_notice_scope_matches_target",
            ),
        ]
        indexes = [models.Index(fields=["organization", "period_start"])]

    def __str__(self):
        return f"{self.scope} {self.threshold}% {self.period_start}"
