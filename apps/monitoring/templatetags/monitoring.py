from decimal import ROUND_HALF_UP, Decimal

from django import template

from apps.common.money import format_usd

register = template.Library()


@register.filter
def usd(amount):
    """$1,234.56 (cents, half up); "Unlimited" for None."""
    return format_usd(amount)


@register.filter
def pct(ratio):
    """A 0–1 ratio as a whole percentage, rounded half up ("37%"); an em dash when there is none."""
    if ratio is None:
        return "—"
    return f"{(Decimal(str(ratio)) * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP):,}%"


@register.filter
def meter_class(ratio):
    """The app.css meter width class (w0 … w100, 5% steps) for a 0–1 ratio."""
    if ratio is None:
        return "w0"
    steps = int(min(max(Decimal(ratio), Decimal(0)), Decimal(1)) * 20)
    return f"w{steps * 5}"


@register.filter
def usage_ratio(spend, limit):
    if limit is None or not limit:
        return None
    return Decimal(spend) / Decimal(limit)
