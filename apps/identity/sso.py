"""OpenID Connect single sign-on per organization, through django-allauth.

Each organization's provider is an allauth `SocialApp` built on the fly from its `OrganizationIdentity` (never
stored as one): the provider id `org-<slug>` in allauth's URLs (/sso/oidc/org-<slug>/login/callback/) picks it.
allauth does the protocol: discovery, state, PKCE, the code exchange and the id_token checks (signature,
audience, expiry, and the issuer, which we pin to the configured issuer URL)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
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
    sso_covers,
    sso_identity_for_email,
    sso_identity_for_provider_id,
    verified_domains,
)
from .services import SsoJoinRefused, SsoRefusal, sso_member_join, sso_refusal_record

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
    """PASSWORD_LOGIN_POLICY: an address that a verified domain's "Require SSO" covers goes to its organization's
    provider instead of the password check. It covers only that organization's own people (sso_covers): never
    a member of another organization, never staff, never the primary owner (password and second factor,
    always)."""
    email = (email or "").strip()
    identity = sso_identity_for_email(email)
    if identity is None or not identity.sso_required or not sso_covers(identity=identity, email=email):
        return None
    return sso_begin(request, identity)


def _refuse(request, identity: OrganizationIdentity, email: str, reason: str, message: str):
    sso_refusal_record(organization=identity.organization, email=email, reason=reason)
    raise ImmediateHttpResponse(sso_error(request, message, status=403))


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
        """Only the organization's own people, at its verified domains, as its provider vouched for them, may
        come in: never the primary owner (whoever configured the provider), never an account of another
        organization or staff. Refusals are audited; one for the primary owner's address is emailed to them.
        The account's password is left as it is (allauth would wipe it when it matched by email)."""
        identity = sso_identity_for_provider_id(sociallogin.account.provider)
        email = (sociallogin.user.email or "").strip().lower()
        if identity is None:
            raise ImmediateHttpResponse(sso_error(request, _("Single sign-on is not set up for this organization.")))
        organization = identity.organization
        existing = sociallogin.user if sociallogin.is_existing else account_for_email(email)
        for address in {email, (existing.email.lower() if existing is not None else "")} - {""}:
            if is_primary_owner(organization=organization, email=address):
                _refuse(request, identity, address, SsoRefusal.PRIMARY_OWNER, _(
                    "The primary owner of %(org)s always signs in with a password and a second factor, never "
                    "through single sign-on. This attempt was recorded and the primary owner was told."
                ) % {"org": organization.name})
        domains = verified_domains(organization=organization)
        if not email or email_domain(email) not in domains or (
                existing is not None and email_domain(existing.email) not in domains):
            _refuse(request, identity, email or "-", SsoRefusal.UNVERIFIED_DOMAIN, _(
                "%(email)s is not an address of a domain %(org)s verified for single sign-on (%(domains)s). "
                "Sign in with your work address, or ask an owner to add your domain."
            ) % {"email": email or _("Your account"), "org": organization.name,
                 "domains": ", ".join(sorted(domains)) or "—"})
        if existing is not None and not account_belongs_only_to(existing, organization):
            # SSO never signs in an account that is not this organization's alone: staff, or a member (current or
            # former) of another organization, keeps signing in with a password.
            _refuse(request, identity, email, SsoRefusal.OTHER_ORGANIZATION, _(
                "An account for %(email)s already exists outside %(org)s. Log in with your password, or ask an "
                "owner to invite you."
            ) % {"email": email, "org": organization.name})
        if existing is not None and existing.pk is not None:
            # The organization proved it controls the domain and its provider vouched for the address: the address
            # is verified, so allauth's email login does not wipe the password (SSO never touches a password).
            address, _created = EmailAddress.objects.get_or_create(
                user=existing, email__iexact=email, defaults={"email": email, "verified": True})
            if not address.verified:
                address.verified = True
                address.save(update_fields=["verified"])
        request.session[SESSION_ORG] = organization.pk

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
