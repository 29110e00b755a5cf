"""Owners' switches: org on/off (caps kept), all vs chosen members, per-member, requests; each audited."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.extra_usage.models import ExtraUsageSettings, MemberExtraUsage
from apps.extra_usage.services.switches import (
    extra_usage_disable,
    extra_usage_enable,
    extra_usage_members_choose,
    extra_usage_requests_set,
    member_extra_usage_set,
)
from apps.organizations.models import AuditEntry
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import cap_set

from .conftest import spend
from .test_funding import admit

pytestmark = pytest.mark.django_db


def test_disabling_keeps_caps_and_enabling_restores_them(seat_org):
    org, owner, _, std, _ = seat_org
    now = timezone.now()
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("500"), now=now)
    cap_set(organization=org, scope=CapScope.MEMBER, membership=std, amount=Decimal("2"), now=now)
    spend(org, "std@ent.example", "31.00")
    assert admit(std).allowed is True

    extra_usage_disable(organization=org, actor=owner.user, now=now)
    assert admit(std).reason == "included_usage_exhausted"
    assert sorted(SpendCap.objects.filter(organization=org).values_list("amount", flat=True)) == [
        Decimal("2"), Decimal("500")]

    extra_usage_enable(organization=org, actor=owner.user, now=now)
    spend(org, "std@ent.example", "1.00")
    assert admit(std).reason == "member_cap"  # the member's $2 limit is back in force


def test_each_switch_is_audited_with_old_and_new_and_a_repeat_writes_nothing(seat_org):
    org, owner, _, std, _ = seat_org
    now = timezone.now()
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    extra_usage_members_choose(organization=org, all_members=False, actor=owner.user, now=now)
    member_extra_usage_set(membership=std, enabled=True, actor=owner.user, now=now)
    member_extra_usage_set(membership=std, enabled=True, actor=owner.user, now=now)
    extra_usage_requests_set(organization=org, enabled=False, actor=owner.user, now=now)
    rows = list(AuditEntry.objects.filter(organization=org, action__startswith="extra_usage").order_by("id")
                .values_list("action", "old_value", "new_value", "actor_label"))
    assert rows == [
        ("extra_usage.enable", {"enabled": False}, {"enabled": True}, "owner@ent.example"),
        ("extra_usage.members", {"all_members": True}, {"all_members": False}, "owner@ent.example"),
        ("extra_usage.member", False, True, "owner@ent.example"),
        ("extra_usage.requests", {"requests_enabled": True}, {"requests_enabled": False}, "owner@ent.example"),
    ]
    assert MemberExtraUsage.objects.get(membership=std).enabled is True


def test_member_switch_off_stops_that_member_only(seat_org):
    org, owner, _, std, prem = seat_org
    now = timezone.now()
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    extra_usage_members_choose(organization=org, all_members=False, actor=owner.user, now=now)
    member_extra_usage_set(membership=std, enabled=True, actor=owner.user, now=now)
    member_extra_usage_set(membership=prem, enabled=True, actor=owner.user, now=now)
    spend(org, "std@ent.example", "30.00")
    spend(org, "prem@ent.example", "160.00")
    member_extra_usage_set(membership=std, enabled=False, actor=owner.user, now=now)
    assert admit(std).reason == "extra_usage_disabled"
    assert admit(prem).allowed is True


def test_team_cannot_turn_extra_usage_on_before_buying_prepaid(team):
    org, owner, _, _ = team
    with pytest.raises(ValidationError) as error:
        extra_usage_enable(organization=org, actor=owner.user, now=timezone.now())
    assert error.value.code == "prepaid_required"
    assert not ExtraUsageSettings.objects.filter(organization=org, enabled=True).exists()


def test_usage_based_enterprise_has_no_extra_usage_switch(db):
    from apps.organizations.models import PlanKind
    from tests.factories import OrganizationFactory

    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    with pytest.raises(ValidationError) as error:
        extra_usage_enable(organization=org, now=timezone.now())
    assert error.value.code == "not_offered"
