"""Included usage first, then extra usage: the split at the boundary and every refusal reason."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.extra_usage.services.auto_reload import auto_reload_configure
from apps.extra_usage.services.prepaid import prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable, extra_usage_members_choose, member_extra_usage_set
from apps.seats.selectors import seat_current
from apps.spending.requests import member_extra_usage_summary
from apps.spending.selectors import admission_check
from apps.usage.models import CapScope, MemberPeriodUsage, UsageEvent
from apps.usage.services import cap_set

from .conftest import assert_ledger_invariant, spend

pytestmark = pytest.mark.django_db


def admit(membership):
    return admission_check(organization=membership.organization, membership=membership, product="chat",
                           now=timezone.now())


def test_event_crossing_the_allowance_is_split_between_included_and_extra(seat_org):
    org, owner, _, std, _ = seat_org
    extra_usage_enable(organization=org, actor=owner.user, now=timezone.now())
    spend(org, "std@ent.example", "29.00")
    outcome = spend(org, "std@ent.example", "1.50")  # $30 included: $1.00 included, $0.50 extra
    event = UsageEvent.objects.get(pk=outcome.event.pk)
    assert event.funding == "extra_usage"
    assert event.included_cost == Decimal("1.00")
    assert event.cost - event.included_cost == Decimal("0.50")
    usage = MemberPeriodUsage.objects.get(membership=std)
    assert usage.included_spend == Decimal("30") and usage.spend == Decimal("30.50")
    assert usage.extra_usage_started_at is not None
    summary = member_extra_usage_summary(membership=std, now=timezone.now())
    assert summary.extra_cost == Decimal("0.50")
    assert summary.extra_usage_started_at == usage.extra_usage_started_at


def test_event_ending_exactly_at_the_allowance_is_all_included(seat_org):
    org, _, _, std, _ = seat_org
    outcome = spend(org, "std@ent.example", "30.00")
    assert outcome.event.funding == "included" and outcome.event.included_cost == Decimal("30")
    decision = admit(std)
    assert (decision.allowed, decision.reason) == (False, "included_usage_exhausted")


def test_org_extra_usage_off_refuses_with_included_usage_exhausted_and_offers_a_request(seat_org):
    org, _, _, std, _ = seat_org
    spend(org, "std@ent.example", "30.00")
    decision = admit(std)
    assert decision.reason == "included_usage_exhausted"
    assert decision.can_request_extra_usage is True


def test_member_not_chosen_is_refused_with_extra_usage_disabled(seat_org):
    org, owner, _, std, prem = seat_org
    now = timezone.now()
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    extra_usage_members_choose(organization=org, all_members=False, actor=owner.user, now=now)
    spend(org, "std@ent.example", "30.00")
    assert admit(std).reason == "extra_usage_disabled"
    member_extra_usage_set(membership=std, enabled=True, actor=owner.user, now=now)
    decision = admit(std)
    assert (decision.allowed, decision.funding) == (True, "extra_usage")


@pytest.mark.parametrize("scope, reason", [("member", "member_cap"), ("seat_tier", "tier_cap"),
                                           ("organization", "org_cap")])
def test_caps_bound_extra_usage_on_seat_based_plans(seat_org, scope, reason):
    org, owner, _, std, _ = seat_org
    now = timezone.now()
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    target = {"membership": std} if scope == "member" else (
        {"tier": seat_current(membership=std).tier} if scope == "seat_tier" else {})
    cap_set(organization=org, scope=scope, amount=Decimal("5.00"), now=now, **target)
    spend(org, "std@ent.example", "30.00")
    assert admit(std).allowed is True  # included usage does not count against the caps
    spend(org, "std@ent.example", "5.00")
    decision = admit(std)
    assert (decision.allowed, decision.reason) == (False, reason)
    assert decision.can_request_extra_usage is (reason != "org_cap")


def test_team_with_no_balance_and_no_reload_is_refused_with_prepaid_balance_exhausted(team, provider):
    org, owner, _, dev = team
    now = timezone.now()
    prepaid_purchase(organization=org, amount=Decimal("10.00"), idempotency_key="p1", actor=owner.user, now=now)
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    spend(org, "dev@team.example", "25.00")  # the Standard seat's included usage
    assert admit(dev).funding == "extra_usage"
    spend(org, "dev@team.example", "10.00")
    assert assert_ledger_invariant(org) == Decimal("0")
    decision = admit(dev)
    assert (decision.allowed, decision.reason) == (False, "prepaid_balance_exhausted")
    assert decision.can_request_extra_usage is False  # Team members have no requests


def test_team_at_zero_with_a_reload_possible_is_still_admitted(team, provider, django_capture_on_commit_callbacks):
    org, owner, _, dev = team
    now = timezone.now()
    prepaid_purchase(organization=org, amount=Decimal("10.00"), idempotency_key="p1", actor=owner.user, now=now)
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    auto_reload_configure(organization=org, enabled=True, threshold=Decimal("0"), amount=Decimal("20"),
                          monthly_limit=Decimal("20"), actor=owner.user, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        spend(org, "dev@team.example", "35.00")  # drains to 0; the after-usage step reloads $20 (eager Celery)
    assert assert_ledger_invariant(org) == Decimal("20")
    assert admit(dev).allowed is True
    with django_capture_on_commit_callbacks(execute=True):
        spend(org, "dev@team.example", "20.00")  # drained again; the monthly limit leaves no further reload
    assert assert_ledger_invariant(org) == Decimal("0")
    assert admit(dev).reason == "prepaid_balance_exhausted"


def test_usage_based_enterprise_has_no_extra_usage_only_pooled_spend(db):
    from apps.organizations.models import PlanKind
    from tests.factories import OrganizationFactory, member

    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    m = member(org, email="u@example.com", tier_code="chat_code")
    outcome = spend(org, "u@example.com", "3.00")
    assert outcome.event.funding == "pooled"
    cap_set(organization=org, scope=CapScope.MEMBER, membership=m, amount=Decimal("3.00"))
    decision = admit(m)
    assert (decision.reason, decision.can_request_extra_usage) == ("member_cap", True)
