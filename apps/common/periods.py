"""Billing periods: calendar months in the organization's billing time zone.

WARNING: changing how a period's bounds or a day's length are computed changes past invoices and prorations.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """One billing period: [starts_at, ends_at) in UTC, the local month starting on `start` (a date)."""

    start: dt.date
    starts_at: dt.datetime
    ends_at: dt.datetime
    tz: ZoneInfo

    @property
    def days(self) -> int:
        return (next_month_start(self.start) - self.start).days

    @property
    def end(self) -> dt.date:
        """The first local day after the period."""
        return next_month_start(self.start)


def next_month_start(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def previous_month_start(day: dt.date) -> dt.date:
    first = day.replace(day=1)
    return (first - dt.timedelta(days=1)).replace(day=1)


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz).astimezone(dt.UTC)


@functools.lru_cache(maxsize=4096)  # pure, and asked once per event on the recording path
def period_for_start(start: dt.date, tz_name: str) -> Period:
    tz = ZoneInfo(tz_name)
    return Period(
        start=start,
        starts_at=local_midnight(start, tz),
        ends_at=local_midnight(next_month_start(start), tz),
        tz=tz,
    )


def period_containing(moment: dt.datetime, tz_name: str) -> Period:
    """The billing period that contains an aware datetime, in the given billing time zone."""
    if moment.tzinfo is None:
        raise ValueError("billing periods need an aware datetime")
    local = moment.astimezone(ZoneInfo(tz_name))
    return period_for_start(local.date().replace(day=1), tz_name)


def local_date(moment: dt.datetime, tz_name: str) -> dt.date:
    if moment.tzinfo is None:
        raise ValueError("billing dates need an aware datetime")
    return moment.astimezone(ZoneInfo(tz_name)).date()
