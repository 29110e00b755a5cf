"""The one money filter (and its number and percentage siblings), a template builtin: every template can
write `{{ amount|money }}` without loading anything. Formatting is apps.common.money's, in the active language."""

from decimal import Decimal

from django import template

from apps.common.money import money_format, number_format, percent_format, rate_format, rounding_rule_text

register = template.Library()


@register.filter
def money(amount, currency: str = "USD") -> str:
    """`{{ cap.amount|money }}` → "$1,234.56" / "1.234,56 $" …; None reads "Unlimited" (no limit)."""
    return money_format(amount, currency or "USD")


@register.filter
def number(value, places=None) -> str:
    """`{{ count|number }}` → "12,345" / "12.345" …; `|number:2` rounds to two places, half up."""
    return number_format(value, places=None if places in (None, "") else int(places))


@register.filter
def percent(ratio) -> str:
    """`{{ ratio|percent }}` for a 0–1 ratio → "37%" / "37 %" …; "—" when there is none."""
    return percent_format(ratio)


@register.filter
def whole_percent(value) -> str:
    """`{{ 37|whole_percent }}` for a percentage already in 0–100 → "37%" / "37 %" …; "—" when there is none."""
    return percent_format(None if value is None else Decimal(str(value)) / 100)


@register.filter
def exact_money(amount, currency: str = "USD") -> str:
    """`{{ amount|exact_money }}` → the exact amount, never rounded ("$212.41234567"), in the reader's locale."""
    return "" if amount is None else rate_format(amount, currency or "USD")


@register.simple_tag
def rounding_rule() -> str:
    """`{% rounding_rule %}`: the one rounding rule in one sentence (apps.common.money), in the active language."""
    return rounding_rule_text()
