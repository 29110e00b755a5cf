"""Prorating a tier change: (new fee − old fee) × remaining days / days in the period, in cents, half up.
The change day counts as a day of the new tier."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.organizations.models import AuditEntry, PlanKind
from apps.seats.models import SeatAssignment, SeatCharge
from apps.seats.selectors import seat_change_proration, seat_history
from apps.seats.services import seat_assign
from tests.factories import OrganizationFactory, member, tier

pytestmark = pytest.mark.django_db
UTC = dt.UTC


@pytest.fixture
def team():
    return OrganizationFactory(plan_kind=PlanKind.TEAM, billing_timezone="Asia/Tokyo")  # $30 → $150: +$120


def tokyo(y, m, d, hour=12):
    return dt.datetime(y, m, d, hour, tzinfo=dt.timezone(dt.timedelta(hours=9)))


@pytest.mark.parametrize(("moment", "remaining", "amount"), [
    (tokyo(2026, 11, 1, 0), 30, Decimal("120.00")),   # first day: the whole difference
    (tokyo(2026, 11, 16), 15, Decimal("60.00")),      # middle: 15 of 30 days
    (tokyo(2026, 11, 30, 23), 1, Decimal("4.00")),    # last day: one day of it
    (tokyo(2026, 2, 20), 9, Decimal("38.57")),        # 120 × 9 / 28 = 38.5714… → 38.57
])
def test_upgrade_proration_on_first_middle_and_last_day(team, moment, remaining, amount):
    proration = seat_change_proration(organization=team, from_tier=tier(team, "standard"),
                                      to_tier=tier(team, "premium"), now=moment.astimezone(UTC))
    assert (proration.remaining_days, proration.amount, proration.fee_difference) == (
        remaining, amount, Decimal("120.00"))
    assert proration.is_upgrade


def test_proration_counts_days_in_the_billing_time_zone(team):
    # 15:00 UTC on 31 October is already 1 November in Tokyo: the first day of November's period.
    proration = seat_change_proration(organization=team, from_tier=tier(team, "standard"),
                                      to_tier=tier(team, "premium"), now=dt.datetime(2026, 10, 31, 15, tzinfo=UTC))
    assert (proration.period_start, proration.remaining_days, proration.period_days) == (
        dt.date(2026, 11, 1), 30, 30)


def test_proration_rounds_half_up_to_cents():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)  # chat $20 → chat_code $40: +$20
    # January has 31 days; a change on the 16th leaves 16: 20 × 16 / 31 = 10.3225… → 10.32
    proration = seat_change_proration(organization=org, from_tier=tier(org, "chat"), to_tier=tier(org, "chat_code"),
                                      now=dt.datetime(2026, 1, 16, tzinfo=UTC))
    assert (proration.remaining_days, proration.amount) == (16, Decimal("10.32"))


def test_downgrade_costs_nothing_now(team):
    proration = seat_change_proration(organization=team, from_tier=tier(team, "premium"),
                                      to_tier=tier(team, "standard"), now=tokyo(2026, 11, 16).astimezone(UTC))
    assert proration.amount == 0 and not proration.is_upgrade


def test_seat_change_closes_the_interval_charges_the_upgrade_and_audits(team):
    start = tokyo(2026, 11, 1, 9).astimezone(UTC)
    membership = member(team, email="pat@example.com", tier_code="standard", since=start)
    change = tokyo(2026, 11, 16).astimezone(UTC)
    seat_assign(membership=membership, tier=tier(team, "premium"), now=change)
    intervals = list(SeatAssignment.objects.filter(membership=membership).order_by("started_at").values_list(
        "tier__code", "started_at", "ended_at"))
    assert intervals == [("standard", start, change), ("premium", change, None)]
    charge = SeatCharge.objects.get(membership=membership)
    assert (charge.amount.amount, charge.remaining_days, charge.period_days) == (Decimal("60.00"), 15, 30)
    assert AuditEntry.objects.filter(organization=team, action="seat.change", old_value="standard",
                                     new_value="premium").exists()
    # The same tier again changes nothing.
    seat_assign(membership=membership, tier=tier(team, "premium"), now=change + dt.timedelta(days=1))
    assert SeatAssignment.objects.filter(membership=membership).count() == 2
    period = (tokyo(2026, 11, 1, 0).astimezone(UTC), tokyo(2026, 12, 1, 0).astimezone(UTC))
    assert seat_history(organization=team, starts_at=period[0], ends_at=period[1]).count() == 2
