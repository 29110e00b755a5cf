"""The month-end forecast: weekday-aware run-rate of the last 7 complete days, on fixed data."""

import datetime as dt
from decimal import Decimal

import pytest

from apps.monitoring.forecast import forecast_month_end, today_remaining_fraction, window_days

# Wednesday 18 November 2026; the window is Wed 11 … Tue 17 November (Sat 14 and Sun 15 are the weekend).
TODAY = dt.date(2026, 11, 18)
PERIOD_END = dt.date(2026, 12, 1)
DAILY = {
    dt.date(2026, 11, 11): Decimal("100"),  # Wed
    dt.date(2026, 11, 12): Decimal("120"),  # Thu
    dt.date(2026, 11, 13): Decimal("80"),   # Fri
    dt.date(2026, 11, 14): Decimal("10"),   # Sat
    dt.date(2026, 11, 15): Decimal("30"),   # Sun
    dt.date(2026, 11, 16): Decimal("150"),  # Mon
    dt.date(2026, 11, 17): Decimal("50"),   # Tue
    dt.date(2026, 11, 10): Decimal("9999"),  # outside the window: ignored
    TODAY: Decimal("9999"),  # today is not complete: ignored
}


def test_window_is_the_seven_complete_days_before_today():
    assert window_days(TODAY) == [dt.date(2026, 11, d) for d in range(11, 18)]


def test_forecast_on_fixed_data_gives_the_stated_number():
    # Weekday rate = (100+120+80+150+50)/5 = 100; weekend rate = (10+30)/2 = 20.
    # Rest of today (Wed, half left): 0.5 × 100 = 50. Thu 19 … Mon 30 November: 8 weekdays (19, 20, 23–27, 30)
    # × 100 = 800 and 4 weekend days (21, 22, 28, 29) × 20 = 80. Projected = 1,000 + 50 + 800 + 80 = 1,930.
    forecast = forecast_month_end(month_to_date=Decimal("1000"), daily_spend=DAILY, today=TODAY,
                                  period_end=PERIOD_END, today_remaining=Decimal("0.5"), cap=Decimal("1500"))
    assert forecast.weekday_rate == Decimal("100")
    assert forecast.weekend_rate == Decimal("20")
    assert forecast.projected == Decimal("1930")
    # Running total: today 1,050; Thu 19 1,150; Fri 20 1,250; Sat 1,270; Sun 1,290; Mon 23 1,390; Tue 24 1,490;
    # Wed 25 1,590 ≥ 1,500.
    assert forecast.cap_reached_on == dt.date(2026, 11, 25)
    assert not forecast.cap_already_reached
    assert forecast.projected_over_cap


def test_cap_not_reached_this_period_gives_no_date():
    forecast = forecast_month_end(month_to_date=Decimal("1000"), daily_spend=DAILY, today=TODAY,
                                  period_end=PERIOD_END, today_remaining=Decimal("0.5"), cap=Decimal("5000"))
    assert forecast.cap_reached_on is None
    assert not forecast.projected_over_cap


def test_cap_already_reached_is_reported_as_such():
    forecast = forecast_month_end(month_to_date=Decimal("1500"), daily_spend=DAILY, today=TODAY,
                                  period_end=PERIOD_END, today_remaining=Decimal("0.5"), cap=Decimal("1500"))
    assert forecast.cap_already_reached
    assert forecast.cap_reached_on is None


def test_cap_reached_during_the_rest_of_today_is_today():
    forecast = forecast_month_end(month_to_date=Decimal("1000"), daily_spend=DAILY, today=TODAY,
                                  period_end=PERIOD_END, today_remaining=Decimal("0.5"), cap=Decimal("1040"))
    assert forecast.cap_reached_on == TODAY


def test_no_usage_in_the_window_projects_month_to_date():
    forecast = forecast_month_end(month_to_date=Decimal("12.5"), daily_spend={}, today=TODAY,
                                  period_end=PERIOD_END, today_remaining=Decimal("1"))
    assert forecast.projected == Decimal("12.5")
    assert forecast.cap_reached_on is None


def test_last_day_of_the_period_only_adds_the_rest_of_today():
    # Monday 30 November: window 23–29 November, $10 on each weekday (23–27), nothing at the weekend.
    daily = {dt.date(2026, 11, d): Decimal("10") for d in range(23, 28)}
    forecast = forecast_month_end(month_to_date=Decimal("10"), daily_spend=daily, today=dt.date(2026, 11, 30),
                                  period_end=PERIOD_END, today_remaining=Decimal("0.25"))
    assert forecast.projected == Decimal("12.5")  # 10 + 0.25 × 10


def test_remaining_fraction_of_a_day():
    start = dt.datetime(2026, 11, 18, tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    assert today_remaining_fraction(now=start + dt.timedelta(hours=18), day_start=start, day_end=end) == Decimal(
        "0.25")
    assert today_remaining_fraction(now=end, day_start=start, day_end=end) == Decimal(0)


@pytest.mark.django_db
def test_the_forecast_stops_at_the_binding_limit_the_spend_decision_enforces(client, team):
    """A member limited to $165 who runs at $20 a day sees "projected $400.00; capped at $165.00 by your limit",
    owners see the same on the member's page and in the members table."""
    import re

    from django.urls import reverse

    from apps.organizations.models import Role
    from apps.usage.models import CapScope
    from apps.usage.services import cap_set

    from .conftest import NOW
    from .helpers import record

    org, people = team
    cap_set(organization=org, scope=CapScope.MEMBER, membership=people[Role.MEMBER], amount=Decimal("165"), now=NOW)
    for day in range(11, 19):  # $20 a day on 11–17 November, $10 so far on the 18th: $150 month to date
        record(org, "member@acme.test", "20" if day < 18 else "10", now=NOW,
               occurred_at=dt.datetime(2026, 11, day, 0, 30, tzinfo=dt.UTC))
    # At $20 a day: 150 + 20 × ½ (the rest of today) + 12 × 20 = $400, stopped at the $165 limit.
    client.force_login(people[Role.MEMBER].user)
    page = client.get(reverse("monitoring:my_usage", kwargs={"slug": org.slug})).content.decode()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))
    assert re.search(r'data-testid="projected">\$165\.00<', page)
    assert "Projected $400.00 at this rate; capped at $165.00 by your limit." in text
    client.force_login(people[Role.OWNER].user)
    detail = client.get(reverse("monitoring:member_detail", kwargs={"slug": org.slug,
                                                                    "membership_id": people[Role.MEMBER].pk}))
    assert "capped at $165.00 by the member's own limit." in re.sub(r"<[^>]+>", "", detail.content.decode())
    table = client.get(reverse("monitoring:dashboard_members", kwargs={"slug": org.slug})).content.decode()
    assert re.search(r'data-testid="member-projection">\$165\.00<div class="muted small">capped by the limit '
                     r'\(projected \$400\.00\)', table)
