"""What an approval does (apps/spending/requests.py), held to the one admission decision.

The randomized test draws states as the loader's test does (tests/spending/test_loader.py), on both plan families
that take requests (seat-based and usage-based Enterprise), and approves a stopped member's request as an owner
or an admin would (taking the one-click confirmation when offered) or as the Admin API does:
- either the approval goes through and admission allows the member's next request, or it is refused, the
  request stays pending, nothing changed, and the refusal names what still stops them: the reason the member's
  own page gives;
- no approval email says "you can keep working" while admission refuses; one that cannot, says why.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.extra_usage.models import ExtraUsageRequest, RequestStatus
from apps.extra_usage.services.usage_requests import extra_usage_request_create, request_decision_notify
from apps.notices.models import EmailOutbox
from apps.organizations.models import AuditEntry, PlanKind, Role
from apps.seats.models import SeatTier
from apps.spending import requests as spend_requests
from apps.spending.requests import ApprovalRefused, ConfirmationNeeded, Why, extra_usage_request_approve
from apps.spending.selectors import admission_check
from apps.spending.tasks import digest_send_organization_task
from apps.usage.models import CapScope, SpendCap
from apps.usage.refusals import refusal_text
from apps.usage.services import cap_set
from tests.extra_usage.conftest import spend
from tests.factories import OrganizationFactory, member

from .test_loader import build, states

pytestmark = pytest.mark.django_db

KEEP_WORKING = "You can keep working right away."


def _caps(org) -> list:
    return sorted(SpendCap.objects.filter(organization=org).values_list("scope", "tier_id", "membership_id", "amount"),
                  key=str)


def _email(request) -> str:
    request_decision_notify(request_id=request.pk, now=timezone.now())
    return EmailOutbox.objects.filter(to_email=request.membership.user.email).latest("id").text_body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(state=states().filter(lambda s: s["plan"] != PlanKind.TEAM),
       approver=st.sampled_from(["owner", "admin", "api"]),
       amount=st.none() | st.decimals(min_value=0, max_value=150, places=2),
       upgrade=st.booleans())
def test_an_approval_lets_the_member_work_or_says_what_still_stops_them(state, approver, amount, upgrade):
    now = timezone.now()
    org, period, memberships, _ = build(state, now)
    owner = member(org, role=Role.OWNER)
    admin = member(org, role=Role.ADMIN)
    stopped = [m for m in memberships if not admission_check(organization=org, membership=m, product=None,
                                                             now=now).allowed]
    if not stopped:
        return
    asker = stopped[0]
    request = (ExtraUsageRequest.objects.filter(membership=asker, status=RequestStatus.PENDING).first()
               or ExtraUsageRequest.objects.create(organization=org, membership=asker, period_start=period.start,
                                                   created_at=now))
    before = admission_check(organization=org, membership=asker, product=None, now=now)
    caps_before = _caps(org)

    if approver == "api":
        if amount is None:
            return
        approval = extra_usage_request_approve(request=request, amount=amount, api_key_public_id="apikey_01t",
                                               now=now)
    else:
        actor, is_owner = (owner, True) if approver == "owner" else (admin, False)
        kwargs = {"request": request, "amount": amount, "actor": actor.user, "owner": is_owner,
                  "upgrade": upgrade, "now": now}
        try:
            try:
                approval = extra_usage_request_approve(**kwargs)
            except ConfirmationNeeded as needed:
                assert is_owner  # only owners are offered shared raises and charges
                approval = extra_usage_request_approve(**kwargs, confirm=needed.plan.signature)
        except ApprovalRefused as refused:
            request.refresh_from_db()
            assert request.status == RequestStatus.PENDING and _caps(org) == caps_before  # nothing changed
            plan = refused.plan
            assert plan.why in {Why.AMOUNT_NEEDED, Why.AMOUNT_TOO_LOW, Why.OWNER_NEEDED, Why.BUY_PREPAID,
                                Why.NOT_LIFTABLE}
            if plan.why == Why.OWNER_NEEDED:
                assert not is_owner
            # What the modal names is what stops the member now, and what their own page tells them.
            now_decision = admission_check(organization=org, membership=asker, product=None, now=now)
            assert now_decision.reason == before.reason
            summary = spend_requests.member_extra_usage_summary(membership=asker, now=now)
            assert summary.blocked_reason == before.reason
            return
        except ValidationError as error:  # an amount is required (usage-based), or no Standard seat to move
            request.refresh_from_db()
            assert request.status == RequestStatus.PENDING and _caps(org) == caps_before
            assert getattr(error, "code", None) == "no_upgrade" or "amount" in error.message_dict
            return

    after = admission_check(organization=org, membership=asker, product=None, now=now)
    request.refresh_from_db()
    body = _email(request)
    if approval.closed:
        assert request.status == RequestStatus.CLOSED and after.allowed
        return
    assert request.status == RequestStatus.APPROVED
    if approver != "api":
        assert after.allowed  # a page's approval commits only when the member can work again
    # The email says "keep working" only when admission allows; otherwise it says what still stops them.
    assert (KEEP_WORKING in body) == after.allowed
    if not after.allowed:
        assert request.stopped_reason == after.reason
        assert refusal_text(after.reason) in body


# --- The Barbara walk, as services ------------------------------------------------------------------------------


@pytest.fixture
def initech(db):
    """Usage-based Enterprise: the Chat tier capped at $60 with 3 members; Barbara spent $60.00 and asked."""
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech")
    owner = member(org, email="owner@initech.example", role=Role.PRIMARY_OWNER, tier_code="chat_code")
    admin = member(org, email="admin@initech.example", role=Role.ADMIN, tier_code="chat_code")
    barbara = member(org, email="barbara@initech.example", tier_code="chat")
    for _ in range(2):
        member(org, tier_code="chat")
    chat = SeatTier.objects.get(organization=org, code="chat")
    cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=chat, amount=Decimal("60.00"))
    spend(org, "barbara@initech.example", "60.00")
    request = extra_usage_request_create(membership=barbara, now=timezone.now(), note="Deadline on Friday",
                                         amount=Decimal("500.00"))
    return org, owner, admin, barbara, chat, request


def test_an_admin_is_told_an_owner_must_raise_the_tier_and_the_request_stays_pending(initech):
    org, _, admin, barbara, chat, request = initech
    [review] = spend_requests.pending_reviews(organization=org, owner=False, now=timezone.now())
    assert (review.admission.reason, review.found.status.limit, review.tier_members) == (
        "tier_cap", Decimal("60.00"), 3)
    assert (review.plan.why, review.suggested) == (Why.OWNER_NEEDED, Decimal("500.00"))
    with pytest.raises(ApprovalRefused) as refused:
        extra_usage_request_approve(request=request, amount=Decimal("500"), actor=admin.user, now=timezone.now())
    assert refused.value.plan.stop == "tier_cap"
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert not SpendCap.objects.filter(membership=barbara).exists()  # her own limit was not raised in vain


def test_an_owner_raises_the_binding_tier_limit_in_one_confirmed_click_and_barbara_keeps_working(initech):
    org, owner, _, barbara, chat, request = initech
    [review] = spend_requests.pending_reviews(organization=org, owner=True, now=timezone.now())
    assert review.plan.allowed and [s.kind for s in review.plan.confirmations] == ["tier_limit"]
    with pytest.raises(ConfirmationNeeded):
        extra_usage_request_approve(request=request, amount=Decimal("500"), actor=owner.user, owner=True,
                                    now=timezone.now())
    approval = extra_usage_request_approve(request=request, amount=Decimal("500"), actor=owner.user, owner=True,
                                           confirm=review.plan.signature, now=timezone.now())
    assert approval.after.allowed
    assert SpendCap.objects.get(tier=chat).amount == Decimal("500.00")
    assert SpendCap.objects.get(membership=barbara).amount == Decimal("500.00")
    assert admission_check(organization=org, membership=barbara, product=None, now=timezone.now()).allowed
    assert KEEP_WORKING in _email(approval.request)
    actions = set(AuditEntry.objects.filter(organization=org).values_list("action", flat=True))
    assert {"cap.seat_tier", "cap.member", "extra_usage_request.approve"} <= actions


def test_the_admin_api_approval_keeps_its_effect_and_the_email_says_what_still_stops_her(initech):
    org, _, _, barbara, _, request = initech
    approval = extra_usage_request_approve(request=request, amount=Decimal("500"), api_key_public_id="apikey_01t",
                                           now=timezone.now())
    assert approval.cap.amount == Decimal("500.00") and not approval.after.allowed
    body = _email(approval.request)
    assert KEEP_WORKING not in body and refusal_text("tier_cap") in body


def test_a_request_whose_member_can_spend_again_is_closed_and_left_out_of_the_digest(initech, outbox,
                                                                                      django_capture_on_commit_callbacks):
    org, owner, _, barbara, chat, request = initech
    cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=chat, amount=Decimal("100.00"), actor=owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        digest_send_organization_task(org.pk)
    request.refresh_from_db()
    assert request.status == RequestStatus.CLOSED
    assert outbox == []  # nothing pending: no digest
    assert AuditEntry.objects.filter(organization=org, action="extra_usage_request.close").count() == 1


def test_a_new_period_closes_the_request(initech):
    org, _, _, _, _, request = initech
    closed = spend_requests.requests_close_no_longer_needed(organization=org,
                                                            now=timezone.now() + dt.timedelta(days=32))
    request.refresh_from_db()
    assert (closed, request.status) == (1, RequestStatus.CLOSED)
