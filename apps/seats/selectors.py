"""Reads for seats: current tiers, the seat history invoices prorate by, and upgrade prorations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet

from apps.common.money import ZERO, round_to_cents
from apps.common.periods import local_date, period_containing
from apps.organizations.models import Membership, Organization

from .models import SeatAssignment, SeatCharge, SeatTier


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
    """What a tier change costs now, and what happens to the difference (the policy is docs/billing.md,
    "Proration": Stripe's, credit for unused time).

    Seat fees are billed in arrears by the days each tier was held. An upgrade is charged at once: the fee
    difference for the rest of the period (`gross` = (new fee − old fee) × remaining days / days in the period,
    in cents, half up), less what this period's earlier upgrade charges already paid for days still ahead
    (`credit`), so `amount` due now never pays twice for the same days. A downgrade charges nothing; the part of
    this period's upgrade charges that paid for days the seat will no longer hold (`unused_credit`) comes back
    as a credit on the next invoice, which bills each tier by the days it was held and credits every upgrade
    charge."""

    amount: Decimal
    fee_difference: Decimal
    remaining_days: int
    period_days: int
    period_start: dt.date
    gross: Decimal = ZERO
    credit: Decimal = ZERO
    unused_credit: Decimal = ZERO

    @property
    def is_upgrade(self) -> bool:
        return self.fee_difference > 0

    @property
    def is_downgrade(self) -> bool:
        return self.fee_difference < 0


def _tier_on_day(intervals: list[tuple[dt.date, dt.date | None, Decimal]], day: dt.date) -> Decimal | None:
    """The fee of the tier held at the end of a local day (the invoice's rule: the last interval holding it)."""
    fee = None
    for start, end, tier_fee in intervals:
        if start <= day and (end is None or end > day):
            fee = tier_fee
    return fee


def _upgrade_advance(*, organization: Organization, membership: Membership, period, today: dt.date,
                     now: dt.datetime, to_fee: Decimal, first_charge: SeatCharge) -> Decimal:
    """What this period's upgrade charges must have paid in all once the member holds `to_fee` from `today` on:
    from the day of the period's first upgrade charge, for each local day, how far that day's tier costs above
    the tier that first charge upgraded from, summed, × 1 / days in the period, in cents (half up)."""
    tz_name = organization.billing_timezone
    rows = (
        SeatAssignment.objects.filter(membership=membership, started_at__lt=now)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=period.starts_at))
        .order_by("started_at", "pk")
        .values_list("started_at", "ended_at", "tier__monthly_fee")
    )
    intervals = [(local_date(started, tz_name), local_date(ended, tz_name) if ended else None, Decimal(fee))
                 for started, ended, fee in rows]
    base = first_charge.from_tier.monthly_fee.amount
    day = local_date(first_charge.created_at, tz_name)
    total = ZERO
    while day < today:
        fee = _tier_on_day(intervals, day)
        if fee is not None and fee > base:
            total += fee - base
        day += dt.timedelta(days=1)
    remaining = period.days - (today - period.start).days
    total += max(ZERO, to_fee - base) * remaining
    return round_to_cents(total / period.days)


def seat_change_proration(*, organization: Organization, from_tier: SeatTier | None, to_tier: SeatTier | None,
                          now: dt.datetime, membership: Membership | None = None) -> Proration:
    """The prorated amount due now for moving from one tier to another at `now`.

    The change day counts as a day of the new tier, so a change on the first of the month costs the whole
    difference and one on the last day costs one day of it. Days are local days in the billing time zone, so a
    daylight-saving change does not make a day longer or shorter.

    With `membership`, this period's seat history and upgrade charges count too (what seat_assign charges and
    the confirmation dialogs state): an upgrade back within the period is charged only for days no earlier
    charge paid for, and a downgrade states the unused part of earlier charges, credited on the next invoice.
    """
    period = period_containing(now, organization.billing_timezone)
    today = local_date(now, organization.billing_timezone)
    remaining = period.days - (today - period.start).days
    old_fee = from_tier.monthly_fee.amount if from_tier else ZERO
    new_fee = to_tier.monthly_fee.amount if to_tier else ZERO
    difference = new_fee - old_fee
    gross = round_to_cents(difference * remaining / period.days) if difference > 0 else ZERO
    if membership is None or from_tier is None:
        return Proration(amount=gross, fee_difference=difference, remaining_days=remaining,
                         period_days=period.days, period_start=period.start, gross=gross)
    charges = list(SeatCharge.objects.filter(membership=membership, period_start=period.start)
                   .select_related("from_tier").order_by("created_at", "pk"))
    if not charges:
        return Proration(amount=gross, fee_difference=difference, remaining_days=remaining,
                         period_days=period.days, period_start=period.start, gross=gross)
    charged = sum((charge.amount.amount for charge in charges), ZERO)
    needed = _upgrade_advance(organization=organization, membership=membership, period=period, today=today,
                              now=now, to_fee=new_fee, first_charge=charges[0])
    amount = max(ZERO, needed - charged) if difference > 0 else ZERO
    return Proration(
        amount=amount,
        fee_difference=difference,
        remaining_days=remaining,
        period_days=period.days,
        period_start=period.start,
        gross=gross,
        credit=max(ZERO, gross - amount) if difference > 0 else ZERO,
        unused_credit=max(ZERO, charged - needed) if difference < 0 else ZERO,
    )

