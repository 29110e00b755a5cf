"""Team auto-reload: "Reload when balance reaches X, buy Y, at most Z a month", exactly one reload per crossing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, Sum

from apps.common.money import ZERO
from apps.common.periods import period_containing
from apps.common.tasks import enqueue_on_commit
from apps.organizations.models import Organization, PlanKind

from ..models import ChargeKind, ChargeStatus, ExtraUsageSettings, PrepaidCharge
from .prepaid import MIN_PURCHASE, STALE_CHARGE_AFTER, charge_claim, charge_execute, dollars_validate
from .switches import settings_change

AUTO_RELOAD_TASK = "apps.extra_usage.tasks.auto_reload_task"


@transaction.atomic
def auto_reload_configure(*, organization: Organization, enabled: bool, threshold: Decimal | None,
                          amount: Decimal | None, monthly_limit: Decimal | None, actor=None,
                          now: dt.datetime) -> ExtraUsageSettings:
    """Team: "Reload when the balance reaches `threshold`, buy `amount`", at most `monthly_limit` of reloads per
    billing period (None: no limit). Turning it off keeps the figures. If the balance is already at or below
    the threshold, a reload is checked for right after commit."""
    if organization.plan_kind != PlanKind.TEAM:
        raise ValidationError("Auto-reload is offered on Team plans, which prepay extra usage.", code="not_offered")
    if enabled:
        threshold = dollars_validate(threshold, field="reload_threshold")
        amount = dollars_validate(amount, field="reload_amount", minimum=MIN_PURCHASE)
        monthly_limit = dollars_validate(monthly_limit, field="monthly_reload_limit", allow_none=True)
        if monthly_limit is not None and monthly_limit < amount:
            raise ValidationError({"monthly_reload_limit": "The monthly limit must allow at least one reload."})
        changes = {"auto_reload_enabled": True, "reload_threshold": threshold, "reload_amount": amount,
                   "monthly_reload_limit": monthly_limit}
    else:
        changes = {"auto_reload_enabled": False}
    row = settings_change(organization=organization, changes=changes, action="extra_usage.auto_reload",
                           actor=actor, now=now)
    if enabled:
        enqueue_on_commit(AUTO_RELOAD_TASK, organization.pk)
    return row



@transaction.atomic
def _reload_claim(*, organization: Organization, now: dt.datetime) -> PrepaidCharge | None:
    """Claim the reload for the current threshold crossing, or None when none is due or another worker holds it.

    The settings row is locked so the balance and the reload counts are read together: a reload that
    settles updates this row in its own transaction, so a claimant sees either the old balance and the pending
    claim, or the new balance. The key is f"{period}:{succeeded}:{failed}", the number of reloads settled so
    far this period: every claimant of one crossing computes the same key and all but the first collide on
    the unique (organization, idempotency_key) row (and, after success, on the ledger's (organization,
    reload_key)). A reload that settles moves the count, so the next crossing gets the next key.
    """
    row = ExtraUsageSettings.objects.select_for_update().filter(organization=organization).first()
    if row is None or not (row.enabled and row.auto_reload_enabled):
        return None
    if row.reload_amount is None or row.reload_threshold is None or row.reload_amount <= 0:
        return None
    if row.prepaid_balance > row.reload_threshold:
        return None
    period_start = period_containing(now, organization.billing_timezone).start
    counts = PrepaidCharge.objects.filter(
        organization=organization, kind=ChargeKind.AUTO_RELOAD, period_start=period_start
    ).aggregate(
        succeeded=Count("id", filter=Q(status=ChargeStatus.SUCCEEDED)),
        failed=Count("id", filter=Q(status=ChargeStatus.FAILED)),
        committed=Sum("amount", filter=~Q(status=ChargeStatus.FAILED)),
    )
    if row.monthly_reload_limit is not None and (counts["committed"] or ZERO) + row.reload_amount > (
        row.monthly_reload_limit
    ):
        return None
    key = f"{period_start:%Y-%m}:{counts['succeeded']}:{counts['failed']}"
    charge, created = charge_claim(organization=organization, kind=ChargeKind.AUTO_RELOAD,
                                    amount=row.reload_amount, idempotency_key=key, actor=None, now=now)
    return charge if created else None


def auto_reload_check(*, organization: Organization, now: dt.datetime) -> PrepaidCharge | None:
    """If the Team organization's balance is at or below its reload threshold, buy one reload of the set amount
    (within the monthly reload limit). Safe to call from any number of workers at once and to repeat: exactly
    one reload per crossing is claimed and charged. Returns the charge made now, or None."""
    if organization.plan_kind != PlanKind.TEAM:
        return None
    # A cheap unlocked look first: this runs after every usage batch, and most find nothing due.
    if not ExtraUsageSettings.objects.filter(
        organization=organization, enabled=True, auto_reload_enabled=True, reload_threshold__isnull=False,
        prepaid_balance__lte=F("reload_threshold"),
    ).exists():
        return None
    charge = _reload_claim(organization=organization, now=now)
    if charge is None:
        return None
    return charge_execute(charge=charge, now=now)


def auto_reload_resume_stale(*, now: dt.datetime) -> int:
    """Finish charges left pending by a worker that died between claim and settlement (same idempotency key,
    so the provider does not charge twice). Returns how many were retried."""
    stale = PrepaidCharge.objects.select_related("organization").filter(
        status=ChargeStatus.PENDING, created_at__lt=now - STALE_CHARGE_AFTER
    )
    count = 0
    for charge in stale:
        charge_execute(charge=charge, now=now)
        count += 1
    return count
