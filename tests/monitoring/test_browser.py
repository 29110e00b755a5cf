"""The dashboard in a real Chromium: the charts are drawn by the vendored Chart.js under the strict CSP."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

from .helpers import SONNET, record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANVAS_INK = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let ink = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) { ink++; } }
  return {ink, chart: !!window.Chart.getChart(canvas), width: canvas.width};
}"""


def _seed():
    from django.utils import timezone

    now = timezone.now()
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, slug="chartco", name="ChartCo")
    member(org, email="owner@chartco.test", role=Role.PRIMARY_OWNER, since=now - dt.timedelta(days=70))
    member(org, email="dev@chartco.test", since=now - dt.timedelta(days=70))
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("500"), now=now)
    for days_ago in range(0, 40, 3):
        when = now - dt.timedelta(days=days_ago)
        record(org, "dev@chartco.test", Decimal("4.5") + days_ago, now=now, occurred_at=when, product="claude_code")
        record(org, "owner@chartco.test", "2.25", now=now, occurred_at=when, model=SONNET)
    return org


def _assert_charts_drawn(page, expected: int):
    errors = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.wait_for_selector("canvas[data-chart-drawn='true']")
    canvases = page.locator("canvas[data-chart]")
    assert canvases.count() == expected
    for i in range(expected):
        state = canvases.nth(i).evaluate(CANVAS_INK)
        assert state["chart"] and state["width"] > 0
        assert state["ink"] > 500, f"canvas {i} looks blank: {state}"
    assert page.locator("canvas[data-chart-drawn='error']").count() == 0
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e]


def test_owner_opens_the_dashboard_and_sees_the_charts_drawn(page):
    org = _seed()
    login(page, "owner@chartco.test")
    csp_violations = []
    page.on("console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.goto(f"/orgs/{org.slug}/usage/dashboard/")
    page.get_by_role("heading", name="Usage dashboard").wait_for()
    _assert_charts_drawn(page, 4)
    assert "Weekday-aware run-rate" in page.content()
    page.get_by_text("Show as a table").first.click()  # the screen-reader table is there too
    assert page.locator("details[open] table tbody tr").count() >= 28
    screenshot(page, "monitoring-dashboard")
    assert csp_violations == []


def test_member_opens_their_own_usage_page_with_its_chart(page):
    org = _seed()
    login(page, "dev@chartco.test")
    page.goto(f"/orgs/{org.slug}/usage/me/")
    page.get_by_role("heading", name="My usage").wait_for()
    _assert_charts_drawn(page, 2)
    screenshot(page, "monitoring-my-usage")
