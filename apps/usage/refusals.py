"""The admission refusal reasons as a member reads them, in their language. The machine API keeps answering
the codes (and English); pages and emails show `refusal_text(code)`."""

from django.utils.translation import gettext_lazy as _

REFUSAL_TEXTS = {
    "no_seat": _("You have no seat in this organization yet. Ask an owner to assign you one."),
    "product_not_in_seat": _("Your seat does not include this product."),
    "member_cap": _("You have reached your spend limit for this month."),
    "tier_cap": _("You have reached your seat tier's spend limit for this month."),
    "org_cap": _("Your organization has reached its spend limit for this month."),
    "included_usage_exhausted": _("You have used all of the usage included in your seat this month."),
    "extra_usage_disabled": _("You have used your included usage, and extra usage is not enabled for you."),
    "prepaid_balance_exhausted": _("Your organization's prepaid balance for extra usage is used up."),
}


def refusal_text(code: str) -> str:
    """The sentence a member reads for a refusal code, in the active language; the code itself if unknown."""
    text = REFUSAL_TEXTS.get(code)
    return str(text) if text is not None else code
