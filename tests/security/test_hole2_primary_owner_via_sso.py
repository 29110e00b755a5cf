"""Issue 26, hole 2: a non-primary owner became the primary owner. owner2 pointed the organization's OpenID
Connect at an identity provider they control and signed in as the primary owner's address; the session opened
the primary-owner-only pages, allauth made the primary owner's password unusable, and a password reset sent
nothing.

Replayed end to end against npm oidc-provider (tests/oidc/server.mjs; a login that is an address signs in as
that address, as an IdP its controller configures would) driven by Chromium: owner2 cannot change the provider;
and whoever configured it, an assertion for the primary owner's address is refused, audited and emailed to the
primary owner, who still signs in with password and TOTP, and whose password reset still sends a link."""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client
from django.urls import reverse

from apps.identity.models import OrganizationIdentity
from apps.identity.services import sso_settings_set
from apps.notices.models import EmailOutbox
from apps.organizations.models import AuditEntry, PlanKind, Role
from tests.conftest import screenshot
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory, member
from tests.oidc.conftest import CLIENT_ID, CLIENT_SECRET, oidc_provider

from .conftest import BreakGlass, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_identity_provider_signs_in_as_the_primary_owner(page, live_server, dns_zone, outbox):
    callback = f"{live_server.url}/sso/oidc/org-acme/login/callback/"
    with oidc_provider(redirect_uri=callback) as issuer:
        org = OrganizationFactory(slug="acme", name="Acme", plan_kind=PlanKind.TEAM)
        primary = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
        owner2 = member(org, email="owner2@acme.example", role=Role.OWNER)
        break_glass = BreakGlass("owner@acme.example", enrol_totp(primary.user))
        verify_domain(organization=org, domain="acme.example", zone=dns_zone, actor=primary.user)

        # owner2 points the organization's SSO at their provider: refused.
        as_owner2 = Client()
        as_owner2.force_login(owner2.user, backend="django.contrib.auth.backends.ModelBackend")
        attempt = as_owner2.post(reverse("identity:sso", args=["acme"]), {
            "sso_issuer_url": issuer, "sso_client_id": CLIENT_ID, "sso_client_secret": CLIENT_SECRET})
        assert attempt.status_code == 403
        assert not OrganizationIdentity.objects.filter(organization=org, sso_client_id=CLIENT_ID).exists()

        # Whoever configured the provider (here the primary owner), it cannot sign in as the primary owner.
        sso_settings_set(organization=org, issuer_url=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         default_tier_code="", required=True, actor=primary.user)
        page.goto("/accounts/login/")
        page.fill("#id_sso_email", "someone@acme.example")
        page.click("text=Continue with single sign-on")
        page.click("text=Continue to Acme's sign-in")
        page.wait_for_selector("input[name=login]")
        page.fill("input[name=login]", "owner@acme.example")
        page.fill("input[name=password]", "anything")
        page.click("button[type=submit]")
        page.wait_for_selector("button[type=submit]:has-text('Continue')")
        page.click("button[type=submit]:has-text('Continue')")
        message = page.wait_for_selector("[data-testid=sso-error]").inner_text()
        screenshot(page, "sso_primary_owner_refused")
        assert "always signs in with a password and a second factor" in message
        # No session: the primary-owner-only pages send the browser to the login page.
        page.goto("/orgs/acme/settings/security/")
        assert "/accounts/login/" in page.url

    primary.user.refresh_from_db()
    assert primary.user.has_usable_password() and primary.user.check_password("demo-password")
    assert not SocialAccount.objects.filter(user=primary.user).exists()
    refused = AuditEntry.objects.get(organization=org, action="identity.sso.refused")
    assert refused.target == "owner@acme.example" and refused.new_value == {"reason": "primary_owner"}
    told = EmailOutbox.objects.get(kind="identity_changed", to_email="owner@acme.example",
                                   subject__startswith="Someone tried to sign in as you")
    assert "It was refused" in told.text_body
    # The break-glass account is intact: password and TOTP, and a password reset sends its link.
    assert break_glass.signs_in()
    outbox.clear()
    Client().post(reverse("accounts:password_reset"), {"email": "owner@acme.example"})
    assert [m.to for m in outbox] == [["owner@acme.example"]]
    assert re.search(r"/accounts/password/reset/\S+", outbox[0].body)
