"""Date ranges for the dashboards and exports: a few presets and custom dates, in the organization's local days.

A range is a half-open span of local dates [start, end). The URL keeps it as `range=<preset>` or
`range=custom&from=YYYY-MM-DD&to=YYYY-MM-DD` (both days included, as people read a date picker).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from apps.common.periods import local_date, next_month_start, period_containing, previous_month_start

MAX_RANGE_DAYS = 400  # a little over a year: the usage history an export may cover in one file
PRESETS = {
    "period": _("This period"),
    "last_period": _("Last period"),
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
    "90d": _("Last 90 days"),
    "custom": _("Custom dates"),
}
DEFAULT_PRESET = "period"


class RangeError(ValueError):
    """A range the reader asked for that cannot be shown; the message says why, for the form."""


@dataclass(frozen=True)
class DateRange:
    preset: str
    start: dt.date  # first local day included
    end: dt.date  # first local day after the range

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    @property
    def is_current_period(self) -> bool:
        return self.preset == "period"

    @property
    def is_whole_month(self) -> bool:
        """A whole local month (the previous period, or custom dates from the 1st to the month's last day):
        headings name the month."""
        return self.start.day == 1 and self.end == next_month_start(self.start)

    def query(self) -> str:
        """The URL query that selects this range again."""
        if self.preset == "custom":
            return f"range=custom&from={self.start.isoformat()}&to={self.last_day.isoformat()}"
        return f"range={self.preset}"


def date_range_for(*, preset: str, today: dt.date, start: dt.date | None = None,
                   last_day: dt.date | None = None) -> DateRange:
    """The range a preset names on `today` (the organization's local date). "Last N days" end with today."""
    if preset == "period":
        first = today.replace(day=1)
        return DateRange(preset, first, next_month_start(first))
    if preset == "last_period":
        first = previous_month_start(today)
        return DateRange(preset, first, today.replace(day=1))
    if preset in ("7d", "30d", "90d"):
        days = int(preset[:-1])
        return DateRange(preset, today - dt.timedelta(days=days - 1), today + dt.timedelta(days=1))
    if preset == "custom":
        if start is None or last_day is None:
            raise RangeError(_("Choose both dates."))
        if last_day < start:
            raise RangeError(_("The end date is before the start date."))
        if (last_day - start).days + 1 > MAX_RANGE_DAYS:
            raise RangeError(_("Choose at most %(days)d days.") % {"days": MAX_RANGE_DAYS})
        return DateRange(preset, start, last_day + dt.timedelta(days=1))
    raise RangeError(_("Choose one of the listed ranges."))


def date_range_from_query(params, *, now: dt.datetime, tz_name: str) -> DateRange:
    """The range a request's query string asks for (this period when it names none). RangeError when the dates
    are malformed or out of bounds."""
    today = local_date(now, tz_name)
    preset = params.get("range") or DEFAULT_PRESET
    if preset != "custom":
        return date_range_for(preset=preset, today=today)
    try:
        start = dt.date.fromisoformat(params.get("from") or "")
        last_day = dt.date.fromisoformat(params.get("to") or "")
    except ValueError:
        raise RangeError(_("Enter dates as YYYY-MM-DD.")) from None
    return date_range_for(preset="custom", today=today, start=start, last_day=last_day)


def current_period_range(*, now: dt.datetime, tz_name: str) -> DateRange:
    period = period_containing(now, tz_name)
    return DateRange("period", period.start, period.end)
