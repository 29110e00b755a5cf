"""The dashboards follow a date range: totals, mixes, the daily series, seat types and the member list equal the
events of that range, and the range stays in the URL."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.monitoring.services import org_daily_refresh
from apps.usage.models import UsageEvent
from tests.factories import UserFactory, member

from .conftest import NOW
from .helpers import record

pytestmark = pytest.mark.django_db


def _url(name, org, query="", **kwargs):
    return reverse(name, kwargs={"slug": org.slug, **kwargs}) + query


def _events_total(org, start: dt.date, end: dt.date) -> Decimal:
    return sum((e.cost for e in UsageEvent.objects.filter(organization=org)
                if start <= e.occurred_at.date() < end), Decimal(0))


@pytest.fixture
def usage(team):
    org, people = team
    at = lambda month, day: dt.datetime(2026, month, day, 9, tzinfo=dt.UTC)  # noqa: E731
    record(org, "member@acme.test", "2", now=NOW, occurred_at=at(10, 3))
    record(org, "member@acme.test", "5", now=NOW, occurred_at=at(10, 29))
    record(org, "admin@acme.test", "11", now=NOW, occurred_at=at(10, 30), product="claude_code")
    record(org, "admin@acme.test", "1.5", now=NOW, occurred_at=at(11, 12))
    record(org, "member@acme.test", "0.25", now=NOW, occurred_at=at(11, 17))
    return org, people


def test_org_dashboard_for_the_last_period_equals_its_events(client, usage):
    org, people = usage
    client.force_login(people["owner"].user)
    for rebuilt in (False, True):  # from the rollups, then from the rebuilt daily totals
        if rebuilt:
            org_daily_refresh(organization=org, period_start=dt.date(2026, 10, 1))
            org_daily_refresh(organization=org, period_start=dt.date(2026, 11, 1))
        response = client.get(_url("monitoring:dashboard", org, "?range=last_period"))
        data = response.context["data"]
        assert data.spend == _events_total(org, dt.date(2026, 10, 1), dt.date(2026, 11, 1)) == Decimal("18")
        assert data.stale_periods == ([] if rebuilt else [dt.date(2026, 10, 1)])
        assert len(data.daily) == 31 and dict(data.daily)[dt.date(2026, 10, 30)] == Decimal("11")
        by_product = {b.label: b.cost for b in data.by_product}
        assert (by_product["Chat"], by_product["Claude Code"]) == (Decimal("7"), Decimal("11"))
        assert sum(b.cost for b in data.by_model) == Decimal("18")
        page = response.content.decode()
        assert "range=last_period" in page and 'data-testid="range-spend">$18.00<' in page


def test_a_custom_range_across_two_periods(client, usage):
    org, people = usage
    client.force_login(people["admin"].user)
    data = client.get(_url("monitoring:dashboard", org, "?range=custom&from=2026-10-29&to=2026-11-12")
                      ).context["data"]
    assert data.spend == Decimal("17.5") and data.date_range.days == 15
    members = client.get(_url("monitoring:dashboard_members", org, "?range=custom&from=2026-10-29&to=2026-11-12")
                         ).context["table"]
    assert [(r.membership.user.email, r.spend) for r in members.rows][:2] == [
        ("admin@acme.test", Decimal("12.5")), ("member@acme.test", Decimal("5"))]
    assert members.org_total == Decimal("17.5") and all(r.forecast is None for r in members.rows)
    page = client.get(_url("monitoring:dashboard_members", org, "?range=custom&from=2026-10-29&to=2026-11-12")
                      ).content.decode()
    assert "range=custom&amp;from=2026-10-29&amp;to=2026-11-12" in page and "Projected month-end" not in page


def test_seat_types_and_member_detail_follow_the_range(client, usage):
    org, people = usage
    client.force_login(people["owner"].user)
    tiers = client.get(_url("monitoring:dashboard_tiers", org, "?range=last_period")).context["tiers"]
    assert sum(t.spend for t in tiers) == Decimal("18")
    detail = client.get(_url("monitoring:member_detail", org, "?range=last_period",
                             membership_id=people["member"].pk)).context["data"]
    assert detail.range_spend == Decimal("7")
    assert dict(detail.range_daily)[dt.date(2026, 10, 29)] == Decimal("5")
    assert detail.status.total_spend == Decimal("0.25")  # limits stay this period's


def test_this_period_is_the_default_and_a_bad_range_falls_back_with_a_message(client, usage):
    org, people = usage
    client.force_login(people["owner"].user)
    default = client.get(_url("monitoring:dashboard", org)).context
    assert default["date_range"].preset == "period" and default["data"].counters.spend == Decimal("1.75")
    bad = client.get(_url("monitoring:dashboard", org, "?range=custom&from=2026-11-09&to=2026-11-01"))
    assert bad.status_code == 200 and bad.context["date_range"].preset == "period"
    assert "The end date is before the start date." in bad.content.decode()


@pytest.mark.parametrize("name", ["monitoring:dashboard", "monitoring:dashboard_tiers",
                                  "monitoring:dashboard_members"])
def test_a_range_page_runs_the_same_queries_for_5_and_25_members(client, team, name):
    org, people = team
    client.force_login(UserFactory(email="owner@acme.test"))
    url = _url(name, org, "?range=90d")
    record(org, "member@acme.test", "1", now=NOW, occurred_at=dt.datetime(2026, 10, 2, tzinfo=dt.UTC))
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(20):
        email = f"extra{n}@acme.test"
        member(org, email=email, since=NOW - dt.timedelta(days=90))
        record(org, email, "1", now=NOW, occurred_at=dt.datetime(2026, 9, 1 + n, tzinfo=dt.UTC))
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many.captured_queries) == len(few.captured_queries)
