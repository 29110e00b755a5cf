"""The organization navigation shown by base.html on every page under /orgs/<slug>/.

Computed lazily (one query, only when a template reads it) so pages that do not render the navigation pay
nothing. Links to pages of apps that are not installed (yet) are left out rather than breaking the page.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext_lazy as _

from apps.organizations.permissions import Capability, can
from apps.organizations.selectors import memberships_for_user

# (label, url name, capability needed to see the link)
NAV_LINKS = [
    (_("Usage settings"), "console:usage_settings", Capability.VIEW_ORG_USAGE),
    (_("Members"), "console:members", Capability.VIEW_ORG_USAGE),
    (_("Dashboard"), "monitoring:dashboard", Capability.VIEW_ORG_USAGE),
    (_("Invoices"), "invoicing:invoice_list", Capability.VIEW_ORG_USAGE),
    (_("Billing history"), "console:billing_history", Capability.VIEW_ORG_USAGE),
    (_("Admin API keys"), "admin_api:keys", Capability.MANAGE_ADMIN_API_KEYS),
    (_("Audit log"), "console:audit_log", Capability.VIEW_ORG_USAGE),
    (_("Prices"), "console:prices", Capability.VIEW_ORG_USAGE),
    (_("Security & SSO"), "identity:settings", Capability.MANAGE_MEMBERS),
    (_("Webhooks"), "webhooks:endpoints", Capability.MANAGE_BILLING),
    (_("Language"), "console:language_settings", Capability.VIEW_ORG_USAGE),
    (_("My usage"), "monitoring:my_usage", Capability.VIEW_OWN_USAGE),
]


def build_nav(request) -> dict:
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match else None
    user = getattr(request, "user", None)
    if not slug or user is None or not user.is_authenticated:
        return {}
    memberships = list(memberships_for_user(user=user))
    current = next((m for m in memberships if m.organization.slug == slug), None)
    if current is None:
        return {}
    links = []
    for label, url_name, capability in NAV_LINKS:
        if not can(current, capability):
            continue
        try:
            url = reverse(url_name, kwargs={"slug": slug})
        except NoReverseMatch:  # that page's app is not installed yet
            continue
        links.append({"label": label, "url": url, "current": match.view_name == url_name
                      or (url_name == "console:usage_settings" and request.path.startswith(url))})
    return {"organization": current.organization, "membership": current, "memberships": memberships,
            "links": links}


def console_nav(request):
    return {"console_nav": SimpleLazyObject(lambda: build_nav(request))}
