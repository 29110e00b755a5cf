from decimal import Decimal

from django import template

from apps.common.money import decimal_str
from apps.common.templatetags.money import money

register = template.Library()

# The invoice templates (rewritten on the invoices branch) still say |usd: it is the one money filter.
register.filter("usd", money)


@register.filter
def exact_usd(amount: Decimal | None) -> str:
    """The exact amount, without rounding ("$0.0045123"), for usage at API rates."""
    return "" if amount is None else f"${decimal_str(amount)}"
