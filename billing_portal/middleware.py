"""Project-wide middleware."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme


class HtmxLoginRedirectMiddleware:
    """When a session has expired, an HTMX request (a cap modal, the members table, a review dialog) is answered
    with `HX-Redirect` to the login page, which then returns the user to the page they were on.

    Without this, HTMX follows the login redirect itself and swaps the login form into the modal or table.
    The page to return to is the one in the browser (`HX-Current-URL`), not the fragment URL HTMX asked for.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.headers.get("HX-Request") != "true" or response.status_code not in (301, 302):
            return response
        login_path = urlsplit(resolve_url(settings.LOGIN_URL)).path
        if urlsplit(response.get("Location", "")).path != login_path:
            return response
        current = request.headers.get("HX-Current-URL", "")
        if current and url_has_allowed_host_and_scheme(current, allowed_hosts={request.get_host()},
                                                        require_https=request.is_secure()):
            parts = urlsplit(current)
            back = parts.path + (f"?{parts.query}" if parts.query else "")
        else:
            back = request.get_full_path()
        redirect = HttpResponse(status=204)
        redirect["HX-Redirect"] = f"{login_path}?{urlencode({'next': back})}"
        return redirect
