"""Django admin behind the second factor (issue 26): django-otp's OTPAdminSite, whose has_permission also asks
`request.user.is_verified()`, i.e. that this session gave a TOTP or recovery code (django_otp.login).

Staff sign in through the portal's own login, the same password + code steps (and django-axes lockout) as
everyone, rather than a second login form: `/admin/login/` sends a visitor to it and back. A staff member whose
session has no verified device is sent to the two-factor page, which asks for a code when they have an
authenticator, and enrols one first when they have none. A signed-in person who is not staff gets the usual
"not authorized" admin login page.
"""

from __future__ import annotations

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django_otp.admin import OTPAdminSite


class PortalAdminSite(OTPAdminSite):
    def __init__(self, name="admin"):
        super().__init__(name)

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        target = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=self.name)
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index", current_app=self.name)
        user = request.user
        if not user.is_authenticated:
            return HttpResponseRedirect(f"{reverse('accounts:login')}?{urlencode({REDIRECT_FIELD_NAME: target})}")
        if user.is_active and user.is_staff and not user.is_verified():
            # A code for this session, or the enrolment of an authenticator first (accounts' two-factor page).
            return HttpResponseRedirect(f"{reverse('accounts:two_factor_setup')}?{urlencode({'next': target})}")
        if self.has_permission(request):
            return HttpResponseRedirect(target)
        return super().login(request, extra_context)
