"""Billing periods are calendar months in the organization's billing time zone."""

import datetime as dt

import pytest
import time_machine

from apps.common.periods import local_date, period_containing
from apps.organizations.models import PlanKind
from apps.usage.models import MemberPeriodUsage, UsageDailyRollup, UsageEvent
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

UTC = dt.UTC


def test_period_follows_the_local_month_not_the_utc_month():
    # 07:59 UTC on 1 Feb is still 31 Jan, 23:59 in Los Angeles (UTC−8).
    january = period_containing(dt.datetime(2026, 2, 1, 7, 59, tzinfo=UTC), "America/Los_Angeles")
    february = period_containing(dt.datetime(2026, 2, 1, 8, 0, tzinfo=UTC), "America/Los_Angeles")
    assert january.start == dt.date(2026, 1, 1)
    assert february.start == dt.date(2026, 2, 1)
    assert january.ends_at == february.starts_at == dt.datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
    assert february.ends_at == dt.datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert (january.days, february.days) == (31, 28)


def test_period_east_of_utc_starts_the_previous_utc_day():
    # Tokyo is UTC+9: its March starts at 15:00 UTC on 28 February.
    period = period_containing(dt.datetime(2026, 2, 28, 15, 0, tzinfo=UTC), "Asia/Tokyo")
    assert period.start == dt.date(2026, 3, 1)
    assert period.starts_at == dt.datetime(2026, 2, 28, 15, 0, tzinfo=UTC)


def test_period_across_a_daylight_saving_change_keeps_local_midnights():
    # New York moves to UTC−4 on 8 March 2026: March starts at 05:00 UTC and ends at 04:00 UTC.
    period = period_containing(dt.datetime(2026, 3, 15, tzinfo=UTC), "America/New_York")
    assert period.starts_at == dt.datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert period.ends_at == dt.datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
    assert period.days == 31


def test_december_rolls_into_next_year():
    period = period_containing(dt.datetime(2026, 12, 31, 23, 0, tzinfo=UTC), "UTC")
    assert (period.start, period.end) == (dt.date(2026, 12, 1), dt.date(2027, 1, 1))


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        period_containing(dt.datetime(2026, 1, 1), "UTC")  # noqa: DTZ001
    with pytest.raises(ValueError):
        local_date(dt.datetime(2026, 1, 1), "UTC")  # noqa: DTZ001


@pytest.mark.django_db
def test_usage_on_either_side_of_local_midnight_lands_in_the_right_period_and_day():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, billing_timezone="America/Los_Angeles")
    membership = member(org, email="dev@example.com", tier_code="chat_code",
                        since=dt.datetime(2026, 1, 1, tzinfo=UTC))
    client = ApiClient(api_key(org))
    with time_machine.travel(dt.datetime(2026, 2, 10, tzinfo=UTC), tick=False):
        for key, occurred_at in (("jan", "2026-02-01T07:59:59Z"), ("feb", "2026-02-01T08:00:00Z")):
            response = client.post("/usage", {
                "idempotency_key": key, "member": "dev@example.com", "product": "chat", "model": "claude-haiku-4-5",
                "occurred_at": occurred_at, "usage": {"input_tokens": 1_000_000, "output_tokens": 0}})
            assert response.status_code == 201, response.content
        # The second event starts February's month-to-date afresh.
        assert response.json()["member_month_to_date"] == "1"
        admission = client.post("/admission", {"member": "dev@example.com", "product": "chat",
                                               "model": "claude-haiku-4-5"}).json()
    assert admission["period_ends_at"] in ("2026-03-01T08:00:00Z", "2026-03-01T08:00:00+00:00")
    assert UsageEvent.objects.get(idempotency_key="jan").period_start == dt.date(2026, 1, 1)
    assert UsageEvent.objects.get(idempotency_key="feb").period_start == dt.date(2026, 2, 1)
    assert sorted(MemberPeriodUsage.objects.filter(membership=membership).values_list("period_start", "spend")) == [
        (dt.date(2026, 1, 1), 1), (dt.date(2026, 2, 1), 1)]
    assert sorted(UsageDailyRollup.objects.filter(membership=membership).values_list("day", flat=True)) == [
        dt.date(2026, 1, 31), dt.date(2026, 2, 1)]
