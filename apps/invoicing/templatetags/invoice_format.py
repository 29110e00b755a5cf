from decimal import Decimal

from django import template

from apps.common.money import decimal_str, format_usd

register = template.Library()


@register.filter
def usd(amount: Decimal | None) -> str:
    """Cents with a thousands separator and a leading minus for credits: "$1,234.50", "-$76.00"."""
    return "" if amount is None else format_usd(amount)


@register.filter
def exact_usd(amount: Decimal | None) -> str:
    """The exact amount, without rounding ("$0.0045123"), for usage at API rates."""
    return "" if amount is None else f"${decimal_str(amount)}"
