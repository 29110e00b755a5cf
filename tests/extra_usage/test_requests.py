"""Requests for extra usage: create (idempotent, toggle, cooldown), approve and deny, and the member's email."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.extra_usage.models import ExtraUsageRequest, MemberExtraUsage, RequestStatus
from apps.extra_usage.services.switches import extra_usage_requests_set
from apps.extra_usage.services.usage_requests import (
    extra_usage_request_create,
    extra_usage_request_deny,
    request_decision_notify,
)
from apps.organizations.models import AuditEntry, PlanKind
from apps.seats.models import SeatCharge
from apps.seats.selectors import seat_current
from apps.spending.requests import ConfirmationNeeded, member_extra_usage_summary
from apps.spending.requests import extra_usage_request_approve as _approve
from apps.usage.models import SpendCap
from tests.factories import OrganizationFactory, member

from .conftest import spend
from .test_funding import admit

pytestmark = pytest.mark.django_db


def extra_usage_request_approve(**kwargs):
    """The approval as the tests before the one decision called it: (request, the member's cap written)."""
    approval = _approve(**kwargs)
    return approval.request, approval.cap


def test_a_member_at_their_limit_can_request_and_a_second_click_creates_nothing(seat_org):
    org, _, _, std, _ = seat_org
    spend(org, "std@ent.example", "30.00")
    now = timezone.now()
    assert member_extra_usage_summary(membership=std, now=now).can_request is True
    first = extra_usage_request_create(membership=std, now=now)
    second = extra_usage_request_create(membership=std, now=now)
    assert first.pk == second.pk and first.status == RequestStatus.PENDING
    assert first.period_start == now.date().replace(day=1)
    assert ExtraUsageRequest.objects.filter(membership=std).count() == 1
    summary = member_extra_usage_summary(membership=std, now=now)
    assert summary.can_request is False and summary.pending_request == first
    assert admit(std).can_request_extra_usage is False


def test_requests_switched_off_are_refused_and_pending_ones_stay_reviewable(seat_org):
    org, owner, admin, std, prem = seat_org
    now = timezone.now()
    spend(org, "prem@ent.example", "160.00")  # past her included usage: stopped
    pending = extra_usage_request_create(membership=prem, now=now)
    extra_usage_requests_set(organization=org, enabled=False, actor=owner.user, now=now)
    spend(org, "std@ent.example", "30.00")
    assert member_extra_usage_summary(membership=std, now=now).can_request is False
    assert admit(std).can_request_extra_usage is False
    with pytest.raises(ValidationError) as error:
        extra_usage_request_create(membership=std, now=now)
    assert error.value.code == "requests_disabled"
    request, _ = extra_usage_request_approve(request=pending, actor=admin.user, now=now)
    assert request.status == RequestStatus.APPROVED


def test_a_denied_member_may_ask_again_only_after_30_days(seat_org):
    org, _, admin, std, _ = seat_org
    now = timezone.now()
    request = extra_usage_request_create(membership=std, now=now)
    extra_usage_request_deny(request=request, actor=admin.user, now=now)
    with pytest.raises(ValidationError) as error:
        extra_usage_request_create(membership=std, now=now + dt.timedelta(days=29))
    assert error.value.code == "recently_denied"
    again = extra_usage_request_create(membership=std, now=now + dt.timedelta(days=31))
    assert again.pk != request.pk


def test_team_members_cannot_request(team):
    _, _, _, dev = team
    with pytest.raises(ValidationError) as error:
        extra_usage_request_create(membership=dev, now=timezone.now())
    assert error.value.code == "not_offered"


def test_approving_a_standard_seat_moves_the_member_to_premium_only_for_an_owner_who_confirms_the_charge(
        seat_org, outbox, django_capture_on_commit_callbacks):
    org, owner, admin, std, _ = seat_org
    spend(org, "std@ent.example", "30.00")
    request = extra_usage_request_create(membership=std, now=timezone.now())
    with pytest.raises(ValidationError) as refused:  # admins never trigger a charge
        _approve(request=request, actor=admin.user, upgrade=True, now=timezone.now())
    assert refused.value.code == "owner_needed"
    with pytest.raises(ConfirmationNeeded) as needed:  # the owner sees the price first
        _approve(request=request, actor=owner.user, owner=True, upgrade=True, now=timezone.now())
    [step] = needed.value.plan.confirmations
    assert step.kind == "seat_upgrade" and step.price.amount > 0
    assert SeatCharge.objects.filter(membership=std).count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        approved, cap = extra_usage_request_approve(request=request, actor=owner.user, owner=True, upgrade=True,
                                                    confirm=needed.value.plan.signature, now=timezone.now())
    assert cap is None
    assert seat_current(membership=std).tier.code == "premium"
    assert SeatCharge.objects.get(membership=std).amount.amount == step.price.amount  # the prorated upgrade
    assert (approved.status, approved.resolved_by, approved.approved_amount) == ("approved", owner.user, None)
    assert admit(std).allowed is True  # $160 included on Premium
    assert AuditEntry.objects.filter(organization=org, action="extra_usage_request.approve",
                                     actor=owner.user).count() == 1
    assert [m.to for m in outbox] == [["std@ent.example"]]
    assert "approved" in outbox[0].subject and "Premium" in outbox[0].body
    assert "You can keep working right away." in outbox[0].body


def test_approving_a_premium_seat_with_an_amount_enables_extra_usage_with_that_limit(seat_org, outbox,
                                                                                       django_capture_on_commit_callbacks):
    org, _, admin, _, prem = seat_org
    spend(org, "prem@ent.example", "160.00")
    assert admit(prem).reason == "included_usage_exhausted"
    request = extra_usage_request_create(membership=prem, now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        approved, cap = extra_usage_request_approve(request=request, amount=Decimal("75.00"), actor=admin.user,
                                                    now=timezone.now())
    assert cap == SpendCap.objects.get(membership=prem) and cap.amount == Decimal("75.00")
    assert MemberExtraUsage.objects.get(membership=prem).enabled is True
    decision = admit(prem)
    assert (decision.allowed, decision.funding) == (True, "extra_usage")
    assert approved.approved_amount == Decimal("75.00")
    assert "$75.00" in outbox[0].body


def test_approving_by_admin_api_key_records_the_key_and_can_suppress_the_email(seat_org, outbox,
                                                                               django_capture_on_commit_callbacks):
    org, _, _, _, prem = seat_org
    request = extra_usage_request_create(membership=prem, now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        approved, cap = extra_usage_request_approve(request=request, amount=Decimal("600"),
                                                    api_key_public_id="apikey_01abc", suppress_notification=True,
                                                    now=timezone.now())
    assert approved.resolved_by is None and approved.resolved_by_api_key_id == "apikey_01abc"
    assert outbox == []
    entry = AuditEntry.objects.get(organization=org, action="extra_usage_request.approve")
    assert entry.actor_label == "Admin API key apikey_01abc"


def test_approve_is_not_idempotent_and_a_resolved_request_cannot_be_approved(seat_org):
    _, _, admin, _, prem = seat_org
    request = extra_usage_request_create(membership=prem, now=timezone.now())
    extra_usage_request_approve(request=request, amount=Decimal("10"), actor=admin.user, now=timezone.now())
    with pytest.raises(ValidationError) as error:
        extra_usage_request_approve(request=request, amount=Decimal("10"), actor=admin.user, now=timezone.now())
    assert error.value.code == "already_resolved"
    with pytest.raises(ValidationError) as error:
        extra_usage_request_deny(request=request, actor=admin.user, now=timezone.now())
    assert error.value.code == "already_approved"


def test_deny_emails_the_member_once_and_denying_again_changes_nothing(seat_org, outbox,
                                                                       django_capture_on_commit_callbacks):
    _, _, admin, std, _ = seat_org
    request = extra_usage_request_create(membership=std, now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        denied = extra_usage_request_deny(request=request, actor=admin.user, now=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        again = extra_usage_request_deny(request=request, actor=admin.user, now=timezone.now())
    assert denied.status == again.status == RequestStatus.DENIED and again.resolved_at == denied.resolved_at
    assert len(outbox) == 1 and "declined" in outbox[0].subject
    assert request_decision_notify(request_id=request.pk, now=timezone.now()) is False  # a retried task
    assert len(outbox) == 1


def test_usage_based_enterprise_approval_sets_the_members_own_limit(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    m = member(org, email="u@example.com", tier_code="chat_code")
    from apps.usage.services import cap_set

    cap_set(organization=org, scope="member", membership=m, amount=Decimal("1"))
    spend(org, "u@example.com", "1.00")
    assert member_extra_usage_summary(membership=m, now=timezone.now()).can_request is True
    request = extra_usage_request_create(membership=m, now=timezone.now())
    with pytest.raises(ValidationError):
        extra_usage_request_approve(request=request, now=timezone.now())  # an amount is required
    _, cap = extra_usage_request_approve(request=request, amount=Decimal("50"), now=timezone.now())
    assert cap.amount == Decimal("50")
    assert admit(m).allowed is True
