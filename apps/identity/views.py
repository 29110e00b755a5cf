"""Owner pages for sign-in rules (two-factor, verified domains, SSO, SCIM tokens) and the SSO entry point.

Owners read everything on Security & SSO. Only the primary owner claims, verifies and removes domains, changes
the identity provider and "Require SSO", and creates or revokes SCIM tokens (another owner gets a 403):
these decide who may sign in as whom, so they stay with the break-glass account."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.organizations.permissions import Capability, can, require
from apps.seats.selectors import seat_tiers

from .domain_check import DomainLookupFailed, domain_txt_values
from .forms import DomainClaimForm, ScimTokenForm, SsoSettingsForm, SsoStartForm, TwoFactorRequirementForm
from .models import ScimToken, SsoDomain
from .selectors import identity_settings, scim_tokens, sso_covers, sso_domains, sso_identity_for_email
from .services import (
    scim_token_create,
    scim_token_revoke,
    sso_domain_claim,
    sso_domain_remove,
    sso_domain_verify,
    sso_settings_set,
    two_factor_requirement_set,
)
from .sso import sso_begin, sso_error


def _page(request, membership, *, sso_form=None, domain_form=None, new_token=None, status=200):
    organization = membership.organization
    identity = identity_settings(organization=organization)
    tiers = seat_tiers(organization=organization)
    may_manage = can(membership, Capability.MANAGE_IDENTITY)
    if sso_form is None:
        sso_form = SsoSettingsForm(tiers=tiers, initial={
            "sso_issuer_url": identity.sso_issuer_url, "sso_client_id": identity.sso_client_id,
            "sso_default_tier_code": identity.sso_default_tier_code, "sso_required": identity.sso_required,
        })
    if not may_manage:
        for field in sso_form.fields.values():
            field.disabled = True
    return render(request, "identity/settings.html", {
        "organization": organization, "membership": membership, "identity": identity,
        "may_manage": may_manage,
        "two_factor_form": TwoFactorRequirementForm(initial={"require_two_factor": identity.require_two_factor}),
        "sso_form": sso_form, "has_secret": bool(identity.sso_client_secret),
        "domains": sso_domains(organization=organization), "domain_form": domain_form or DomainClaimForm(),
        "tokens": list(scim_tokens(organization=organization)), "token_form": ScimTokenForm(),
        "new_token": new_token, "scim_base": request.build_absolute_uri("/scim/v2/"),
        "callback_url": request.build_absolute_uri(f"/sso/oidc/{identity.sso_provider_id}/login/callback/"),
    }, status=status)


def _primary_owner(request, slug):
    """The primary owner's membership; another owner gets a 403 (they can read the page), lower roles a 404."""
    membership = require(request.user, slug, Capability.MANAGE_MEMBERS, hide=True)
    if not can(membership, Capability.MANAGE_IDENTITY):
        raise PermissionDenied(_("Only the primary owner can change this."))
    return membership


@login_required
def identity_settings_page(request, slug):
    """Security & SSO: require two-factor, verified domains, the organization's OpenID Connect provider, SCIM
    tokens."""
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
    membership = _primary_owner(request, slug)
    form = SsoSettingsForm(request.POST, tiers=seat_tiers(organization=membership.organization))
    if form.is_valid():
        try:
            sso_settings_set(
                organization=membership.organization, issuer_url=form.cleaned_data["sso_issuer_url"],
                client_id=form.cleaned_data["sso_client_id"].strip(),
                client_secret=form.cleaned_data["sso_client_secret"] or None,
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
def domain_claim(request, slug):
    membership = _primary_owner(request, slug)
    form = DomainClaimForm(request.POST)
    if form.is_valid():
        try:
            claim = sso_domain_claim(organization=membership.organization, domain=form.cleaned_data["domain"],
                                     actor=request.user, now=timezone.now())
        except ValidationError as error:
            form.add_error("domain", error.messages)
        else:
            messages.success(request, _("%(domain)s is claimed. Add the TXT record shown below at your DNS "
                                        "provider, then choose “Verify”.") % {"domain": claim.domain})
            return redirect("identity:settings", slug=slug)
    return _page(request, membership, domain_form=form, status=400)


@require_POST
def domain_verify(request, slug, domain_id):
    membership = _primary_owner(request, slug)
    claim = get_object_or_404(SsoDomain, organization=membership.organization, pk=domain_id)
    if claim.is_verified:
        messages.info(request, _("%(domain)s is already verified.") % {"domain": claim.domain})
        return redirect("identity:settings", slug=slug)
    try:
        found = domain_txt_values(claim.domain)  # the network, before the transaction
    except DomainLookupFailed:
        messages.error(request, _("The DNS lookup of %(domain)s did not answer. Try again in a moment.")
                       % {"domain": claim.domain})
        return redirect("identity:settings", slug=slug)
    try:
        sso_domain_verify(claim=claim, txt_values=found, actor=request.user, now=timezone.now())
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(domain)s is verified.") % {"domain": claim.domain})
    return redirect("identity:settings", slug=slug)


@require_POST
def domain_remove(request, slug, domain_id):
    membership = _primary_owner(request, slug)
    claim = get_object_or_404(SsoDomain, organization=membership.organization, pk=domain_id)
    sso_domain_remove(claim=claim, actor=request.user, now=timezone.now())
    messages.success(request, _("%(domain)s was removed: single sign-on and SCIM no longer act on it.")
                     % {"domain": claim.domain})
    return redirect("identity:settings", slug=slug)


@require_POST
def scim_token_create_view(request, slug):
    membership = _primary_owner(request, slug)
    form = ScimTokenForm(request.POST)
    name = form.cleaned_data["name"] if form.is_valid() else "Identity provider"
    _token, raw = scim_token_create(organization=membership.organization, name=name, actor=request.user)
    return _page(request, membership, new_token=raw)


@require_POST
def scim_token_revoke_view(request, slug, public_id):
    membership = _primary_owner(request, slug)
    token = get_object_or_404(ScimToken, organization=membership.organization, public_id=public_id)
    scim_token_revoke(token=token, actor=request.user, now=timezone.now())
    messages.success(request, _("The SCIM token was revoked."))
    return redirect("identity:settings", slug=slug)


@require_POST
def sso_start(request):
    """"Continue with single sign-on" on the login page: the address's organization's provider when that
    organization verified the domain and the person is its own, else a clear message."""
    form = SsoStartForm(request.POST)
    email = form.cleaned_data["email"] if form.is_valid() else ""
    identity = sso_identity_for_email(email) if email else None
    if identity is None or not sso_covers(identity=identity, email=email):
        return sso_error(request, _("No organization uses single sign-on for that address. Log in with your "
                                    "password instead."))
    return sso_begin(request, identity)
