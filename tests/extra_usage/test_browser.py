"""Browser tests on the OS Chromium: the member's request, the admin's review, the owner's auto-reload."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.extra_usage.models import ExtraUsageRequest, ExtraUsageSettings, MemberExtraUsage
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.usage.models import SpendCap
from tests.conftest import login, screenshot

from .conftest import spend

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_member_clicks_request_extra_usage_and_sees_request_sent(page, seat_org):
    org, _, _, std, _ = seat_org
    spend(org, "std@ent.example", "30.00")
    login(page, "std@ent.example")
    page.goto(f"/orgs/{org.slug}/usage/me/")
    page.get_by_role("button", name="Request extra usage").click()
    page.get_by_text("Request sent to admin").wait_for()
    screenshot(page, "extra_usage_member_request_sent")
    page.reload()
    assert page.get_by_role("button", name="Request extra usage").count() == 0
    assert ExtraUsageRequest.objects.filter(membership=std, status="pending").count() == 1


def test_admin_reviews_requests_and_increases_a_limit(page, seat_org):
    org, _, _, std, prem = seat_org
    spend(org, "prem@ent.example", "160.00")  # past her included usage with extra usage off: stopped
    extra_usage_request_create(membership=std, now=timezone.now())
    request = extra_usage_request_create(membership=prem, now=timezone.now())
    login(page, "admin@ent.example")
    page.goto(f"/orgs/{org.slug}/settings/usage/")
    page.get_by_role("button", name="Review requests").click()
    dialog = page.locator("dialog#review-requests[open]")
    dialog.wait_for()
    row = dialog.locator(f"li[data-request='{request.public_id}']")
    row.get_by_label("Individual monthly limit").fill("80")
    screenshot(page, "extra_usage_review_modal")
    row.get_by_role("button", name="Increase limit").click()
    page.get_by_text("Increased the limit for prem@ent.example").wait_for()
    screenshot(page, "extra_usage_review_after_increase")
    assert SpendCap.objects.get(membership=prem).amount == Decimal("80.00")
    assert MemberExtraUsage.objects.get(membership=prem).enabled is True
    request.refresh_from_db()
    assert request.status == "approved"


def test_owner_sets_up_auto_reload(page, team):
    org, _, _, _ = team
    login(page, "owner@team.example")
    page.goto(f"/orgs/{org.slug}/settings/usage/")
    page.get_by_role("button", name="Set up auto-reload").click()
    dialog = page.locator("dialog#auto-reload[open]")
    dialog.wait_for()
    dialog.get_by_label("Reload when balance reaches").fill("15")
    dialog.get_by_label("Reload amount").fill("60")
    dialog.get_by_label("Monthly reload limit").fill("240")
    screenshot(page, "extra_usage_auto_reload_modal")
    dialog.get_by_role("button", name="Save auto-reload").click()
    page.get_by_text("When the balance reaches $15.00, buy $60.00 (up to $240.00 a month)").wait_for()
    screenshot(page, "extra_usage_auto_reload_saved")
    row = ExtraUsageSettings.objects.get(organization=org)
    assert (row.auto_reload_enabled, row.reload_threshold, row.reload_amount, row.monthly_reload_limit) == (
        True, Decimal("15"), Decimal("60"), Decimal("240"))


def test_the_digest_link_opens_the_review_modal(page, seat_org):
    org, _, _, std, _ = seat_org
    extra_usage_request_create(membership=std, now=timezone.now())
    login(page, "admin@ent.example")
    page.goto(f"/orgs/{org.slug}/extra-usage/review/")
    page.locator("dialog#review-requests[open]").get_by_text("std@ent.example").wait_for()
    assert page.url.endswith("/settings/usage/#review-requests")
