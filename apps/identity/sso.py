"""OpenID Connect single sign-on per organization, through django-allauth.

Each organization's provider is an allauth `SocialApp` built on the fly from its `OrganizationIdentity` (never
stored as one): the provider id `org-<slug>` in allauth's URLs (/sso/oidc/org-<slug>/login/callback/) picks it.
allauth does the protocol: discovery, state, PKCE, the code exchange and the id_token checks (signature,
audience, expiry, and the issuer, which we pin to the configured issuer URL)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialApp
from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.common import outbound

from .models import OrganizationIdentity
from .selectors import (
    account_belongs_only_to,
    account_for_email,
    email_domain,
    is_primary_owner,
    sso_identity_for_email,
    sso_identity_for_provider_id,
)
from .services import SsoJoinRefused, sso_member_join

SESSION_ORG = "identity.sso_org"
logger = logging.getLogger(__name__)


def social_app_for(identity: OrganizationIdentity) -> SocialApp:
    return SocialApp(
        provider="openid_connect", provider_id=identity.sso_provider_id, name=identity.organization.name,
        client_id=identity.sso_client_id, secret=identity.sso_client_secret,
        settings={
            "server_url": identity.sso_issuer_url,
            # The id_token's `iss` must be the issuer the owner configured, whatever discovery says.
            "openid_configuration_overrides": {"issuer": identity.sso_issuer_url},
            "oauth_pkce_enabled": True,
        },
    )


def sso_error(request, message: str, status: int = 400):
    return render(request, "identity/sso_error.html", {"message": message}, status=status)


def sso_begin(request, identity: OrganizationIdentity):
    """The step before the organization's provider: a page whose one button posts to allauth's OpenID Connect
    login, which redirects to the provider. The page is needed because the browser checks a form's redirect
    against the Content-Security-Policy `form-action` of the page the form is on: this page's policy allows the
    provider's origin, the login page's does not (it cannot know which organization's provider comes next)."""
    request.session[SESSION_ORG] = identity.organization.pk
    issuer = urlsplit(identity.sso_issuer_url)
    response = render(request, "identity/sso_continue.html", {
        "organization": identity.organization,
        "action": reverse("openid_connect_login", kwargs={"provider_id": identity.sso_provider_id}),
    })
    response._csp_update = {"form-action": [f"{issuer.scheme}://{issuer.netloc}"]}
    return response


def password_login_policy(*, request, email: str):
    """PASSWORD_LOGIN_POLICY: an address of a domain whose organization requires SSO goes to its provider
    instead of the password check, except the organization's primary owner (the break-glass account)."""
    identity = sso_identity_for_email(email or "")
    if identity is None or not identity.sso_required:
        return None
    if is_primary_owner(organization=identity.organization, email=email.strip()):
        return None
    return sso_begin(request, identity)


class OrganizationSsoAdapter(DefaultSocialAccountAdapter):
    def get_requests_session(self):
        """Every request allauth makes for OpenID Connect (discovery, JWKS, token, userinfo) goes through the
        outbound guard (apps/common/outbound.py): an issuer on a private or local address is never fetched, and
        the person trying to sign in is told why instead of getting an error page."""
        session = outbound.requests_session(timeout=settings.SOCIALACCOUNT_REQUESTS_TIMEOUT)
        send = session.request

        def guarded(*args, **kwargs):
            try:
                return send(*args, **kwargs)
            except outbound.OutboundRefused as refused:
                logger.warning("OIDC fetch refused by the outbound guard: %s", refused.message)
                raise ImmediateHttpResponse(sso_error(allauth_context.request, _(
                    "Single sign-on cannot reach this organization's identity provider: %(host)s is not a public "
                    "address. An owner must set the issuer URL to the provider's public address."
                ) % {"host": refused.host})) from None

        session.request = guarded
        return session

    def list_apps(self, request, provider=None, client_id=None):
        if provider and provider.startswith("org-"):
            identity = sso_identity_for_provider_id(provider)
            return [social_app_for(identity)] if identity is not None else []
        return []

    def is_open_for_signup(self, request, sociallogin):
        return True

    def pre_social_login(self, request, sociallogin):
        """Only addresses of the organization's verified domains, and only as that organization's provider
        vouched for them, may come in."""
        identity = sso_identity_for_provider_id(sociallogin.account.provider)
        email = (sociallogin.user.email or "").lower()
        if identity is None:
            raise ImmediateHttpResponse(sso_error(request, _("Single sign-on is not set up for this organization.")))
        domains = set(identity.organization.sso_domains.values_list("domain", flat=True))
        if not email or email_domain(email) not in domains:
            raise ImmediateHttpResponse(sso_error(request, _(
                "%(email)s is not an address of a domain %(org)s verified for single sign-on (%(domains)s). "
                "Sign in with your work address, or ask an owner to add your domain."
            ) % {"email": email or _("Your account"), "org": identity.organization.name,
                 "domains": ", ".join(sorted(domains))}, status=403))
        existing = sociallogin.user if sociallogin.is_existing else account_for_email(email)
        if existing is not None and not account_belongs_only_to(existing, identity.organization):
            # Domains are declared by owners, not proven (no DNS check), so an organization's provider may sign
            # in only accounts that are that organization's alone: never staff, never a member elsewhere.
            raise ImmediateHttpResponse(sso_error(request, _(
                "An account for %(email)s already exists outside %(org)s. Log in with your password, or ask an "
                "owner to invite you."
            ) % {"email": email, "org": identity.organization.name}, status=403))
        request.session[SESSION_ORG] = identity.organization.pk

    def on_authentication_error(self, request, provider, error=None, exception=None, extra_context=None):
        detail = str(exception) if exception else (error or "")
        raise ImmediateHttpResponse(sso_error(request, _(
            "Single sign-on did not complete: the answer from your identity provider could not be verified "
            "(%(detail)s). Start again from the login page."
        ) % {"detail": detail}))


class SsoAccountAdapter(DefaultAccountAdapter):
    """allauth's account side is used only to finish an SSO login; password logins never reach it."""

    def is_open_for_signup(self, request):
        return SESSION_ORG in request.session

    def login(self, request, user):
        # The session must name a backend that can load the user again (not the axes backend, which is first).
        user.backend = "django.contrib.auth.backends.ModelBackend"
        super().login(request, user)

    def post_login(self, request, user, **kwargs):
        organization_pk = request.session.pop(SESSION_ORG, None)
        identity = OrganizationIdentity.objects.select_related("organization").filter(pk=organization_pk).first()
        if identity is None:
            return super().post_login(request, user, **kwargs)
        try:
            sso_member_join(organization=identity.organization, user=user, now=timezone.now())
        except SsoJoinRefused as refused:
            self.logout(request)
            return sso_error(request, refused.message, status=403)
        super().post_login(request, user, **kwargs)
        home = reverse("organizations:organization_home", kwargs={"slug": identity.organization.slug})
        return HttpResponseRedirect(home)

    def add_message(self, *args, **kwargs):
        return None  # allauth's "Successfully signed in as …" would be English-only and redundant
