"""Seat fees prorated by the local days each tier was held, with the upgrade already charged shown as its own
credit line so it is never charged twice. Team tiers: Standard $30, Premium $150 a month."""

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

import pytest

from apps.invoicing.models import LineKind
from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind
from apps.seats.models import SeatCharge, TierCode
from apps.seats.services import seat_assign
from tests.factories import OrganizationFactory, member, tier

from .helpers import at

pytestmark = pytest.mark.django_db

STANDARD, PREMIUM = Decimal("30.00"), Decimal("150.00")
MONTHS = {28: dt.date(2026, 2, 1), 30: dt.date(2026, 4, 1), 31: dt.date(2026, 1, 1)}


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _issue(org, start: dt.date, tz="UTC"):
    following = dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return invoice_issue_for_period(organization=org, period_start=start,
                                    now=at(tz, following.year, following.month, 1, 0, 20))


def _seat_lines(invoice, membership):
    """{(SEAT_FEE, tier label): days held} for each tier of the member's ONE seat-fee line, (SEAT_FEE, None):
    (days, the line's amount, rounded once), and (kind, None): (days, amount) for the other lines."""
    labels = dict(TierCode.choices)
    result = {}
    for line in invoice.lines.filter(membership=membership):
        if line.kind == LineKind.SEAT_FEE:
            for part in line.detail["tiers"]:
                result[(line.kind, labels[part["tier"]])] = part["days"]
        result[(line.kind, None)] = (line.days, line.amount)
    return result


def _member_total(invoice, membership) -> Decimal:
    return sum(line.amount for line in invoice.lines.filter(membership=membership, informational=False))


@pytest.mark.parametrize("days", [28, 30, 31])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_upgrade_bills_days_held_and_credits_the_upgrade_charge(days, where):
    start = MONTHS[days]
    day = {"first": 1, "middle": 15, "last": days}[where]
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    m = member(org, tier_code="standard", since=at("UTC", 2025, 12, 1))
    seat_assign(membership=m, tier=tier(org, "premium"), now=at("UTC", start.year, start.month, day, 12))

    invoice = _issue(org, start)
    standard_days, premium_days = day - 1, days - day + 1
    charge = cents((PREMIUM - STANDARD) * premium_days / days)
    assert SeatCharge.objects.get(membership=m).amount.amount == charge
    lines = _seat_lines(invoice, m)
    expected = {(LineKind.SEAT_FEE, "Premium"): premium_days,
                (LineKind.SEAT_FEE, None): (days, cents((PREMIUM * premium_days + STANDARD * standard_days) / days)),
                (LineKind.SEAT_UPGRADE_CHARGE, None): (premium_days, -charge)}
    if standard_days:
        expected[(LineKind.SEAT_FEE, "Standard")] = standard_days
    assert lines == expected
    # Seat fee for the month = days held at each tier; the upgrade charge already paid is not billed again.
    paid_at_upgrade = charge
    assert abs(_member_total(invoice, m) + paid_at_upgrade
               - (STANDARD * standard_days + PREMIUM * premium_days) / days) <= Decimal("0.015")


@pytest.mark.parametrize("days", [28, 30, 31])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_downgrade_bills_days_held_with_no_credit(days, where):
    start = MONTHS[days]
    day = {"first": 1, "middle": 15, "last": days}[where]
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    m = member(org, tier_code="premium", since=at("UTC", 2025, 12, 1))
    seat_assign(membership=m, tier=tier(org, "standard"), now=at("UTC", start.year, start.month, day, 12))

    invoice = _issue(org, start)
    premium_days, standard_days = day - 1, days - day + 1
    expected = {(LineKind.SEAT_FEE, "Standard"): standard_days,
                (LineKind.SEAT_FEE, None): (days, cents((STANDARD * standard_days + PREMIUM * premium_days) / days))}
    if premium_days:
        expected[(LineKind.SEAT_FEE, "Premium")] = premium_days
    assert _seat_lines(invoice, m) == expected
    assert not SeatCharge.objects.filter(membership=m).exists()


def test_upgrade_in_the_middle_of_november_hand_computed():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    m = member(org, tier_code="standard", since=at("UTC", 2026, 10, 3))
    seat_assign(membership=m, tier=tier(org, "premium"), now=at("UTC", 2026, 11, 12, 9))

    invoice = _issue(org, dt.date(2026, 11, 1))
    rows = [(line.description, line.amount) for line in invoice.lines.filter(membership=m)]
    assert rows == [
        ("Standard seat, Nov 1–11 (11 of 30 days); Premium seat, Nov 12–30 (19 of 30 days)", Decimal("106.00")),
        ("Standard → Premium upgrade on Nov 12, already charged (19 of 30 days)", Decimal("-76.00")),
    ]
    assert invoice.total == Decimal("30.00")


def test_upgrade_then_downgrade_in_one_month_bills_each_stretch():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    m = member(org, tier_code="standard", since=at("UTC", 2026, 10, 3))
    seat_assign(membership=m, tier=tier(org, "premium"), now=at("UTC", 2026, 11, 11, 9))  # charged 20 days: 80.00
    seat_assign(membership=m, tier=tier(org, "standard"), now=at("UTC", 2026, 11, 21, 9))

    invoice = _issue(org, dt.date(2026, 11, 1))
    rows = [(line.description, line.amount) for line in invoice.lines.filter(membership=m)]
    assert rows == [
        ("Standard seat, Nov 1–10, Nov 21–30 (20 of 30 days); Premium seat, Nov 11–20 (10 of 30 days)",
         Decimal("70.00")),
        ("Standard → Premium upgrade on Nov 11, already charged (20 of 30 days)", Decimal("-80.00")),
    ]
    # 80.00 paid at the upgrade + 10.00 now = the 90.00 the days held cost (10 premium + 20 standard days).
    assert invoice.total == Decimal("-10.00")


def test_a_member_who_joins_or_leaves_mid_month_is_billed_for_the_days_held():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    joiner = member(org, tier_code="standard", since=at("UTC", 2026, 11, 21, 15))
    leaver = member(org, tier_code="standard", since=at("UTC", 2026, 10, 1))
    seat_assign(membership=leaver, tier=None, now=at("UTC", 2026, 11, 6, 15))  # the removal day is not billed

    invoice = _issue(org, dt.date(2026, 11, 1))
    assert _seat_lines(invoice, joiner) == {(LineKind.SEAT_FEE, "Standard"): 10,
                                            (LineKind.SEAT_FEE, None): (10, Decimal("10.00"))}
    assert _seat_lines(invoice, leaver) == {(LineKind.SEAT_FEE, "Standard"): 5,
                                            (LineKind.SEAT_FEE, None): (5, Decimal("5.00"))}


NY = "America/New_York"


def test_spring_forward_month_counts_local_days():
    # March 2026 in New York: DST begins on Sunday March 8 (the day has 23 hours); the month has 31 local days.
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, billing_timezone=NY)
    m = member(org, tier_code="standard", since=at(NY, 2026, 3, 1, 0, 0))  # 05:00 UTC
    seat_assign(membership=m, tier=tier(org, "premium"), now=at(NY, 2026, 3, 8, 3, 30))  # just after the jump

    invoice = _issue(org, dt.date(2026, 3, 1), tz=NY)
    assert _seat_lines(invoice, m) == {
        (LineKind.SEAT_FEE, "Standard"): 7, (LineKind.SEAT_FEE, "Premium"): 24,
        # One amount for the member's seat, rounded once: not 6.77 + 116.13 = 122.90.
        (LineKind.SEAT_FEE, None): (31, cents((STANDARD * 7 + PREMIUM * 24) / 31)),
        (LineKind.SEAT_UPGRADE_CHARGE, None): (24, -cents((PREMIUM - STANDARD) * 24 / 31)),
    }


def test_fall_back_month_counts_local_days_and_the_last_local_evening():
    # November 2026 in New York: DST ends on Sunday November 1 (a 25-hour day). An upgrade at 23:30 on
    # November 30 local time is already December 1 in UTC, yet it belongs to November's last day.
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, billing_timezone=NY)
    m = member(org, tier_code="standard", since=at(NY, 2026, 11, 1, 0, 0))  # 04:00 UTC (EDT)
    seat_assign(membership=m, tier=tier(org, "premium"), now=at(NY, 2026, 11, 30, 23, 30))

    invoice = _issue(org, dt.date(2026, 11, 1), tz=NY)
    assert _seat_lines(invoice, m) == {
        (LineKind.SEAT_FEE, "Standard"): 29, (LineKind.SEAT_FEE, "Premium"): 1,
        (LineKind.SEAT_FEE, None): (30, Decimal("34.00")),
        (LineKind.SEAT_UPGRADE_CHARGE, None): (1, Decimal("-4.00")),
    }
    assert invoice.total == Decimal("30.00")


def test_a_downgrade_just_after_local_midnight_on_the_fall_back_day():
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, billing_timezone=NY)
    m = member(org, tier_code="premium", since=at(NY, 2026, 10, 1))
    seat_assign(membership=m, tier=tier(org, "standard"), now=at(NY, 2026, 11, 2, 0, 15))  # 05:15 UTC (EST)

    invoice = _issue(org, dt.date(2026, 11, 1), tz=NY)
    assert _seat_lines(invoice, m) == {
        (LineKind.SEAT_FEE, "Premium"): 1, (LineKind.SEAT_FEE, "Standard"): 29,
        (LineKind.SEAT_FEE, None): (30, Decimal("34.00")),
    }


def test_hipaa_ready_usage_based_enterprise_adds_the_fee_per_seat_day():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, hipaa_ready=True)
    full = member(org, tier_code="chat", since=at("UTC", 2026, 10, 1))
    half = member(org, tier_code="chat_code", since=at("UTC", 2026, 11, 16, 8))

    invoice = _issue(org, dt.date(2026, 11, 1))
    assert _seat_lines(invoice, full) == {(LineKind.SEAT_FEE, "Chat"): 30,
                                          (LineKind.SEAT_FEE, None): (30, Decimal("20.00")),
                                          (LineKind.HIPAA, None): (30, Decimal("5.00"))}
    assert _seat_lines(invoice, half) == {(LineKind.SEAT_FEE, "Chat + Claude Code"): 15,
                                          (LineKind.SEAT_FEE, None): (15, Decimal("20.00")),
                                          (LineKind.HIPAA, None): (15, Decimal("2.50"))}
    assert invoice.total == Decimal("47.50")
