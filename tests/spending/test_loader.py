"""The one spend-context loader, on randomized states (hypothesis): every way of finding a member reads the
context the state holds, and the ORM readers still left for pages give the loader's answers: the extra-usage
summary behind "Request extra usage" (apps/extra_usage/selectors.py, below spending), the console's member rows
(month-to-date spend, sorted in the database) and its organization-cap meter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.common.periods import period_containing
from apps.console.selectors import members_page, org_cap_summary
from apps.extra_usage.models import ExtraUsageRequest, ExtraUsageSettings, MemberExtraUsage, RequestStatus
from apps.organizations.models import PlanKind
from apps.seats.models import SeatTier
from apps.spending.models import DEFAULT_THRESHOLDS, NotificationSettings
from apps.spending.requests import member_extra_usage_summary
from apps.spending.selectors import (
    Reason,
    admission_check,
    admission_for_key,
    spend_context_for_user,
    spend_context_load,
    spend_contexts_load,
)
from apps.usage.models import CapScope, MemberPeriodUsage, OrgUsageSlot
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db

money = st.decimals(min_value=0, max_value=60, places=2)
# A cap: no row, a row set to unlimited (amount None), or an amount.
caps = st.one_of(st.just("absent"), st.just("unlimited"), money)


@st.composite
def states(draw):
    plan = draw(st.sampled_from([PlanKind.TEAM, PlanKind.ENTERPRISE_SEAT, PlanKind.ENTERPRISE_USAGE]))
    members = draw(st.lists(st.fixed_dictionaries({
        "seat": st.sampled_from([None, 0, 1, 1]),
        "spend": money,
        "member_cap": caps,
        "switch": st.sampled_from([None, True, False]),
        "request": st.sampled_from([None, RequestStatus.PENDING, RequestStatus.DENIED]),
    }), min_size=1, max_size=3))
    extra = draw(st.none() | st.fixed_dictionaries({
        "enabled": st.booleans(), "all_members": st.booleans(), "requests_enabled": st.booleans(),
        "prepaid_balance": st.decimals(min_value=-5, max_value=20, places=2),
        "auto_reload_enabled": st.booleans(),
    }))
    return {
        "plan": plan, "members": members, "extra": extra, "org_cap": draw(caps),
        "tier_caps": [draw(caps), draw(caps)],
        "thresholds": draw(st.none() | st.lists(st.integers(1, 100), min_size=1, max_size=5, unique=True)),
    }


def _cap(organization, scope, value, **target):
    if value != "absent":
        cap_set(organization=organization, scope=scope, amount=None if value == "unlimited" else value, **target)


def build(state, now):
    """The organization the state describes, with its members, their counters this period and an API key."""
    org = OrganizationFactory(plan_kind=state["plan"])
    period = period_containing(now, org.billing_timezone)
    tiers = list(SeatTier.objects.filter(organization=org).order_by("position"))
    for tier, value in zip(tiers, state["tier_caps"], strict=True):
        if org.plan_kind != PlanKind.TEAM:  # tier caps are an Enterprise setting
            _cap(org, CapScope.SEAT_TIER, value, tier=tier)
    _cap(org, CapScope.ORGANIZATION, state["org_cap"])
    if state["extra"] is not None:
        ExtraUsageSettings.objects.create(organization=org, reload_threshold=Decimal("5"),
                                          reload_amount=Decimal("20"), **state["extra"])
    if state["thresholds"] is not None:
        NotificationSettings.objects.create(organization=org, thresholds=state["thresholds"], updated_at=now)
    memberships, total, total_included = [], Decimal(0), Decimal(0)
    for spec in state["members"]:
        seat = spec["seat"]
        m = member(org, seat=seat is not None, tier_code=tiers[seat].code if seat is not None else None,
                   since=now - dt.timedelta(days=40))
        tier = tiers[seat] if seat is not None else None
        included = Decimal(0)
        if tier is not None and org.is_seat_based:
            included = min(spec["spend"], tier.included_usage.amount)
        MemberPeriodUsage.objects.create(organization=org, membership=m, period_start=period.start,
                                         spend=spec["spend"], included_spend=included)
        total, total_included = total + spec["spend"], total_included + included
        _cap(org, CapScope.MEMBER, spec["member_cap"], membership=m)
        if spec["switch"] is not None:
            MemberExtraUsage.objects.create(membership=m, enabled=spec["switch"])
        if spec["request"] is not None:
            ExtraUsageRequest.objects.create(
                organization=org, membership=m, status=spec["request"], period_start=period.start,
                created_at=now - dt.timedelta(days=2),
                resolved_at=now - dt.timedelta(days=1) if spec["request"] == RequestStatus.DENIED else None)
        memberships.append(m)
    OrgUsageSlot.objects.create(organization=org, period_start=period.start, slot=0, spend=total,
                                included_spend=total_included)
    return org, period, memberships, api_key(org)


def snapshot(found):
    """What a reader sees of one member's context."""
    context, status = found.context, found.status
    return (
        found.membership.pk, found.tier.pk if found.tier else None, found.member,
        status.limit, status.source, status.remaining, status.blocked,
        context.org, context.notice_thresholds, context.settings.enabled, context.settings.all_members,
        context.settings.prepaid_balance, found.membership.pk in context.extra_enabled_members,
        context.reload_possible,
    )


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(state=states())
def test_every_way_of_finding_a_member_reads_the_context_the_state_holds(state):
    now = timezone.now()
    org, period, memberships, raw_key = build(state, now)
    _, by_id = spend_contexts_load(organization=org, period=period, membership_ids=[m.pk for m in memberships])
    _, by_email = spend_contexts_load(organization=org, period=period, emails=[m.user.email for m in memberships])
    for m, spec in zip(memberships, state["members"], strict=True):
        found = by_id[m.pk]
        # The state, as drawn.
        assert found.member.spend == spec["spend"]
        assert found.context.notice_thresholds == sorted(state["thresholds"] or DEFAULT_THRESHOLDS)
        member_cap = found.context.caps.members.get(m.pk)
        assert (member_cap.amount if member_cap else "absent") == (
            None if spec["member_cap"] == "unlimited" else spec["member_cap"])
        # Every variant of the statement reads the same.
        expected = snapshot(found)
        assert snapshot(by_email[m.user.email]) == expected
        assert snapshot(spend_context_load(organization=org, email=m.user.email, period=period)) == expected
        assert snapshot(spend_context_for_user(user_id=m.user_id, slug=org.slug, now=now)) == expected
        keyed = admission_for_key(raw_key=raw_key, email=m.user.email, product=None, now=now)
        assert keyed.admission == admission_check(organization=org, membership=m, product=None, now=now)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(state=states())
def test_the_orm_readers_left_for_pages_give_the_loaders_answers(state):
    now = timezone.now()
    org, period, memberships, _ = build(state, now)
    context, found = spend_contexts_load(organization=org, period=period,
                                         membership_ids=[m.pk for m in memberships])
    # The extra-usage summary ("Request extra usage") decides as admission does.
    for m in memberships:
        admission = admission_check(organization=org, membership=m, product=None, now=now)
        summary = member_extra_usage_summary(membership=m, now=now)
        expected_reason = None if admission.reason == Reason.PREPAID_BALANCE_EXHAUSTED else admission.reason
        assert summary.blocked_reason == expected_reason
        assert summary.can_request == admission.can_request_extra_usage
        assert summary.included_spend == found[m.pk].member.included_spend
    # The console's member rows and organization-cap meter.
    _, rows = members_page(organization=org, period_start=period.start, with_limits=True)
    for row in rows:
        assert row.mtd_spend == found[row.membership.pk].member.spend
        assert row.status == found[row.membership.pk].status
    summary = org_cap_summary(organization=org, period_start=period.start)
    cap = context.caps.organization
    assert summary.limit == (cap.amount if cap is not None else None)
    if summary.limit is not None:
        assert summary.spend == context.org.capped
