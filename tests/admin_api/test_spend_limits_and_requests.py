"""Spend limits and increase requests through the SDK: shapes, upserts, audit rows, emails, the preview list."""

import datetime as dt
from decimal import Decimal

import anthropic
import pytest
from django.utils import timezone

from apps.extra_usage.models import ExtraUsageRequest, MemberExtraUsage, RequestStatus
from apps.extra_usage.services.switches import extra_usage_disable, extra_usage_enable
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.organizations.models import AuditEntry, PlanKind
from apps.usage.models import CapScope, SpendCap
from tests.factories import OrganizationFactory, member

from .conftest import Seeded, admin_key, sdk, spend

pytestmark = pytest.mark.django_db(transaction=True)


def test_set_writes_the_members_own_limit_in_cents_and_audits_it_as_the_key(live_server):
    seeded = Seeded()
    target = seeded.members[2]
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    written = sl.set(scope={"type": "user", "user_id": target.user.public_id}, amount="12345", period="monthly")
    assert (written.type, written.amount, written.currency, written.period, written.is_enabled) == \
        ("spend_limit", "12345", "USD", "monthly", True)
    assert written.scope.user_id == target.user.public_id and written.id.startswith("spl_")
    assert SpendCap.objects.get(public_id=written.id).amount == Decimal("123.45")
    key_id = seeded.org.admin_api_keys.get().public_id
    entry = AuditEntry.objects.filter(organization=seeded.org, action="cap.member").latest("id")
    assert (entry.actor_label, entry.old_value, entry.new_value) == (f"apikey:{key_id}", None, "123.45")
    # Upsert in place: same id and created_at, new amount and updated_at.
    again = sl.set(scope={"type": "user", "user_id": target.user.public_id}, amount="0")
    assert again.id == written.id and again.created_at == written.created_at and again.amount == "0"
    assert again.updated_at >= written.updated_at
    # A direct set does not resolve the member's pending request.
    assert ExtraUsageRequest.objects.get(membership=target).status == RequestStatus.PENDING


def test_set_to_null_keeps_the_row_and_leaves_tier_and_org_caps_binding(live_server):
    seeded = Seeded()
    target = seeded.members[0]  # chat tier, capped at $300
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    sl.set(scope={"type": "user", "user_id": target.user.public_id}, amount="1000")
    cleared = sl.set(scope={"type": "user", "user_id": target.user.public_id}, amount=None)
    assert cleared.amount is None and SpendCap.objects.get(public_id=cleared.id).amount is None
    row = sl.effective.list(user_ids=[target.user.public_id]).data[0]
    assert (row.source.type, row.source.seat_tier, row.amount) == ("seat_tier", "enterprise_chat", "30000")
    assert sl.retrieve(row.spend_limit_id).scope.seat_tier == "enterprise_chat"


def test_effective_row_shape_and_spend_in_cents_with_three_decimals(live_server):
    seeded = Seeded()
    target = seeded.members[3]  # chat_code tier: no tier cap; the org cap of $5,000 applies
    spend(target, "120.12345")
    row = sdk(live_server, seeded.key).beta.organization.spend_limits.effective.list(
        user_ids=[target.user.public_id]).data[0]
    assert row.period_to_date_spend == "12012.345"
    assert (row.amount, row.currency, row.period, row.source.type, row.spend_limit_id) == \
        ("500000", "USD", "monthly", "organization", seeded.org_cap.public_id)
    assert row.actor.type == "user_actor" and row.actor.email_address == target.user.email
    assert row.actor.deleted is False and row.scope.user_id == target.user.public_id


def test_organization_without_caps_reports_unlimited_from_its_organization_row(live_server):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    people = [member(org) for _ in range(2)]
    sl = sdk(live_server, admin_key(org)).beta.organization.spend_limits
    rows = sl.effective.list().data
    org_row = SpendCap.objects.get(organization=org, scope=CapScope.ORGANIZATION)
    assert org_row.amount is None
    expected = [(None, "organization", org_row.public_id)] * 2
    assert [(r.amount, r.source.type, r.spend_limit_id) for r in rows] == expected
    assert {r.scope.user_id for r in rows} == {p.user.public_id for p in people}
    assert sl.retrieve(org_row.public_id).amount is None
    # Creating the unlimited row changed no limit, so nothing was audited.
    assert not AuditEntry.objects.filter(organization=org, action__startswith="cap.").exists()


def test_organization_row_is_disabled_while_seat_based_extra_usage_is_off(live_server):
    seeded = Seeded(plan_kind=PlanKind.ENTERPRISE_SEAT)
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    extra_usage_disable(organization=seeded.org, now=timezone.now())
    off = sl.retrieve(seeded.org_cap.public_id)
    assert off.is_enabled is False and off.amount == "500000"
    assert sl.retrieve(seeded.tier_cap.public_id).is_enabled is True
    extra_usage_enable(organization=seeded.org, now=timezone.now())
    assert sl.retrieve(seeded.org_cap.public_id).is_enabled is True


def test_delete_removes_the_members_row_and_is_audited(live_server):
    seeded = Seeded()
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    target = seeded.members[1]
    assert sl.delete(seeded.member_cap.public_id).id == seeded.member_cap.public_id
    assert not SpendCap.objects.filter(membership=target).exists()
    assert AuditEntry.objects.filter(organization=seeded.org, action="cap.member.delete",
                                     actor_label__startswith="apikey:").count() == 1
    with pytest.raises(anthropic.NotFoundError):
        sl.delete(seeded.member_cap.public_id)
    assert SpendCap.objects.filter(pk=seeded.org_cap.pk).exists()


def test_preview_list_orders_by_level_and_paginates_with_its_filter(live_server):
    seeded = Seeded()
    now = timezone.now()
    from apps.usage.services import cap_set
    from tests.factories import tier

    cap_set(organization=seeded.org, scope=CapScope.SEAT_TIER, tier=tier(seeded.org, "chat_code"),
            amount=Decimal("400"), now=now)
    for target in seeded.members[2:5]:
        cap_set(organization=seeded.org, scope=CapScope.MEMBER, membership=target, amount=Decimal("50"), now=now)
    sl = sdk(live_server, seeded.key).beta.organization.spend_limits
    everything = list(sl.list(limit=2))
    assert [r.scope.type for r in everything] == ["organization", "seat_tier", "seat_tier", "user", "user", "user",
                                                  "user"]
    assert [r.scope.seat_tier for r in everything[1:3]] == ["enterprise_chat", "enterprise_chat_code"]
    users = list(sl.list(scope_type=["user"], limit=3))
    assert [r.id for r in users] == [r.id for r in everything[3:]]
    assert sl.list(scope_type=["rbac_group"]).data == []


def test_pending_requests_carry_a_live_spend_summary_and_former_members_vanish(live_server):
    seeded = Seeded()
    ir = sdk(live_server, seeded.key).beta.organization.spend_limits.increase_requests
    first = seeded.requests[0]
    spend(first.membership, "299")
    found = ir.retrieve(first.public_id)
    assert (found.status, found.period, found.resolved_at, found.resolved_by) == ("pending", "monthly", None, None)
    summary = found.spend_summary
    assert (summary.amount, summary.source.type, summary.period_to_date_spend) == ("30000", "seat_tier", "29900")
    spend(first.membership, "300")
    assert ir.retrieve(first.public_id).spend_summary.period_to_date_spend == "30000"
    # The requester leaves the organization: the request is no longer listed nor found.
    first.membership.delete()
    assert first.public_id not in {r.id for r in ir.list()}
    with pytest.raises(anthropic.NotFoundError):
        ir.retrieve(first.public_id)


def test_approve_on_seat_based_sets_the_limit_enables_extra_usage_and_emails(live_server, outbox):
    seeded = Seeded(plan_kind=PlanKind.ENTERPRISE_SEAT)
    extra_usage_enable(organization=seeded.org, now=timezone.now())
    from apps.extra_usage.services.switches import extra_usage_members_choose

    extra_usage_members_choose(organization=seeded.org, all_members=False, now=timezone.now())
    request = seeded.requests[1]
    ir = sdk(live_server, seeded.key).beta.organization.spend_limits.increase_requests
    approved = ir.approve(request.public_id, amount="60000", period=None)
    assert approved.spend_limit.amount == "60000" and approved.spend_limit.scope.user_id == \
        request.membership.user.public_id
    assert approved.resolved_at is not None and approved.actor.user_id == request.membership.user.public_id
    assert MemberExtraUsage.objects.get(membership=request.membership).enabled
    assert SpendCap.objects.get(membership=request.membership).amount == Decimal("600")
    assert [m.to for m in outbox] == [[request.membership.user.email]]
    denied = ir.deny(seeded.requests[2].public_id, suppress_notification=True)
    assert denied.status == "denied" and denied.spend_summary is None
    assert len(outbox) == 1
    statuses = [r.status for r in ir.list(status=["approved", "denied"])]
    assert sorted(statuses) == ["approved", "denied"]


def test_requests_list_is_newest_first_and_filters_by_status(live_server):
    seeded = Seeded()
    later = timezone.now() + dt.timedelta(minutes=5)
    extra = extra_usage_request_create(membership=seeded.members[4], now=later)
    ir = sdk(live_server, seeded.key).beta.organization.spend_limits.increase_requests
    ir.deny(seeded.requests[0].public_id)
    listed = [r.id for r in ir.list()]
    assert listed == [extra.public_id] + [r.public_id for r in reversed(seeded.requests)]
    assert [r.id for r in ir.list(status=["denied"])] == [seeded.requests[0].public_id]
    assert all(r.spend_summary is not None for r in ir.list(status=["pending"]))
