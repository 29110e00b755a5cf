"""Two-factor enforcement for organizations that require it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpResponse, HttpResponseRedirect
from django.urls import reverse

from .selectors import two_factor_required_by


class TwoFactorRequiredMiddleware:
    """A signed-in member who has not given a second factor in this session, opening any page of an
    organization that requires two-factor, is sent to set it up first (then back to the page). Members who
    already verified cost nothing; others one indexed query."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        slug = view_kwargs.get("slug")
        user = getattr(request, "user", None)
        if not slug or user is None or not user.is_authenticated or user.is_verified():
            return None
        organization = two_factor_required_by(slug=slug)
        if organization is None or not organization.memberships.filter(user=user, removed_at__isnull=True).exists():
            return None
        target = reverse("accounts:two_factor_setup") + "?" + urlencode(
            {"next": request.get_full_path(), "org": organization.slug})
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
