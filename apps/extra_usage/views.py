"""Extra-usage pages: the owners' settings sections and modals. The review modal and the member's request read
the admission decision, so they are console pages (apps/console/request_views.py), under the same URL names.

Access: owners edit the settings; admins and above review requests; a member asks only for themself;
someone outside the organization gets a 404. Modals follow the console pattern: fetched with HTMX into
#modal-host and opened by static/js/app.js; their forms post with HTMX, an invalid form is re-rendered in the
dialog, and success redirects (HX-Redirect) back to the page the owner came from, with a message.
"""

from __future__ import annotations

import secrets
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from apps.common.money import money_format
from apps.common.service_messages import translated_message_dict, translated_messages
from apps.organizations.models import Membership, PlanKind
from apps.organizations.permissions import Capability, require

from . import selectors
from .forms import AutoReloadForm, PurchaseForm
from .services import auto_reload, prepaid, switches

# --- Helpers ------------------------------------------------------------------------------------------------


def _is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _settings_url(slug: str) -> str:
    """Settings > Usage when the console is installed, else this app's own settings page."""
    try:
        return reverse("console:usage_settings", kwargs={"slug": slug})
    except NoReverseMatch:
        return reverse("extra_usage:settings", kwargs={"slug": slug})


def _setup_url(slug: str) -> str:
    """The console's guided set-up after "Enable" ("" when the console is not installed)."""
    try:
        return reverse("console:extra_usage_setup", kwargs={"slug": slug})
    except NoReverseMatch:
        return ""


def _back(request, slug: str, *, fragment: str = "") -> HttpResponse:
    """Back to the page the form came from (a safe `next`), or to the settings page."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = _settings_url(slug)
    if fragment and "#" not in target:
        target += f"#{fragment}"
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


def _error_text(error: ValidationError) -> str:
    return " ".join(translated_messages(error))


def _owner(request, slug: str) -> Membership:
    return require(request.user, slug, Capability.MANAGE_EXTRA_USAGE)


def _team_owner(request, slug: str) -> Membership:
    membership = _owner(request, slug)
    if membership.organization.plan_kind != PlanKind.TEAM:
        raise Http404("Prepaid extra usage is offered on Team plans.")
    return membership


def _next_value(request) -> str:
    candidate = request.GET.get("next") or request.POST.get("next") or ""
    return candidate if url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}) else ""


# --- Owner and admin pages ------------------------------------------------------------------------------------


@login_required
@require_GET
def settings_page(request, slug):
    """Extra usage settings (owners) and the review button (admins and above)."""
    membership = require(request.user, slug, Capability.REVIEW_REQUESTS)
    context = selectors.extra_usage_sections(membership=membership)
    context["next"] = request.get_full_path()
    return render(request, "extra_usage/settings_page.html", context)


@login_required
@require_GET
def review(request, slug):
    """The digest's link: the settings page with the review modal open."""
    require(request.user, slug, Capability.REVIEW_REQUESTS)
    return redirect(_settings_url(slug) + "#review-requests")


@login_required
@require_POST
def switch(request, slug):
    """Extra usage on or off for the organization. "Enable" then guides the owner through the set-up (the
    help articles' flows): a Team organization without a prepaid balance starts there at paying, and extra
    usage turns on once the purchase succeeds."""
    membership = _owner(request, slug)
    organization = membership.organization
    on = request.POST.get("enabled") == "on"
    try:
        if on:
            switches.extra_usage_enable(organization=organization, actor=request.user, now=timezone.now())
        else:
            switches.extra_usage_disable(organization=organization, actor=request.user, now=timezone.now())
    except ValidationError as error:
        if on and getattr(error, "code", None) == "prepaid_required" and _setup_url(slug):
            return redirect(_setup_url(slug))
        messages.error(request, _error_text(error))
        return _back(request, slug)
    if on and _setup_url(slug):
        messages.success(request, _("Extra usage is on. Set it up in a few steps, or skip any of them."))
        return redirect(_setup_url(slug))
    messages.success(request, _("Extra usage is on.") if on else _("Extra usage is off; caps are kept."))
    return _back(request, slug)


@login_required
@require_POST
def members_mode(request, slug):
    membership = _owner(request, slug)
    all_members = request.POST.get("all_members") == "all"
    try:
        switches.extra_usage_members_choose(organization=membership.organization, all_members=all_members,
                                            actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request, slug)
    messages.success(request, _("Extra usage applies to all members.") if all_members
                     else _("Extra usage applies to the members you choose."))
    return _back(request, slug)


@login_required
@require_POST
def member_switch(request, slug, membership_id):
    membership = _owner(request, slug)
    target = get_object_or_404(Membership.objects.active().select_related("user", "organization"),
                               pk=membership_id, organization=membership.organization)
    on = request.POST.get("enabled") == "on"
    try:
        switches.member_extra_usage_set(membership=target, enabled=on, actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request, slug)
    text = _("Extra usage enabled for %(email)s.") if on else _("Extra usage disabled for %(email)s.")
    messages.success(request, text % {"email": target.user.email})
    return _back(request, slug)


@login_required
@require_POST
def requests_switch(request, slug):
    membership = _owner(request, slug)
    on = request.POST.get("enabled") == "on"
    try:
        switches.extra_usage_requests_set(organization=membership.organization, enabled=on, actor=request.user,
                                          now=timezone.now())
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return _back(request, slug)
    messages.success(request, _("Members can request extra usage.") if on else _("Requests for extra usage are off."))
    return _back(request, slug)


@login_required
def purchase_modal(request, slug):
    """Team: buy prepaid extra usage (the first purchase, which turns extra usage on, is the guided set-up's
    pay step)."""
    membership = _team_owner(request, slug)
    organization = membership.organization
    if request.method == "POST":
        form = PurchaseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                charge = prepaid.prepaid_purchase(organization=organization, amount=data["amount"],
                                                   idempotency_key=data["token"], actor=request.user,
                                                   now=timezone.now())
            except ValidationError as error:
                for field, errors in translated_message_dict(error).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                if form.charge_succeeded(charge):
                    messages.success(request, _("Bought %(amount)s of prepaid extra usage.") % {
                        "amount": money_format(charge.amount)})
                    return _back(request, slug)
    else:
        form = PurchaseForm(initial={"token": secrets.token_urlsafe(24), "amount": Decimal("100.00")})
    return render(request, "extra_usage/purchase_modal.html",
                  {"organization": organization, "form": form, "next": _next_value(request),
                   "minimum_purchase": prepaid.MIN_PURCHASE})


@login_required
def auto_reload_modal(request, slug):
    """Team: "Reload when balance reaches X", reload amount Y, monthly reload limit."""
    membership = _team_owner(request, slug)
    organization = membership.organization
    settings = selectors.extra_usage_settings(organization=organization)
    if request.method == "POST":
        form = AutoReloadForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                auto_reload.auto_reload_configure(
                    organization=organization, enabled=data["enabled"], threshold=data["reload_threshold"],
                    amount=data["reload_amount"], monthly_limit=data["monthly_reload_limit"], actor=request.user,
                    now=timezone.now(),
                )
            except ValidationError as error:
                for field, errors in translated_message_dict(error).items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, _("Auto-reload is on.") if data["enabled"] else _("Auto-reload is off."))
                return _back(request, slug)
    else:
        form = AutoReloadForm(initial={
            "enabled": settings.auto_reload_enabled or settings.reload_amount is None,
            "reload_threshold": settings.reload_threshold if settings.reload_threshold is not None else Decimal(
                "10.00"),
            "reload_amount": settings.reload_amount or Decimal("50.00"),
            "monthly_reload_limit": settings.monthly_reload_limit,
        })
    return render(request, "extra_usage/auto_reload_modal.html",
                  {"organization": organization, "form": form, "next": _next_value(request)})
