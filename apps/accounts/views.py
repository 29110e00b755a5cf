"""Sign-in pages: the password login with its second step, password reset and change (Django's own views),
and the user's two-factor settings."""

from __future__ import annotations

import base64

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, user_login_failed
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST
from django.views.i18n import set_language
from django_otp import login as otp_login

from apps.common.ratelimit import ClientThrottle

from .forms import EmailAuthenticationForm, LocalizedPasswordResetForm, OtpTokenForm, TotpConfirmForm
from .selectors import recovery_codes_left, two_factor_enabled
from .services import (
    recovery_codes_regenerate,
    totp_device_confirm,
    totp_device_start,
    two_factor_disable,
    user_language_set,
)

# The session key holding who passed the password step and still owes the second factor.
PENDING_LOGIN = "accounts.pending_login"
RECOVERY_CODES = "accounts.recovery_codes"
# Floods: every login and every reset request counts per email typed and per client address (THROTTLE_LIMITS);
# django-axes' lockout after five failed passwords or codes stays as it was.
login_throttle = ClientThrottle("login")
password_reset_throttle = ClientThrottle("password_reset")


def throttled_response(view, request, decision):
    """The view's page again, unbound, with a message saying how long to wait; 429 with Retry-After. Nothing was
    checked or sent."""
    messages.error(request, _("Too many attempts. Wait %(seconds)s seconds, then try again.")
                   % {"seconds": decision.retry_after})
    form_class = view.get_form_class()
    form = form_class(request) if issubclass(form_class, AuthenticationForm) else form_class()
    response = view.render_to_response(view.get_context_data(form=form), status=429)
    response["Retry-After"] = str(decision.retry_after)
    return response


class PasswordLoginView(auth_views.LoginView):
    """Email + password. An address whose organization requires single sign-on is sent to its provider instead
    (PASSWORD_LOGIN_POLICY); a user with two-factor on continues to the code step, logged in only after it."""

    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def post(self, request, *args, **kwargs):
        decision = login_throttle.hit(request=request, account=request.POST.get("username", ""))
        if not decision.allowed:
            return throttled_response(self, request, decision)
        policy = import_string(settings.PASSWORD_LOGIN_POLICY)
        sso_response = policy(request=request, email=request.POST.get("username", ""))
        if sso_response is not None:
            return sso_response
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor_enabled(user=user):
            return super().form_valid(form)
        self.request.session[PENDING_LOGIN] = {
            "user": user.pk, "backend": user.backend, "next": self.get_redirect_url() or "",
        }
        return redirect("accounts:login_verify")


def _pending_user(request):
    pending = request.session.get(PENDING_LOGIN)
    if not pending:
        return None, None
    return get_user_model().objects.filter(pk=pending["user"], is_active=True).first(), pending


@sensitive_post_parameters("otp_token")
@csrf_protect
@never_cache
def login_verify(request):
    """The second step: a TOTP code or a recovery code. A wrong code counts as a failed login for django-axes
    (same username + IP counter as the password), so the lockout covers both factors."""
    user, pending = _pending_user(request)
    if user is None:
        return redirect("accounts:login")
    credentials = {"username": user.email}
    if AxesProxyHandler.is_locked(request, credentials):
        request.session.pop(PENDING_LOGIN, None)
        return get_lockout_response(request, None, credentials)
    form = OtpTokenForm(user, request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            request.session.pop(PENDING_LOGIN, None)
            auth_login(request, user, backend=pending["backend"])
            otp_login(request, form.device)
            target = pending.get("next") or ""
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
                target = resolve_url(settings.LOGIN_REDIRECT_URL)
            return HttpResponseRedirect(target)
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if AxesProxyHandler.is_locked(request, credentials):
            request.session.pop(PENDING_LOGIN, None)
            return get_lockout_response(request, None, credentials)
    return render(request, "accounts/login_verify.html", {"form": form})


class LocalizedPasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"

    form_class = LocalizedPasswordResetForm

    def post(self, request, *args, **kwargs):
        # Counted alike for known and unknown addresses, so the answer still says nothing about who has an account.
        decision = password_reset_throttle.hit(request=request, account=request.POST.get("email", ""))
        if not decision.allowed:
            return throttled_response(self, request, decision)
        return super().post(request, *args, **kwargs)


@login_required
def security(request):
    """The user's sign-in security: password, two-factor status, recovery codes left."""
    enabled = two_factor_enabled(user=request.user)
    return render(request, "accounts/security.html", {
        "two_factor_enabled": enabled,
        "recovery_codes_left": recovery_codes_left(user=request.user) if enabled else 0,
        "has_password": request.user.has_usable_password(),
    })


def _qr_svg_data_uri(device) -> str:
    return segno.make(device.config_url, error="m").svg_data_uri(scale=4, border=2)


@login_required
def two_factor_setup(request):
    """Scan the QR code (or type the key), then confirm with a code: two-factor is on and ten recovery codes are
    shown once."""
    if two_factor_enabled(user=request.user):
        return _two_factor_confirm_session(request)
    device = totp_device_start(user=request.user)
    form = TotpConfirmForm(device, request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = totp_device_confirm(user=request.user, device=device)
        otp_login(request, device)
        request.session[RECOVERY_CODES] = codes
        messages.success(request, _("Two-factor authentication is on."))
        next_url = request.GET.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
            request.session["accounts.after_codes"] = next_url
        return redirect("accounts:recovery_codes")
    secret = _base32(device.bin_key)
    return render(request, "accounts/two_factor_setup.html", {
        "form": form, "qr": _qr_svg_data_uri(device), "secret": secret,
        "required_by": _organization_name(request.user, request.GET.get("org", "")),
    })


def _two_factor_confirm_session(request):
    """Two-factor is already on but this session never gave a code (it began through single sign-on): ask for
    one, then go on to the page that required it."""
    next_url = request.GET.get("next", "")
    safe_next = next_url if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}) else ""
    if request.user.is_verified():
        return redirect(safe_next or "accounts:security")
    form = OtpTokenForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        otp_login(request, form.device)
        return redirect(safe_next or "accounts:security")
    return render(request, "accounts/login_verify.html", {"form": form})


def _base32(key: bytes) -> str:
    raw = base64.b32encode(key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def _organization_name(user, slug: str) -> str:
    """The name of the user's organization with this slug (the one that sent them here), or ""."""
    if not slug:
        return ""
    membership = user.memberships.filter(organization__slug=slug, removed_at__isnull=True).select_related(
        "organization").first()
    return membership.organization.name if membership else ""


@login_required
def recovery_codes(request):
    """New recovery codes are shown once, right after they were made (setup or "Generate new codes")."""
    if request.method == "POST":
        if not two_factor_enabled(user=request.user):
            return redirect("accounts:security")
        request.session[RECOVERY_CODES] = recovery_codes_regenerate(user=request.user)
        return redirect("accounts:recovery_codes")
    codes = request.session.pop(RECOVERY_CODES, None)
    if codes is None:
        return redirect("accounts:security")
    return render(request, "accounts/recovery_codes.html", {
        "codes": codes, "continue_url": request.session.pop("accounts.after_codes", "") or reverse("accounts:security"),
    })


@login_required
@require_POST
def two_factor_disable_view(request):
    """Turn two-factor off, confirmed with a current code (or a recovery code)."""
    form = OtpTokenForm(request.user, request.POST)
    if not form.is_valid():
        messages.error(request, form.errors["otp_token"][0])
        return redirect("accounts:security")
    two_factor_disable(user=request.user)
    messages.success(request, _("Two-factor authentication is off."))
    return redirect("accounts:security")


@require_POST
def language_set(request):
    """The header's language picker: saves a logged-in user's preference, and for everyone (also visitors who
    are not logged in) sets Django's language cookie and returns to the page they came from."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        user_language_set(user=request.user, language=language)
    return set_language(request)
