"""Template tags other pages use to show extra usage: the owners' Settings > Usage sections (the member's
"Request extra usage" partial reads the admission decision: apps/console/templatetags/spend_requests.py)."""

from django import template
from django.conf import settings

from apps.extra_usage import selectors
from apps.usage.refusals import refusal_text

register = template.Library()


@register.inclusion_tag("extra_usage/_sections.html", takes_context=True)
def extra_usage_sections(context, membership=None):
    """The extra-usage sections of Settings > Usage for `membership` (default: the context's `membership`)."""
    membership = membership or context.get("membership")
    if membership is None:
        return {"membership": None}
    request = context.get("request")
    data = selectors.extra_usage_sections(membership=membership)
    data["csrf_token"] = context.get("csrf_token")
    data["next"] = request.get_full_path() if request is not None else ""
    return data


@register.simple_tag
def stripe_payments() -> bool:
    """Whether prepaid purchases go through Stripe (then owners save a card through Stripe Checkout)."""
    return settings.PAYMENT_PROVIDER in ("stripe", "apps.extra_usage.payments.StripeProvider")


@register.filter
def refusal(code: str) -> str:
    """Why a member is stopped, as they read it (usage.refusals), in the active language."""
    return refusal_text(code)
