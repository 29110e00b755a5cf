"""Dates and times on pages, in one locale-aware (Babel) format and the organization's zone (apps.common.dates):
Builtins (no load needed): `{{ moment|when:organization.billing_timezone }}`, `{{ day|day }}`, `{{ day|month }}`,
`{% day_range start last_day %}`."""

from django import template

from apps.common.dates import date_format, datetime_format, day_range_format, month_format

register = template.Library()


@register.filter
def when(moment, tz_name: str) -> str:
    """A moment in the given zone, named: "Dec 7, 2026, 11:15 AM (Europe/Berlin)"."""
    return datetime_format(moment, tz_name)


@register.filter
def day(value) -> str:
    """A local date: "Dec 7, 2026" / "07.12.2026"."""
    return date_format(value)


@register.filter
def month(value) -> str:
    """A billing month: "December 2026"."""
    return month_format(value) if value else ""


@register.simple_tag
def day_range(start, last_day) -> str:
    return day_range_format(start, last_day)
