"""The member's "Request extra usage" partial, read from the admission decision (apps/spending/requests.py)."""

from django import template
from django.utils import timezone

from apps.spending.requests import member_extra_usage_summary

register = template.Library()


@register.inclusion_tag("extra_usage/_member_request_body.html", takes_context=True)
def extra_usage_member_request(context, membership=None):
    """The member's extra usage this period and their "Request extra usage" button (with an optional note and
    amount)."""
    membership = membership or context.get("membership")
    if membership is None:
        return {"summary": None}
    request = context.get("request")
    return {
        "organization": membership.organization,
        "summary": member_extra_usage_summary(membership=membership, now=timezone.now()),
        "csrf_token": context.get("csrf_token"),
        "next": request.get_full_path() if request is not None else "",
    }
