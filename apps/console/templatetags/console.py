
from django import template

from apps.common.money import rate_format
from apps.console.audit import audit_sentence as sentence_of

register = template.Library()


@register.filter
def audit_sentence(entry) -> str:
    """An audit entry as a sentence in the active language (apps/console/audit.py)."""
    return sentence_of(entry)


@register.filter
def per_mtok(rate) -> str:
    """A rate per million tokens in the reader's locale, exact: at least two decimals, more when the rate has
    them ("$3.00", "$0.075")."""
    return rate_format(rate)
