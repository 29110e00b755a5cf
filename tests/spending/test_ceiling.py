"""The binding limit forecasts stop at (spending.ceiling.spend_ceiling) is the admission decision's: on
randomized states of every plan, a member whose total spend reaches the ceiling is refused with the ceiling's
reason, and a cent below it is allowed. Built from in-memory contexts: no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from djmoney.money import Money
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.common.periods import period_for_start
from apps.extra_usage.models import ExtraUsageSettings
from apps.organizations.models import Membership, Organization, PlanKind
from apps.seats.models import SeatTier
from apps.spending.ceiling import spend_ceiling
from apps.spending.selectors import MemberContext, OrgContext, admission_decide
from apps.usage.models import CapScope, SpendCap
from apps.usage.selectors import Counters, OrgCaps

CENT = Decimal("0.01")
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
money = st.decimals(min_value=0, max_value=200, places=2)
maybe_cap = st.one_of(st.none(), money)


def _context(*, plan, member_cap, tier_cap, org_cap, allowance, included, extra, others, enabled, member_on,
             balance, auto_reload, total=None):
    organization = Organization(pk=1, plan_kind=plan, billing_timezone="UTC", slug="o", name="O")
    tier = SeatTier(pk=3, organization=organization, code="standard", products=["chat"],
                    monthly_fee=Money(40, "USD"), included_usage=Money(allowance if plan != PlanKind.ENTERPRISE_USAGE
                                                                        else 0, "USD"))
    membership = Membership(pk=7, organization=organization)
    def cap(scope, amount):
        return None if amount is None else SpendCap(scope=scope, amount=amount)
    caps = OrgCaps(cap(CapScope.ORGANIZATION, org_cap),
                   {3: cap(CapScope.SEAT_TIER, tier_cap)} if tier_cap is not None else {},
                   {7: cap(CapScope.MEMBER, member_cap)} if member_cap is not None else {})
    if plan == PlanKind.ENTERPRISE_USAGE:
        member = Counters(extra, Decimal(0))
    else:
        member = Counters(included + extra, included)
    org = Counters(member.spend + others, member.included_spend)
    context = OrgContext(organization=organization, period=period_for_start(dt.date(2026, 11, 1), "UTC"),
                         caps=caps, org=org,
                         settings=ExtraUsageSettings(enabled=enabled, all_members=member_on, prepaid_balance=balance,
                                                     auto_reload_enabled=auto_reload),
                         notice_thresholds=[], _reload_possible=auto_reload)
    return MemberContext(membership=membership, tier=tier, member=member, context=context)


def _at(found: MemberContext, total: Decimal, org: Counters) -> tuple[Counters, Counters]:
    """The member's and organization's counters once the member's total spend is `total` (included usage
    first, as recording funds it)."""
    allowance = found.tier.included_usage.amount
    if found.context.organization.plan_kind == PlanKind.ENTERPRISE_USAGE:
        member = Counters(total, Decimal(0))
    else:
        member = Counters(total, min(total, max(allowance, found.member.included_spend)))
    moved = Counters(org.spend + member.spend - found.member.spend,
                     org.included_spend + member.included_spend - found.member.included_spend)
    return member, moved


@settings(max_examples=300, deadline=None)
@given(plan=st.sampled_from([PlanKind.TEAM, PlanKind.ENTERPRISE_SEAT, PlanKind.ENTERPRISE_USAGE]),
       member_cap=maybe_cap, tier_cap=maybe_cap, org_cap=maybe_cap, allowance=money, used=money, extra=money,
       others=money, enabled=st.booleans(), member_on=st.booleans(), balance=money, auto_reload=st.booleans())
def test_admission_refuses_at_the_ceiling_with_its_reason_and_allows_a_cent_below(
        plan, member_cap, tier_cap, org_cap, allowance, used, extra, others, enabled, member_on, balance,
        auto_reload):
    included = min(used, allowance)
    extra = extra if used >= allowance else Decimal(0)  # extra usage only after the allowance
    found = _context(plan=plan, member_cap=member_cap, tier_cap=tier_cap, org_cap=org_cap, allowance=allowance,
                     included=included, extra=extra, others=others, enabled=enabled, member_on=member_on,
                     balance=balance, auto_reload=auto_reload)
    ceiling = spend_ceiling(found=found)
    context = found.context
    start = context.org
    if ceiling.amount is None:
        # Nothing binds: admission allows at any spend.
        member, org = _at(found, found.member.spend + Decimal(1000), start)
        context.org = org
        assert admission_decide(context=context, membership=found.membership, tier=found.tier, product="chat",
                                member=member, now=NOW, with_request_hint=False).allowed
        return
    assert ceiling.amount >= found.member.spend
    if plan == PlanKind.TEAM and ceiling.reason == "prepaid_balance_exhausted":
        # The balance drawn down by the extra usage spent up to the ceiling.
        context.settings.prepaid_balance = balance - (ceiling.amount - found.member.spend - max(
            found.tier.included_usage.amount - found.member.included_spend, Decimal(0)))
    member, org = _at(found, ceiling.amount, start)
    context.org = org
    decision = admission_decide(context=context, membership=found.membership, tier=found.tier, product="chat",
                                member=member, now=NOW, with_request_hint=False)
    assert not decision.allowed and decision.reason == ceiling.reason
    if ceiling.amount - CENT >= found.member.spend and ceiling.amount > found.member.spend:
        below, org = _at(found, ceiling.amount - CENT, start)
        context.org = org
        context.settings.prepaid_balance = balance - (below.capped - found.member.capped) if (
            plan == PlanKind.TEAM) else balance
        assert admission_decide(context=context, membership=found.membership, tier=found.tier, product="chat",
                                member=below, now=NOW, with_request_hint=False).allowed
