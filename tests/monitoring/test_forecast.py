"""The month-end forecast: weekday-aware run-rate of the last 7 complete days, on fixed data."""

import datetime as dt
from decimal import Decimal

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
