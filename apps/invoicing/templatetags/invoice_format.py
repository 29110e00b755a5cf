import datetime as dt
from decimal import Decimal

from babel import Locale
from babel.dates import format_date, format_interval
from babel.numbers import format_decimal
from django import template
from django.utils.translation import gettext as _

from apps.common.money import babel_locale, rate_format

from ..models import OVERDUE, STATUS_LABELS, InvoiceStatus

register = template.Library()


@register.filter
def exact_usd(amount: Decimal | None) -> str:
    """The exact amount, without rounding ("$0.0045123"), in the reader's locale, for usage at API rates."""
    return "" if amount is None else rate_format(amount)


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
