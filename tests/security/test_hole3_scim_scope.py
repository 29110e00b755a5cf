"""Issue 26, hole 3: SCIM reached across organizations and above its maker.
- One organization's SCIM token attached another organization's account as a member, with a seat.
- A non-primary owner created a SCIM token and with it changed the primary owner's login email to their own.
- The audit log showed admins the webhook URLs and SSO settings that their own pages hide from them.

Replayed end to end over HTTP (SCIM with its bearer token, pages with a session)."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.identity.models import ScimToken
from apps.identity.services import scim_token_create, sso_settings_set
from apps.organizations.models import AuditEntry, Membership, PlanKind, Role
from apps.seats.models import SeatAssignment
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _scim(raw: str, method: str, path: str, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/scim+json")
    response = getattr(Client(), method)(f"/scim/v2{path}", **kwargs)
    return response.status_code, (json.loads(response.content) if response.content else None)


def _as(membership) -> Client:
    client = Client()
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def world(dns_zone):
    acme = OrganizationFactory(slug="acme", name="Acme", plan_kind=PlanKind.TEAM)
    globex = OrganizationFactory(slug="globex", name="Globex", plan_kind=PlanKind.TEAM)
    acme_primary = member(acme, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    verify_domain(organization=acme, domain="acme.example", zone=dns_zone, actor=acme_primary.user)
    globex_primary = member(globex, email="owner@globex.example", role=Role.PRIMARY_OWNER)
    verify_domain(organization=globex, domain="globex.example", zone=dns_zone, actor=globex_primary.user)
    return {"acme": acme, "globex": globex, "acme_primary": acme_primary,
            "owner2": member(acme, email="owner2@acme.example", role=Role.OWNER),
            "admin": member(acme, email="admin@acme.example", role=Role.ADMIN),
            "eve": member(globex, email="eve@globex.example"),
            # An address at Acme's verified domain whose account is Globex's (a contractor).
            "contractor": member(globex, email="contractor@acme.example")}


def test_scim_cannot_attach_another_organizations_account(world):
    _token, raw = scim_token_create(organization=world["acme"], name="Okta", actor=world["acme_primary"].user)
    seats_before = SeatAssignment.objects.count()
    for email in ("eve@globex.example", "contractor@acme.example"):
        status, body = _scim(raw, "post", "/Users", {"schemas": [USER], "userName": email,
                                                     "emails": [{"value": email, "primary": True}]})
        assert status in (400, 409), (email, status, body)
        if email == "contractor@acme.example":  # at a verified domain, but another organization's account
            assert status == 409 and body["scimType"] == "uniqueness"
            assert "Globex" not in body["detail"]
        else:  # not a verified domain of Acme
            assert status == 400 and body["scimType"] == "invalidValue"
    assert not Membership.objects.filter(organization=world["acme"],
                                         user__email__in=["eve@globex.example", "contractor@acme.example"]).exists()
    assert SeatAssignment.objects.count() == seats_before
    for name in ("eve", "contractor"):
        mine = Membership.objects.get(pk=world[name].pk)
        assert mine.removed_at is None and mine.organization == world["globex"]
    refused = AuditEntry.objects.get(organization=world["acme"], action="scim.refused")
    assert refused.target == "contractor@acme.example"
    assert not AuditEntry.objects.filter(organization=world["globex"], action__startswith="scim").exists()
    # The contractor still signs in with their password at Globex (nothing redirects them anywhere).
    sso_settings_set(organization=world["acme"], issuer_url="https://idp.acme.example", client_id="c",
                     client_secret="s", default_tier_code="", required=True, actor=world["acme_primary"].user)
    login = Client().post(reverse("accounts:login"), {"username": "contractor@acme.example",
                                                      "password": "demo-password"})
    assert login.status_code == 302


def test_a_non_primary_owner_makes_no_scim_token_and_no_token_changes_the_primary_owner(world):
    owner2 = _as(world["owner2"])
    assert owner2.post(reverse("identity:scim_token_create", args=["acme"]), {"name": "mine"}).status_code == 403
    assert not ScimToken.objects.exists()
    # Even a token the primary owner made cannot take the primary owner's (or another owner's) account.
    _token, raw = scim_token_create(organization=world["acme"], name="Okta", actor=world["acme_primary"].user)
    for target in ("acme_primary", "owner2"):
        user = world[target].user
        status, body = _scim(raw, "patch", f"/Users/{user.public_id}", {"schemas": [PATCH], "Operations": [
            {"op": "replace", "path": "userName", "value": "attacker@acme.example"},
            {"op": "replace", "path": "emails", "value": [{"value": "attacker@acme.example", "primary": True}]}]})
        assert status == 400 and body["scimType"] == "mutability", body
        user.refresh_from_db()
        assert user.email == world[target].user.email
    primary = world["acme_primary"].user
    status, body = _scim(raw, "patch", f"/Users/{primary.public_id}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "path": "active", "value": False}]})
    assert status == 400
    status, _body = _scim(raw, "put", f"/Users/{primary.public_id}", {
        "schemas": [USER], "userName": "owner@acme.example", "password": "Attacker-Chosen-123",
        "emails": [{"value": "owner@acme.example", "primary": True}]})
    primary.refresh_from_db()
    assert primary.check_password("demo-password") and not primary.check_password("Attacker-Chosen-123")
    assert status in (200, 400)
    status, _body = _scim(raw, "delete", f"/Users/{primary.public_id}")
    assert status == 400
    membership = Membership.objects.get(pk=world["acme_primary"].pk)
    assert membership.role == Role.PRIMARY_OWNER and membership.removed_at is None
    # A password reset for the attacker's address sends nothing: no account has it.
    assert not type(primary).objects.filter(email="attacker@acme.example").exists()


def test_deprovisioning_removes_only_this_organizations_membership(world):
    shared = member(world["acme"], email="pat@acme.example")
    Membership.objects.create(organization=world["globex"], user=shared.user, role=Role.MEMBER)
    _token, raw = scim_token_create(organization=world["acme"], name="Okta", actor=world["acme_primary"].user)
    status, _body = _scim(raw, "delete", f"/Users/{shared.user.public_id}")
    assert status == 204
    assert Membership.objects.get(pk=shared.pk).removed_at is not None
    assert Membership.objects.get(organization=world["globex"], user=shared.user).removed_at is None
    shared.user.refresh_from_db()
    assert shared.user.is_active and shared.user.check_password("demo-password")


def test_the_audit_log_is_for_owners(world):
    sso_settings_set(organization=world["acme"], issuer_url="https://idp.acme.example", client_id="c",
                     client_secret="s", default_tier_code="", required=False, actor=world["acme_primary"].user)
    admin = _as(world["admin"])
    assert admin.get(reverse("console:audit_log", args=["acme"])).status_code == 404
    assert admin.get(reverse("console:audit_log_export", args=["acme"])).status_code == 404
    recent = admin.get(reverse("console:recent_changes", args=["acme"]))
    assert recent.status_code == 200
    text = recent.content.decode()
    assert "idp.acme.example" not in text and "single sign-on" not in text and "Verified the domain" not in text
    assert "Gave owner2@acme.example a Standard seat." in text  # the spend settings admins see stay
    assert reverse("console:audit_log", args=["acme"]) not in text
    owner = _as(world["owner2"])
    log = owner.get(reverse("console:audit_log", args=["acme"]))
    assert log.status_code == 200 and "idp.acme.example" in log.content.decode()
    export = owner.get(reverse("console:audit_log_export", args=["acme"]))
    assert export.status_code == 200 and "idp.acme.example" in b"".join(export.streaming_content).decode()
