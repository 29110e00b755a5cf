"""The one date and time format of every page: Babel's (CLDR) medium date and short time in the reader's
language, always in the organization's billing time zone, with the zone named by its IANA id so nobody has to
guess ("Dec 7, 2026, 11:15 AM (Europe/Berlin)", "07.12.2026, 11:15 (Europe/Berlin)").

Templates use the `dates` builtins: `{{ moment|when:organization.billing_timezone }}`, `{{ day|day }}`,
`{{ day|month }}` ("December 2026"), `{% day_range start last_day %}` ("Nov 1 – 30, 2026").
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_interval, format_skeleton, format_time

from .money import babel_locale


def _locale(locale: str | None) -> Locale:
    return Locale.parse(babel_locale(locale) if locale else babel_locale())


def local_moment(moment: dt.datetime, tz_name: str) -> dt.datetime:
    return moment.astimezone(ZoneInfo(tz_name))


def date_format(day: dt.date | dt.datetime | None, locale: str | None = None) -> str:
    """A day ("Dec 7, 2026" en, "07.12.2026" de, "7 déc. 2026" fr). Give a date, not a datetime: a moment must
    first be put in the organization's zone (`datetime_format` does)."""
    if day is None:
        return ""
    if isinstance(day, dt.datetime):
        day = day.date()
    return format_date(day, "medium", locale=_locale(locale))


def datetime_format(moment: dt.datetime | None, tz_name: str, locale: str | None = None, *,
                    zone: bool = True) -> str:
    """A moment in the organization's zone, named: "Dec 7, 2026, 11:15 AM (Europe/Berlin)"."""
    if moment is None:
        return ""
    loc = _locale(locale)
    local = local_moment(moment, tz_name)
    text = str(loc.datetime_formats["medium"]).format(format_time(local, "short", locale=loc),
                                                      format_date(local.date(), "medium", locale=loc))
    return f"{text} ({tz_name})" if zone else text


def month_format(day: dt.date, locale: str | None = None) -> str:
    """A billing month: "December 2026", "Dezember 2026", "diciembre de 2026"."""
    return format_skeleton("yMMMM", day, locale=_locale(locale))


def day_range_format(start: dt.date, last_day: dt.date, locale: str | None = None) -> str:
    """Inclusive local days: "Nov 1 – 30, 2026", "1.–30. Nov. 2026"."""
    if start == last_day:
        return date_format(start, locale)
    return format_interval(start, last_day, "yMMMd", locale=_locale(locale))
