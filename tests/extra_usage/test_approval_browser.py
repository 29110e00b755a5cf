"""The Barbara walk (issue 22) on the OS Chromium, in English and German, as an owner and as an admin.

Usage-based Enterprise: Barbara is on a Chat seat, stopped by the Chat tier's $60 limit (8 members), and asked
for $500 with a note. The review modal names the limit that binds. An owner raises the tier's limit in one
confirmed click showing the new figure, and Barbara can keep working (her email says so). An admin is told an
owner must; the request stays pending and no limit is raised in vain."""

from decimal import Decimal

import pytest
from django.utils import timezone, translation
from django.utils.translation import gettext, ngettext

from apps.accounts.models import User
from apps.common.money import money_format
from apps.extra_usage.models import ExtraUsageRequest, RequestStatus
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.notices.models import EmailOutbox, NoticeKind
from apps.organizations.models import PlanKind, Role
from apps.seats.models import SeatTier
from apps.spending.requests import member_extra_usage_summary
from apps.spending.selectors import admission_check
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import cap_set
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

from .conftest import spend

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def _initech():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="initech", name="Initech")
    member(org, email="owner@initech.example", role=Role.PRIMARY_OWNER, tier_code="chat_code")
    member(org, email="admin@initech.example", role=Role.ADMIN, tier_code="chat_code")
    barbara = member(org, email="member5@initech.example", tier_code="chat")
    User.objects.filter(pk=barbara.user_id).update(name="Barbara Liskov")
    for _ in range(7):
        member(org, tier_code="chat")
    chat = SeatTier.objects.get(organization=org, code="chat")
    cap_set(organization=org, scope=CapScope.SEAT_TIER, tier=chat, amount=Decimal("60.00"))
    spend(org, "member5@initech.example", "60.00")
    assert admission_check(organization=org, membership=barbara, product=None, now=timezone.now()).reason == \
        "tier_cap"
    request = extra_usage_request_create(membership=barbara, now=timezone.now(), note="Release on Friday",
                                         amount=Decimal("500.00"))
    return org, barbara, chat, request


def _open_review(page, org, email: str, language: str):
    User.objects.filter(email=email).update(language=language)
    login(page, email)
    page.goto(f"/orgs/{org.slug}/extra-usage/review/")
    dialog = page.locator("dialog#review-requests[open]")
    dialog.wait_for()
    return dialog


def _binding(language: str) -> str:
    with translation.override(language):
        return ngettext("%(name)s is stopped by the %(tier)s tier's %(limit)s limit (%(count)d member).",
                        "%(name)s is stopped by the %(tier)s tier's %(limit)s limit (%(count)d members).", 8) % {
            "name": "Barbara Liskov", "tier": "Chat", "limit": money_format(Decimal("60"), locale=language),
            "count": 8}


@pytest.mark.parametrize("language", ["en", "de"])
def test_an_owner_raises_the_binding_tier_limit_and_barbara_can_keep_working(page, language):
    org, barbara, chat, request = _initech()
    dialog = _open_review(page, org, "owner@initech.example", language)
    row = dialog.locator(f"li[data-request='{request.public_id}']")
    row.get_by_test_id("binding").get_by_text(_binding(language)).wait_for()
    assert "Release on Friday" in row.get_by_test_id("request-note").inner_text()
    assert money_format(Decimal("60"), locale=language) in row.get_by_test_id("request-limit").inner_text()
    confirm = row.get_by_test_id("approval-confirm")
    with translation.override(language):
        label = gettext("Raise the %(tier)s tier's limit to %(amount)s") % {
            "tier": "Chat", "amount": money_format(Decimal("500"), locale=language)}
        done = gettext("Increased the limit for %(email)s: they can keep working, and will be emailed.") % {
            "email": "member5@initech.example"}
    screenshot(page, f"approval_owner_{language}")
    confirm.get_by_role("button", name=label).click()
    page.get_by_text(done).wait_for()
    screenshot(page, f"approval_owner_done_{language}")
    assert SpendCap.objects.get(tier=chat).amount == Decimal("500.00")
    assert SpendCap.objects.get(membership=barbara).amount == Decimal("500.00")
    request.refresh_from_db()
    assert (request.status, request.stopped_reason) == (RequestStatus.APPROVED, "")
    assert admission_check(organization=org, membership=barbara, product=None, now=timezone.now()).allowed
    summary = member_extra_usage_summary(membership=barbara, now=timezone.now())
    assert summary.blocked_reason is None and not summary.can_request  # "Request extra usage" does not show
    [email] = EmailOutbox.objects.filter(to_email="member5@initech.example", kind=NoticeKind.EXTRA_USAGE_DECIDED)
    assert "You can keep working right away." in email.text_body


@pytest.mark.parametrize("language", ["en", "de"])
def test_an_admin_is_told_an_owner_must_raise_the_tier_and_nothing_changes(page, language):
    org, barbara, chat, request = _initech()
    dialog = _open_review(page, org, "admin@initech.example", language)
    row = dialog.locator(f"li[data-request='{request.public_id}']")
    row.get_by_test_id("binding").get_by_text(_binding(language)).wait_for()
    with translation.override(language):
        owner_must = gettext("Only an owner can raise the %(tier)s tier's limit; the request stays pending.") % {
            "tier": "Chat"}
        increase = gettext("Increase limit")
    assert row.get_by_test_id("approval-hint").inner_text() == owner_must
    assert row.get_by_test_id("approval-confirm").count() == 0  # no one-click raise for admins
    row.get_by_role("button", name=increase, exact=True).click()
    refused = page.locator(f"dialog#review-requests[open] li[data-request='{request.public_id}']").get_by_role(
        "alert")
    refused.get_by_text(owner_must).wait_for()
    screenshot(page, f"approval_admin_refused_{language}")
    request.refresh_from_db()
    assert request.status == RequestStatus.PENDING
    assert SpendCap.objects.get(tier=chat).amount == Decimal("60.00")
    assert not SpendCap.objects.filter(membership=barbara).exists()
    assert not EmailOutbox.objects.filter(to_email="member5@initech.example",
                                          kind=NoticeKind.EXTRA_USAGE_DECIDED).exists()
    assert ExtraUsageRequest.objects.filter(membership=barbara, status=RequestStatus.PENDING).count() == 1
