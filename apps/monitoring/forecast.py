"""Month-end spend forecast: a weekday-aware run-rate of the last 7 complete days. Pure functions, no queries.

The method (stated on every page that shows a forecast):

1. The window is the 7 complete local days before today (today − 7 … today − 1); a day without usage counts
   as $0. Any 7 consecutive days hold exactly 5 weekdays (Monday–Friday) and 2 weekend days.
2. Weekday rate = spend on the window's weekdays ÷ 5; weekend rate = spend on its Saturday and Sunday ÷ 2.
3. Projected month-end spend = month-to-date spend (today so far included)
   + the rate of today's day type × the fraction of today still to come
   + for each later day of the period, the rate of its day type.
4. A member's projection stops at their binding limit (spending.ceiling: the limit admission enforces, in
   total-spend terms): "projected $767; capped at $165 by your limit".
5. The cap is reached on the first day whose running total (built the same way, day by day) is at least the
   cap; "not this period" if the total stays below it; "already" if month-to-date spend has reached it.

Amounts stay exact Decimals; only display rounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.utils.translation import gettext_lazy

from apps.common.money import ZERO

WINDOW_DAYS = 7
WEEKDAYS_IN_WINDOW = 5
WEEKEND_DAYS_IN_WINDOW = 2
METHOD = gettext_lazy(
    "Weekday-aware run-rate of the last 7 complete days: average spend per weekday (Mon–Fri, ÷5) and per "
    "weekend day (Sat–Sun, ÷2) over those days, applied to the rest of today and to each remaining day of "
    "the period, added to month-to-date spend."
)


def is_weekend(day: dt.date) -> bool:
    return day.weekday() >= 5


@dataclass(frozen=True)
class Forecast:
    month_to_date: Decimal
    projected: Decimal
    weekday_rate: Decimal
    weekend_rate: Decimal
    cap: Decimal | None
    cap_reached_on: dt.date | None  # the day the cap would be reached at this rate, within the period
    cap_already_reached: bool
    # The member's binding limit in total-spend terms and what it is (spending.ceiling), when one binds.
    ceiling: Decimal | None = None
    ceiling_reason: str | None = None

    @property
    def projected_over_cap(self) -> bool:
        return self.cap is not None and self.projected >= self.cap

    @property
    def capped(self) -> bool:
        """The run-rate would pass the binding limit: spend stops there."""
        return self.ceiling is not None and self.projected > self.ceiling

    @property
    def expected(self) -> Decimal:
        """What the member can actually spend by month-end: the projection, stopped at the binding limit."""
        return min(self.projected, self.ceiling) if self.capped else self.projected


def window_days(today: dt.date) -> list[dt.date]:
    """The 7 complete days the run-rate is taken from, oldest first."""
    return [today - dt.timedelta(days=n) for n in range(WINDOW_DAYS, 0, -1)]


def forecast_month_end(*, month_to_date: Decimal, daily_spend: Mapping[dt.date, Decimal], today: dt.date,
                       period_end: dt.date, today_remaining: Decimal, cap: Decimal | None = None,
                       ceiling=None) -> Forecast:
    """Project month-end spend by the method in this module's docstring.

    `daily_spend` maps local days to spend (days outside the 7-day window are ignored); `period_end` is the
    first local day after the period; `today_remaining` the fraction of today still to come (0–1). `ceiling`
    (a spending.ceiling.Ceiling) is the member's binding limit: the forecast says where it stops the spend.
    """
    weekday_total = weekend_total = ZERO
    for day in window_days(today):
        amount = daily_spend.get(day, ZERO)
        if is_weekend(day):
            weekend_total += amount
        else:
            weekday_total += amount
    weekday_rate = weekday_total / WEEKDAYS_IN_WINDOW
    weekend_rate = weekend_total / WEEKEND_DAYS_IN_WINDOW

    def rate(day: dt.date) -> Decimal:
        return weekend_rate if is_weekend(day) else weekday_rate

    already = cap is not None and month_to_date >= cap
    reached_on = None
    running = month_to_date + rate(today) * today_remaining
    if cap is not None and not already and running >= cap:
        reached_on = today
    day = today + dt.timedelta(days=1)
    while day < period_end:
        running += rate(day)
        if cap is not None and not already and reached_on is None and running >= cap:
            reached_on = day
        day += dt.timedelta(days=1)
    return Forecast(
        month_to_date=month_to_date,
        projected=running,
        weekday_rate=weekday_rate,
        weekend_rate=weekend_rate,
        cap=cap,
        cap_reached_on=reached_on,
        cap_already_reached=already,
        ceiling=ceiling.amount if ceiling is not None else None,
        ceiling_reason=ceiling.reason if ceiling is not None else None,
    )


def today_remaining_fraction(*, now: dt.datetime, day_start: dt.datetime, day_end: dt.datetime) -> Decimal:
    """The share of the local day [day_start, day_end) still to come at `now` (23- and 25-hour days too)."""
    total = (day_end - day_start).total_seconds()
    left = max((day_end - now).total_seconds(), 0.0)
    # Seconds to a whole number keeps the Decimal exact and reproducible.
    return Decimal(int(left)) / Decimal(int(total)) if total > 0 else ZERO
