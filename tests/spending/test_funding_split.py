"""The funding split: the seat's included usage first, the rest extra usage (drawn from Team's prepaid
balance), and all of it pooled on usage-based Enterprise."""

from decimal import Decimal

from djmoney.money import Money

from apps.organizations.models import PlanKind
from apps.seats.models import SeatTier
from apps.spending.funding import funding_split
from apps.usage.models import Funding
from apps.usage.selectors import Counters

D = Decimal


def tier(included: str) -> SeatTier:
    return SeatTier(code="standard", included_usage=Money(included, "USD"))


def test_an_event_inside_the_allowance_is_included():
    split = funding_split(plan_kind=PlanKind.TEAM, tier=tier("25"), counters=Counters(D("10"), D("10")), cost=D("5"))
    assert (split.included, split.prepaid, split.funding) == (D("5"), D("0"), Funding.INCLUDED)


def test_an_event_crossing_the_end_of_the_allowance_is_split_and_teams_draw_the_rest_from_prepaid():
    split = funding_split(plan_kind=PlanKind.TEAM, tier=tier("25"), counters=Counters(D("24"), D("24")),
                          cost=D("3.5"))
    assert (split.included, split.prepaid, split.funding) == (D("1"), D("2.5"), Funding.EXTRA_USAGE)


def test_seat_based_enterprise_bills_extra_usage_in_arrears_not_from_a_balance():
    split = funding_split(plan_kind=PlanKind.ENTERPRISE_SEAT, tier=tier("30"), counters=Counters(D("40"), D("30")),
                          cost=D("2"))
    assert (split.included, split.prepaid, split.funding) == (D("0"), D("0"), Funding.EXTRA_USAGE)


def test_a_member_without_a_seat_has_no_allowance():
    split = funding_split(plan_kind=PlanKind.TEAM, tier=None, counters=Counters(), cost=D("1"))
    assert (split.included, split.prepaid, split.funding) == (D("0"), D("1"), Funding.EXTRA_USAGE)


def test_usage_based_enterprise_pools_everything():
    split = funding_split(plan_kind=PlanKind.ENTERPRISE_USAGE, tier=tier("0"), counters=Counters(D("9"), D("0")),
                          cost=D("0.0045"))
    assert (split.cost, split.included, split.prepaid, split.funding) == (D("0.0045"), D("0"), D("0"),
                                                                           Funding.POOLED)
