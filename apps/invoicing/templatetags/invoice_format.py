from decimal import Decimal

from django import template

from apps.common.money import rate_format

register = template.Library()


@register.filter
def exact_usd(amount: Decimal | None) -> str:
    """The exact amount, without rounding ("$0.0045123"), in the reader's locale, for usage at API rates."""
    return "" if amount is None else rate_format(amount)
