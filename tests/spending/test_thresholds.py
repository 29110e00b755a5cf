"""Threshold detection: a notice is due when usage crosses a threshold of the member's personal limit, of
their seat's included usage, or of the organization cap, and only on the crossing."""

from decimal import Decimal

from djmoney.money import Money

from apps.seats.models import SeatTier
from apps.spending.thresholds import personal_limit, spend_thresholds_newly_reached, thresholds_reached
from apps.usage.models import CapScope, SpendCap
from apps.usage.selectors import Counters, OrgCaps

D = Decimal
NOTHING = Counters()


def caps(*, member=None, tier=None, org=None) -> OrgCaps:
    return OrgCaps(
        SpendCap(scope=CapScope.ORGANIZATION, amount=org) if org is not None else None,
        {7: SpendCap(scope=CapScope.SEAT_TIER, tier_id=7, amount=tier)} if tier is not None else {},
        {1: SpendCap(scope=CapScope.MEMBER, membership_id=1, amount=member)} if member is not None else {},
    )


def crossed(*, before, after, org_before=NOTHING, org_after=NOTHING, seat_based=False, included="0",
            thresholds=(80, 100), **limits) -> bool:
    return spend_thresholds_newly_reached(
        thresholds=list(thresholds), caps=caps(**limits), membership_id=1,
        tier=SeatTier(pk=7, included_usage=Money(included, "USD")), seat_based=seat_based,
        before=before, after=after, org_before=org_before, org_after=org_after)


def test_reached_thresholds_of_a_limit_and_a_zero_limit_is_reached_from_the_start():
    assert thresholds_reached(thresholds=[50, 80, 100], spend=D("8"), limit=D("10")) == [50, 80]
    assert thresholds_reached(thresholds=[80], spend=D("0"), limit=D("0")) == [80]
    assert thresholds_reached(thresholds=[80], spend=D("1000"), limit=None) == []


def test_the_personal_limit_is_the_lower_of_the_member_and_tier_caps():
    assert personal_limit(caps=caps(member=D("50"), tier=D("10")), membership_id=1, tier_id=7) == D("10")
    assert personal_limit(caps=caps(org=D("5")), membership_id=1, tier_id=7) is None


def test_only_the_event_that_crosses_a_threshold_makes_a_notice_due():
    assert crossed(before=Counters(D("7")), after=Counters(D("8")), member=D("10"))
    assert not crossed(before=Counters(D("8")), after=Counters(D("9")), member=D("10"))
    assert crossed(before=Counters(D("9")), after=Counters(D("10")), member=D("10"))


def test_included_usage_thresholds_count_on_seat_based_plans_only():
    before, after = Counters(D("19"), D("19")), Counters(D("21"), D("21"))
    assert crossed(before=before, after=after, seat_based=True, included="25")
    assert not crossed(before=before, after=after, seat_based=False, included="25")


def test_the_organization_cap_is_measured_on_the_organizations_capped_spend():
    assert crossed(before=Counters(), after=Counters(D("1")), org_before=Counters(D("79")),
                   org_after=Counters(D("80")), org=D("100"))
