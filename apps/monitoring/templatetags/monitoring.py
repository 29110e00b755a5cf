from decimal import Decimal

from django import template

register = template.Library()


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
