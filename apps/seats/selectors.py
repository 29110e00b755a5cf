"""Reads for seats: current tiers, the seat history invoices prorate by, and upgrade prorations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet

from apps.common.money import ZERO, round_to_cents
from apps.common.periods import local_date, period_containing
from apps.organizations.models import Membership, Organization

from .models import SeatAssignment, SeatTier


def seat_tiers(*, organization: Organization) -> list[SeatTier]:
    return list(SeatTier.objects.filter(organization=organization).order_by("position"))


def seat_current(*, membership: Membership) -> SeatAssignment | None:
    return (
        SeatAssignment.objects.select_related("tier")
        .filter(membership=membership, ended_at__isnull=True)
        .first()
    )


def seat_history(*, organization: Organization, starts_at: dt.datetime, ends_at: dt.datetime) -> QuerySet:
    """Every seat interval that overlaps [starts_at, ends_at), for prorating a period's seat fees."""
    return (
        SeatAssignment.objects.filter(organization=organization, started_at__lt=ends_at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=starts_at))
        .select_related("tier", "membership__user")
        .order_by("membership_id", "started_at")
    )


@dataclass(frozen=True)
class Proration:
    """What a tier change costs now: (new fee − old fee) × remaining days / days in the period, in cents
    (half up). Zero for a move to a tier that costs the same or less: downgrades take effect at once, with no
    refund, and the next invoice prorates by the days each tier was held."""

    amount: Decimal
    fee_difference: Decimal
    remaining_days: int
    period_days: int
    period_start: dt.date

    @property
    def is_upgrade(self) -> bool:
        return self.fee_difference > 0


def seat_change_proration(*, organization: Organization, from_tier: SeatTier | None, to_tier: SeatTier,
                          now: dt.datetime) -> Proration:
    """The prorated amount due now for moving from one tier to another at `now`.

    The change day counts as a day of the new tier, so a change on the first of the month costs the whole
    difference and one on the last day costs one day of it. Days are local days in the billing time zone, so a
    daylight-saving change does not make a day longer or shorter.
    """
    period = period_containing(now, organization.billing_timezone)
    today = local_date(now, organization.billing_timezone)
    remaining = period.days - (today - period.start).days
    old_fee = from_tier.monthly_fee.amount if from_tier else ZERO
    difference = to_tier.monthly_fee.amount - old_fee
    amount = round_to_cents(difference * remaining / period.days) if difference > 0 else ZERO
    return Proration(
        amount=amount,
        fee_difference=difference,
        remaining_days=remaining,
        period_days=period.days,
        period_start=period.start,
    )
