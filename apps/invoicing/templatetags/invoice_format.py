import datetime as dt
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_interval
from babel.numbers import format_decimal
from django import template
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from apps.common.money import babel_locale, rate4_format, rate_format
from apps.seats.models import TierCode

from ..models import OVERDUE, STATUS_LABELS, InvoiceStatus, LineKind

register = template.Library()


@register.filter
def exact_usd(amount: Decimal | None) -> str:
    """The exact amount, without rounding ("$0.0045123"), in the reader's locale: usage breakdowns (exact)."""
    return "" if amount is None else rate_format(amount)


@register.filter
def usd4(amount: Decimal | None) -> str:
    """An amount shown for information on a line (at API rates, a unit rate): at most four decimals."""
    return rate4_format(amount)


def _day(iso: str) -> str:
    return date_format(dt.date.fromisoformat(iso), "M j")


def _ranges(ranges) -> str:
    parts = []
    for start, end in ranges:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end) - dt.timedelta(days=1)
        parts.append(date_format(first, "M j") + (f"–{last.day}" if last != first else ""))
    return ", ".join(parts)


def _tier(code: str) -> str:
    return _(dict(TierCode.choices).get(code, code))


@register.filter
def line_label(line) -> str:
    """The line's words in the reader's language, from what it is made of (its kind, days and `detail`); the
    stored English description for lines issued before lines carried their detail."""
    detail = line.detail or {}
    kind = line.kind
    if kind == LineKind.SEAT_FEE and detail.get("tiers"):
        return "; ".join(
            _("%(tier)s seat, %(ranges)s (%(days)s of %(period_days)s days)") % {
                "tier": _tier(part["tier"]), "ranges": _ranges(part["ranges"]), "days": part["days"],
                "period_days": line.period_days}
            for part in detail["tiers"])
    if kind == LineKind.SEAT_UPGRADE_CHARGE and detail.get("upgrades"):
        return "; ".join(
            _("%(old)s → %(new)s upgrade on %(day)s, already charged (%(days)s of %(period_days)s days)") % {
                "old": _tier(u["from"]), "new": _tier(u["to"]), "day": _day(u["day"]), "days": u["remaining"],
                "period_days": u["period_days"]}
            for u in detail["upgrades"])
    if kind == LineKind.HIPAA and line.days is not None:
        return _("HIPAA-ready add-on (%(days)s of %(period_days)s days)") % {
            "days": line.days, "period_days": line.period_days}
    if kind == LineKind.INCLUDED_USAGE:
        return _("Covered by included usage")
    if kind == LineKind.USAGE and line.model_id is None:
        return _("Usage at API rates") if line.included_cost is None else _("Extra usage")
    if kind == LineKind.PREPAID_USAGE_INFO and line.model_id is None:
        return _("Extra usage drawn from the prepaid balance")
    if kind == LineKind.LATE_USAGE_ADJUSTMENT and line.model_id is None and line.usage_period_start:
        month = date_format(line.usage_period_start, "YEAR_MONTH_FORMAT")
        if line.informational:
            return _("Late usage adjustment for %(month)s (drawn from the prepaid balance)") % {"month": month}
        return _("Late usage adjustment for %(month)s") % {"month": month}
    if kind in (LineKind.PREPAID_PURCHASE, LineKind.AUTO_RELOAD) and detail.get("day"):
        if kind == LineKind.AUTO_RELOAD:
            return _("Auto-reload of prepaid extra usage on %(day)s (already paid)") % {"day": _day(detail["day"])}
        return _("Prepaid extra usage purchased on %(day)s (already paid)") % {"day": _day(detail["day"])}
    return line.description


@register.filter
def doc_date(day: dt.date | None) -> str:
    """A document date in the reader's locale (Babel, medium: "Dec 1, 2026", "01.12.2026")."""
    return "" if day is None else format_date(day, "medium", locale=babel_locale())


@register.filter
def period_range(invoice) -> str:
    """The billing period as a locale-aware interval: "Nov 1 – 30, 2026", "1.–30. Nov. 2026"."""
    last = invoice.period_end - dt.timedelta(days=1)
    return format_interval(invoice.period_start, last, "yMMMd", locale=babel_locale())


@register.filter
def tax_percent(rate: Decimal | None) -> str:
    """A tax rate in percent, in the reader's locale ("19 %" in German): up to two decimals, none when whole."""
    if rate is None:
        return ""
    return _("%(rate)s%%") % {"rate": format_decimal(Decimal(rate).normalize(), format="#,##0.##",
                                                      locale=babel_locale())}


@register.filter
def status_label(code: str) -> str:
    return str(STATUS_LABELS.get(code, code))


@register.filter
def status_class(code: str) -> str:
    """The badge class of a status: red for overdue, void or uncollectible; green for paid."""
    if code in (OVERDUE, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE):
        return "danger"
    if code == InvoiceStatus.PAID:
        return "success"
    return ""


@register.filter
def country_name(code: str) -> str:
    """A country's name in the reader's language (CLDR via Babel): "DE" → "Germany", "Deutschland"."""
    if not code:
        return ""
    return Locale.parse(babel_locale()).territories.get(code.upper(), code)


@register.filter
def month_year(day: dt.date | None) -> str:
    """"November 2026", "November 2026", "novembre 2026" in the reader's language."""
    return "" if day is None else format_date(day, "MMMM y", locale=babel_locale())
