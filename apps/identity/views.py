"""Owner pages for sign-in rules (two-factor, SSO, SCIM tokens) and the SSO entry point."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.organizations.permissions import Capability, require
from apps.seats.selectors import seat_tiers

from .forms import ScimTokenForm, SsoSettingsForm, SsoStartForm, TwoFactorRequirementForm
from .models import ScimToken
from .selectors import identity_settings, scim_tokens, sso_domains, sso_identity_for_email
from .services import scim_token_create, scim_token_revoke, sso_settings_set, two_factor_requirement_set
from .sso import sso_begin, sso_error


def _page(request, membership, *, sso_form=None, new_token=None, status=200):
    organization = membership.organization
    identity = identity_settings(organization=organization)
    tiers = seat_tiers(organization=organization)
    if sso_form is None:
        sso_form = SsoSettingsForm(tiers=tiers, initial={
            "sso_issuer_url": identity.sso_issuer_url, "sso_client_id": identity.sso_client_id,
            "sso_email_domains": ", ".join(sso_domains(organization=organization)),
            "sso_default_tier_code": identity.sso_default_tier_code, "sso_required": identity.sso_required,
        })
    return render(request, "identity/settings.html", {
        "organization": organization, "membership": membership, "identity": identity,
        "two_factor_form": TwoFactorRequirementForm(initial={"require_two_factor": identity.require_two_factor}),
        "sso_form": sso_form, "has_secret": bool(identity.sso_client_secret),
        "tokens": list(scim_tokens(organization=organization)), "token_form": ScimTokenForm(),
        "new_token": new_token, "scim_base": request.build_absolute_uri("/scim/v2/"),
        "callback_url": request.build_absolute_uri(f"/sso/oidc/{identity.sso_provider_id}/login/callback/"),
    }, status=status)


@login_required
def identity_settings_page(request, slug):
    """Security & SSO: require two-factor, the organization's OpenID Connect provider, SCIM tokens."""
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    return _page(request, membership)


@require_POST
def two_factor_requirement(request, slug):
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    form = TwoFactorRequirementForm(request.POST)
    form.is_valid()
    required = form.cleaned_data.get("require_two_factor", False)
    two_factor_requirement_set(organization=membership.organization, required=required, actor=request.user)
    messages.success(request, _("Two-factor authentication is now required.") if required
                     else _("Two-factor authentication is no longer required."))
    return redirect("identity:settings", slug=slug)


@require_POST
def sso_settings(request, slug):
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    form = SsoSettingsForm(request.POST, tiers=seat_tiers(organization=membership.organization))
    if form.is_valid():
        try:
            sso_settings_set(
                organization=membership.organization, issuer_url=form.cleaned_data["sso_issuer_url"],
                client_id=form.cleaned_data["sso_client_id"].strip(),
                client_secret=form.cleaned_data["sso_client_secret"] or None, email_domains=form.domains(),
                default_tier_code=form.cleaned_data["sso_default_tier_code"],
                required=form.cleaned_data["sso_required"], actor=request.user,
            )
        except ValidationError as error:
            for field, errors in error.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("Single sign-on settings saved."))
            return redirect("identity:settings", slug=slug)
    return _page(request, membership, sso_form=form, status=400)


@require_POST
def scim_token_create_view(request, slug):
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    form = ScimTokenForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else "Identity provider"
    _token, raw = scim_token_create(organization=membership.organization, name=name, actor=request.user)
    return _page(request, membership, new_token=raw)


@require_POST
def scim_token_revoke_view(request, slug, public_id):
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    token = get_object_or_404(ScimToken, organization=membership.organization, public_id=public_id)
    scim_token_revoke(token=token, actor=request.user, now=timezone.now())
    messages.success(request, _("The SCIM token was revoked."))
    return redirect("identity:settings", slug=slug)


@require_POST
def sso_start(request):
    """"Continue with single sign-on" on the login page: the address's organization's provider, or a clear
    message when no organization signs that domain in."""
    form = SsoStartForm(request.POST)
    identity = sso_identity_for_email(form.cleaned_data["email"]) if form.is_valid() else None
    if identity is None:
        return sso_error(request, _("No organization uses single sign-on for that address. Log in with your "
                                    "password instead."))
    return sso_begin(request, identity)
