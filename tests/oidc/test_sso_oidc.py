"""OpenID Connect single sign-on against a real provider (npm oidc-provider on 127.0.0.1), driven by Chromium:
consent, callback, session and just-in-time membership; a wrong state, an id_token from another issuer, and an
address outside the verified domains are refused with a clear message. "Require SSO" sends password logins of
those domains to the provider, except the primary owner's."""

import re

import pytest
from django.test import Client

from apps.identity.services import sso_settings_set
from apps.organizations.models import AuditEntry, Membership, PlanKind, Role
from apps.seats.models import SeatAssignment
from tests.conftest import screenshot
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory, member

from .conftest import CLIENT_ID, CLIENT_SECRET, oidc_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _org_with_sso(issuer: str, zone, *, required: bool = True):
    org = OrganizationFactory(slug="acme", name="Acme", plan_kind=PlanKind.TEAM)
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    verify_domain(organization=org, domain="acme.example", zone=zone, actor=owner.user)
    sso_settings_set(organization=org, issuer_url=issuer, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                     default_tier_code="premium", required=required, actor=owner.user)
    return org


def _callback(live_server) -> str:
    return f"{live_server.url}/sso/oidc/org-acme/login/callback/"


def _start_sso(page, email: str) -> None:
    page.goto("/accounts/login/")
    page.fill("#id_sso_email", email)
    page.click("text=Continue with single sign-on")
    page.click("text=Continue to Acme's sign-in")


def _sign_in_at_provider(page, login: str) -> None:
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.wait_for_selector("button[type=submit]:has-text('Continue')")  # the consent screen
    page.click("button[type=submit]:has-text('Continue')")


def test_sso_login_creates_the_membership_with_the_default_tier(page, live_server, dns_zone):
    with oidc_provider(redirect_uri=_callback(live_server)) as issuer:
        org = _org_with_sso(issuer, dns_zone)
        _start_sso(page, "ada@acme.example")
        _sign_in_at_provider(page, "ada")
        page.wait_for_url(re.compile(r"/orgs/acme/"))
        screenshot(page, "sso_login_landed")
        assert "ada@acme.example" in page.inner_text("header")
    membership = Membership.objects.get(organization=org, user__email="ada@acme.example")
    assert membership.role == Role.MEMBER and membership.removed_at is None
    seat = SeatAssignment.objects.get(membership=membership, ended_at__isnull=True)
    assert seat.tier.code == "premium"
    join = AuditEntry.objects.get(organization=org, action="member.join", target="ada@acme.example")
    assert join.new_value == {"role": "member", "via": "sso"}
    assert not membership.user.has_usable_password()


def test_password_login_of_an_sso_domain_goes_to_the_provider_but_the_primary_owner_keeps_a_password(
        live_server, dns_zone):
    with oidc_provider(redirect_uri=_callback(live_server)) as issuer:
        org = _org_with_sso(issuer, dns_zone)
        member(org, email="pat@acme.example")
        client = Client()
        response = client.post("/accounts/login/", {"username": "pat@acme.example", "password": "demo-password"})
        assert "Continue to Acme's sign-in" in response.content.decode()
        assert client.get("/orgs/acme/").status_code == 302  # not logged in by the password
        onward = client.post("/sso/oidc/org-acme/login/")
        assert onward.status_code == 302 and onward["Location"].startswith(f"{issuer}/auth?")
        owner = client.post("/accounts/login/", {"username": "owner@acme.example", "password": "demo-password"})
        assert owner.status_code == 302 and not owner["Location"].startswith(issuer)


def test_an_address_outside_the_verified_domains_is_refused(page, live_server, dns_zone):
    with oidc_provider(redirect_uri=_callback(live_server)) as issuer:
        org = _org_with_sso(issuer, dns_zone)
        _start_sso(page, "someone@acme.example")
        _sign_in_at_provider(page, "bob")  # the provider vouches for bob@elsewhere.example
        message = page.wait_for_selector("[data-testid=sso-error]").inner_text()
        screenshot(page, "sso_outside_domain_refused")
    assert "bob@elsewhere.example is not an address of a domain Acme verified" in message
    assert not Membership.objects.filter(organization=org, user__email="bob@elsewhere.example").exists()


def test_an_id_token_from_another_issuer_is_refused(page, live_server, dns_zone):
    # The provider is reached at 127.0.0.1 but signs as http://localhost:PORT: not the configured issuer.
    with oidc_provider(redirect_uri=_callback(live_server), issuer_host="localhost") as issuer:
        org = _org_with_sso(issuer, dns_zone)
        _start_sso(page, "ada@acme.example")
        _sign_in_at_provider(page, "ada")
        message = page.wait_for_selector("[data-testid=sso-error]").inner_text()
    assert "could not be verified" in message
    assert not Membership.objects.filter(organization=org, user__email="ada@acme.example").exists()


def test_a_callback_with_a_wrong_state_is_refused(page, live_server, dns_zone):
    with oidc_provider(redirect_uri=_callback(live_server)) as issuer:
        org = _org_with_sso(issuer, dns_zone)
        _start_sso(page, "ada@acme.example")
        page.wait_for_selector("input[name=login]")  # at the provider, our state is in the session
        page.goto(f"{_callback(live_server)}?code=forged&state=not-the-state")
        message = page.wait_for_selector("[data-testid=sso-error]").inner_text()
    assert "Single sign-on did not complete" in message
    assert not Membership.objects.filter(organization=org, user__email="ada@acme.example").exists()


def test_an_account_that_also_belongs_to_another_organization_is_not_signed_in_by_sso(page, live_server, dns_zone):
    # SSO never signs in an account that also belongs to another organization, even at a verified domain.
    with oidc_provider(redirect_uri=_callback(live_server)) as issuer:
        org = _org_with_sso(issuer, dns_zone)
        elsewhere = member(OrganizationFactory(slug="globex"), email="ada@acme.example")
        # "Continue with single sign-on" does not send her to Acme's provider at all…
        page.goto("/accounts/login/")
        page.fill("#id_sso_email", "ada@acme.example")
        page.click("text=Continue with single sign-on")
        assert "No organization uses single sign-on" in page.wait_for_selector("[data-testid=sso-error]").inner_text()
        # …and when the provider asserts her address anyway, the callback refuses it.
        _start_sso(page, "someone@acme.example")
        _sign_in_at_provider(page, "ada")
        message = page.wait_for_selector("[data-testid=sso-error]").inner_text()
    assert "already exists outside Acme" in message
    assert not Membership.objects.filter(organization=org, user=elsewhere.user).exists()
    refused = AuditEntry.objects.get(organization=org, action="identity.sso.refused")
    assert refused.target == "ada@acme.example" and refused.new_value == {"reason": "other_organization"}
