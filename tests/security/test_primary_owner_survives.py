"""Issue 26: the primary owner's password and TOTP still work after every SSO and SCIM action: domain claims and
verification, the provider and Require SSO, a member's SSO login (npm oidc-provider, Chromium), an assertion for
the primary owner's own address, and every SCIM write aimed at them."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.identity.models import SsoDomain
from apps.organizations.models import Membership, PlanKind, Role
from tests.factories import OrganizationFactory, member
from tests.oidc.conftest import CLIENT_ID, CLIENT_SECRET, oidc_provider

from .conftest import BreakGlass, enrol_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sso_login_at_provider(page, start_email: str, login: str) -> None:
    page.context.clear_cookies()  # a fresh browser: no session here nor at the provider
    page.goto("/accounts/login/")
    page.fill("#id_sso_email", start_email)
    page.click("text=Continue with single sign-on")
    page.click("text=Continue to Acme's sign-in")
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "anything")
    page.click("button[type=submit]")
    page.wait_for_selector("button[type=submit]:has-text('Continue')")
    page.click("button[type=submit]:has-text('Continue')")


def test_password_and_totp_survive_every_sso_and_scim_action(page, live_server, dns_zone):
    org = OrganizationFactory(slug="acme", name="Acme", plan_kind=PlanKind.TEAM)
    primary = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    break_glass = BreakGlass("owner@acme.example", enrol_totp(primary.user))
    web = Client()
    web.force_login(primary.user, backend="django.contrib.auth.backends.ModelBackend")
    steps = []

    def after(step: str) -> None:
        steps.append(step)
        primary.user.refresh_from_db()
        assert primary.user.has_usable_password(), step
        assert break_glass.signs_in(), f"the primary owner could not sign in after: {step}"

    web.post(reverse("identity:domain_claim", args=["acme"]), {"domain": "acme.example"})
    after("claim acme.example")
    claim = SsoDomain.objects.get(organization=org)
    dns_zone.publish("acme.example", claim.txt_value)
    web.post(reverse("identity:domain_verify", args=["acme", claim.pk]))
    assert SsoDomain.objects.get(pk=claim.pk).is_verified
    after("verify acme.example")

    callback = f"{live_server.url}/sso/oidc/org-acme/login/callback/"
    with oidc_provider(redirect_uri=callback) as issuer:
        assert web.post(reverse("identity:sso", args=["acme"]), {
            "sso_issuer_url": issuer, "sso_client_id": CLIENT_ID, "sso_client_secret": CLIENT_SECRET,
            "sso_required": "on"}).status_code == 302
        after("set the provider and require SSO")
        _sso_login_at_provider(page, "ada@acme.example", "ada")
        page.wait_for_url("**/orgs/acme/**")
        assert Membership.objects.filter(organization=org, user__email="ada@acme.example").exists()
        after("a member signs in through SSO (JIT)")
        _sso_login_at_provider(page, "someone@acme.example", "owner@acme.example")
        page.wait_for_selector("[data-testid=sso-error]")
        after("the provider asserts the primary owner's address")
        _sso_login_at_provider(page, "someone@acme.example", "OWNER@acme.example")
        page.wait_for_selector("[data-testid=sso-error]")
        after("the provider asserts the primary owner's address in capitals")

    page_token = web.post(reverse("identity:scim_token_create", args=["acme"]), {"name": "Okta"})
    raw = page_token.context["new_token"]
    after("create a SCIM token")

    def scim(method, path, body=None):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/scim+json")
        return getattr(Client(), method)(f"/scim/v2{path}", **kwargs).status_code

    user_schema, patch_schema = ("urn:ietf:params:scim:schemas:core:2.0:User",
                                 "urn:ietf:params:scim:api:messages:2.0:PatchOp")
    me = f"/Users/{primary.user.public_id}"
    assert scim("post", "/Users", {"schemas": [user_schema], "userName": "bea@acme.example",
                                   "emails": [{"value": "bea@acme.example", "primary": True}]}) == 201
    after("SCIM creates a member")
    assert scim("post", "/Users", {"schemas": [user_schema], "userName": "owner@acme.example",
                                   "emails": [{"value": "owner@acme.example", "primary": True}]}) == 409
    after("SCIM creates the primary owner's address")
    assert scim("patch", me, {"schemas": [patch_schema], "Operations": [
        {"op": "replace", "path": "userName", "value": "bea2@acme.example"}]}) == 400
    after("SCIM changes the primary owner's email")
    scim("put", me, {"schemas": [user_schema], "userName": "owner@acme.example", "password": "Chosen-By-Idp-42",
                     "emails": [{"value": "owner@acme.example", "primary": True}], "displayName": "Owner"})
    after("SCIM PUTs the primary owner with a password")
    assert scim("patch", me, {"schemas": [patch_schema], "Operations": [
        {"op": "replace", "path": "active", "value": False}]}) == 400
    after("SCIM deactivates the primary owner")
    assert scim("post", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                    "displayName": "Premium", "members": [{"value": primary.user.public_id}]}) == 201
    after("SCIM puts the primary owner in a tier group")
    assert scim("delete", me) == 400
    after("SCIM deletes the primary owner")
    token = primary.organization.scim_tokens.get()
    web.post(reverse("identity:scim_token_revoke", args=["acme", token.public_id]))
    after("revoke the SCIM token")
    web.post(reverse("identity:domain_remove", args=["acme", claim.pk]))
    after("remove the domain")
    membership = Membership.objects.get(pk=primary.pk)
    assert membership.role == Role.PRIMARY_OWNER and membership.removed_at is None
    primary.user.refresh_from_db()
    assert primary.user.email == "owner@acme.example" and primary.user.check_password("demo-password")
    assert len(steps) == 16
