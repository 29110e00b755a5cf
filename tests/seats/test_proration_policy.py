"""The proration policy (docs/billing.md, "Proration": credit for unused time). Seat fees are billed in arrears by
the days each tier was held; an upgrade is charged at once for the rest of the period, less what this period's
earlier upgrade charges already paid for; a downgrade charges nothing and the unused part of an upgrade charge
comes back on the next invoice. Upgrading back within a period never charges twice for the same days."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from apps.console.audit import audit_sentence
from apps.invoicing.models import LineKind
from apps.invoicing.selectors import invoice_lines_compute
from apps.organizations.models import AuditEntry, PlanKind
from apps.seats.models import SeatCharge
from apps.seats.selectors import seat_change_proration
from apps.seats.services import seat_assign
from tests.factories import OrganizationFactory, member, tier

pytestmark = pytest.mark.django_db
UTC = dt.UTC


def tokyo(y, m, d, hour=12):
    return dt.datetime(y, m, d, hour, tzinfo=dt.timezone(dt.timedelta(hours=9))).astimezone(UTC)


@pytest.fixture
def team():
    return OrganizationFactory(plan_kind=PlanKind.TEAM, billing_timezone="Asia/Tokyo")  # $30 → $150: +$120


def _charges(membership):
    return [c.amount.amount for c in SeatCharge.objects.filter(membership=membership).order_by("created_at")]


def _seat_total_on_invoice(team, membership):
    """The member's seat lines on November's invoice (seat fees by days held, less upgrades already charged)."""
    from apps.common.periods import period_for_start
    period = period_for_start(dt.date(2026, 11, 1), team.billing_timezone)
    lines = invoice_lines_compute(organization=team, period=period, usage_from=None, usage_cutoff=period.ends_at)
    return sum((line.unrounded_amount for line in lines if line.membership_id == membership.pk and line.kind in (
        LineKind.SEAT_FEE, LineKind.SEAT_UPGRADE_CHARGE)), Decimal(0))


def test_upgrade_back_within_the_period_never_charges_twice_for_the_same_days(team):
    standard, premium = tier(team, "standard"), tier(team, "premium")
    pat = member(team, email="pat@example.com", tier_code="standard", since=tokyo(2026, 10, 1))

    # Nov 10: Standard → Premium, 21 of 30 days left: 120 × 21 / 30 = 84.00 charged now.
    seat_assign(membership=pat, tier=premium, now=tokyo(2026, 11, 10))
    assert _charges(pat) == [Decimal("84.00")]

    # Nov 12: back to Standard. Nothing charged or refunded now; Premium was used on the 10th and 11th
    # (2 × 120 / 30 = 8.00), so 76.00 of the upgrade charge is unused: credited on the next invoice.
    down = seat_change_proration(organization=team, from_tier=premium, to_tier=standard, now=tokyo(2026, 11, 12),
                                 membership=pat)
    assert (down.amount, down.unused_credit, down.is_downgrade) == (Decimal("0"), Decimal("76.00"), True)
    seat_assign(membership=pat, tier=standard, now=tokyo(2026, 11, 12))
    assert _charges(pat) == [Decimal("84.00")]

    # Nov 15: Premium again. The 16 days ahead (64.00) were already paid by the first charge: nothing due.
    up = seat_change_proration(organization=team, from_tier=standard, to_tier=premium, now=tokyo(2026, 11, 15),
                               membership=pat)
    assert (up.gross, up.credit, up.amount) == (Decimal("64.00"), Decimal("64.00"), Decimal("0"))
    seat_assign(membership=pat, tier=premium, now=tokyo(2026, 11, 15))
    assert _charges(pat) == [Decimal("84.00")]
    # Once more the same day: still nothing.
    seat_assign(membership=pat, tier=standard, now=tokyo(2026, 11, 15, 13))
    seat_assign(membership=pat, tier=premium, now=tokyo(2026, 11, 15, 14))
    assert _charges(pat) == [Decimal("84.00")]

    # The invoice bills the days held: Standard Nov 1–9 and 12–14 (12 days × 30/30), Premium Nov 10–11 and
    # 15–30 (18 days × 150/30 = 90), less the 84.00 already charged. Charged now + invoiced = days held.
    assert _seat_total_on_invoice(team, pat) == Decimal("12") + Decimal("90") - Decimal("84")


def test_a_second_upgrade_pays_only_the_days_no_earlier_charge_paid_for():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, billing_timezone="UTC")  # $40 → $200: +$160
    standard, premium = tier(org, "standard"), tier(org, "premium")
    sam = member(org, email="sam@example.com", tier_code="standard", since=dt.datetime(2026, 10, 1, tzinfo=UTC))
    # Nov 21 → Premium: 160 × 10 / 30 = 53.33.
    seat_assign(membership=sam, tier=premium, now=dt.datetime(2026, 11, 21, 9, tzinfo=UTC))
    seat_assign(membership=sam, tier=standard, now=dt.datetime(2026, 11, 23, 9, tzinfo=UTC))
    # Nov 23 → Premium again the same day: the 8 days ahead were paid by the first charge.
    seat_assign(membership=sam, tier=premium, now=dt.datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert _charges(sam) == [Decimal("53.33")]
    # A member who began the period on Premium pays the usual upgrade charge on a later upgrade back: no earlier
    # charge paid for those days.
    vip = member(org, email="vip@example.com", tier_code="premium", since=dt.datetime(2026, 10, 1, tzinfo=UTC))
    seat_assign(membership=vip, tier=standard, now=dt.datetime(2026, 11, 5, tzinfo=UTC))
    seat_assign(membership=vip, tier=premium, now=dt.datetime(2026, 11, 21, tzinfo=UTC))
    assert _charges(vip) == [Decimal("53.33")]


def test_upgrade_charge_is_in_the_audit_trail_as_a_sentence_with_its_amount(team):
    pat = member(team, email="pat@example.com", tier_code="standard", since=tokyo(2026, 10, 1))
    seat_assign(membership=pat, tier=tier(team, "premium"), now=tokyo(2026, 11, 16))
    entry = AuditEntry.objects.get(organization=team, action="seat.charge")
    charge = SeatCharge.objects.get(membership=pat)
    with translation.override("en"):
        sentence = audit_sentence(entry)
    assert sentence == (
        f"Charged $60.00 for moving pat@example.com from a Standard seat to a Premium seat (the remaining 15 of "
        f"30 days of the period; reference {charge.reference}).")
    # A downgrade or a free upgrade back writes no charge row.
    seat_assign(membership=pat, tier=tier(team, "standard"), now=tokyo(2026, 11, 17))
    seat_assign(membership=pat, tier=tier(team, "premium"), now=tokyo(2026, 11, 18))
    assert AuditEntry.objects.filter(organization=team, action="seat.charge").count() == 1
    assert AuditEntry.objects.filter(organization=team, action="seat.change").count() == 4
