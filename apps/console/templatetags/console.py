from decimal import Decimal

from django import template

from apps.common.money import format_usd
from apps.console.audit import audit_sentence as sentence_of

register = template.Library()


@register.filter
def usd(amount):
    """$1,234.56 (half-up cents); "Unlimited" for no amount."""
    return format_usd(amount)


@register.filter
def audit_sentence(entry) -> str:
    """An audit entry as a sentence in the active language (apps/console/audit.py)."""
    return sentence_of(entry)


@register.filter
def per_mtok(rate) -> str:
    """A rate in dollars per million tokens, exact: at least two decimals, more when the rate has them
    ("$3.00", "$0.075")."""
    value = Decimal(rate).normalize()
    places = max(2, -value.as_tuple().exponent)
    return f"${value:,.{places}f}"
