"""The dashboards' date range and both CSV exports, as an owner uses them in Chromium."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope, UsageEvent
from apps.usage.services import cap_set
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

from .helpers import record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _seed():
    now = timezone.now()
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="rangeco", name="RangeCo")
    member(org, email="owner@rangeco.test", role=Role.PRIMARY_OWNER, since=now - dt.timedelta(days=100))
    member(org, email="dev@rangeco.test", since=now - dt.timedelta(days=100))
    for days_ago in (1, 5, 20, 45, 80):
        record(org, "dev@rangeco.test", Decimal(days_ago), now=now, occurred_at=now - dt.timedelta(days=days_ago))
    return org, now


def _download_text(page, locator) -> str:
    with page.expect_download() as info:
        locator.click()
    return open(info.value.path(), encoding="utf-8").read()


def test_owner_picks_a_range_and_exports_it(page):
    org, now = _seed()
    login(page, "owner@rangeco.test")
    page.goto(f"/orgs/{org.slug}/usage/dashboard/")
    page.get_by_label("Date range").select_option("30d")  # a preset shows at once
    page.wait_for_url("**range=30d**")
    start = (timezone.localdate(now) - dt.timedelta(days=29))
    expected = sum((e.cost for e in UsageEvent.objects.filter(organization=org)
                    if e.occurred_at.date() >= start), Decimal(0))
    expect(page.get_by_test_id("range-spend")).to_have_text(f"${expected:,.2f}")
    screenshot(page, "monitoring-range-30d")
    # The other tabs keep the range.
    page.get_by_role("link", name="By member").click()
    page.wait_for_url("**/dashboard/members/?range=30d**")
    expect(page.get_by_test_id("org-total")).to_have_text(f"${expected:,.2f}")
    # Custom dates: editing a date switches to "Custom dates".
    page.get_by_label("From").fill((timezone.localdate(now) - dt.timedelta(days=90)).isoformat())
    expect(page.get_by_label("Date range")).to_have_value("custom")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**range=custom**")
    expect(page.get_by_test_id("org-total")).to_have_text("$151.00")
    text = _download_text(page, page.get_by_test_id("export-csv"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(Decimal(r["cost"]) for r in rows) == [Decimal(n) for n in (1, 5, 20, 45, 80)]
    assert {r["email"] for r in rows} == {"dev@rangeco.test"}


def test_owner_filters_the_audit_log_and_exports_it(page):
    org, now = _seed()
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("750"), now=now)
    login(page, "owner@rangeco.test")
    page.goto(f"/orgs/{org.slug}/settings/audit-log/")
    expect(page.locator(".change-row").first).to_contain_text(
        "Set the organization's monthly spend limit to $750.00 (was unlimited).")
    page.get_by_label("Kind").select_option(label="Seats")
    page.get_by_role("button", name="Apply filters").click()
    page.wait_for_url("**kind=seat**")
    expect(page.locator(".change-row")).to_have_count(2)  # the two seats the members were given
    expect(page.locator(".change-row").first).to_contain_text("seat")
    screenshot(page, "console-audit-log")
    rows = list(csv.DictReader(io.StringIO(_download_text(page, page.get_by_role("link", name="Export CSV")))))
    assert [r["action"] for r in rows] == ["seat.change", "seat.change"]
