"""SCIM 2.0 at /scim/v2/: users are memberships (deprovisioning closes the seat), tier-named groups assign
tiers, discovery, SCIM error shapes, and scim2-tester's compliance checks against a live server."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.test import Client

from apps.identity.services import scim_token_create, sso_domain_mark_verified
from apps.organizations.models import AuditEntry, Membership, PlanKind, Role
from apps.seats.models import SeatAssignment
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


class Scim:
    def __init__(self, raw):
        self.client = Client()
        self.auth = f"Bearer {raw}"

    def call(self, method, path, body=None, **params):
        kwargs = {"HTTP_AUTHORIZATION": self.auth}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/scim+json")
        response = getattr(self.client, method)(f"/scim/v2{path}", **({"data": params} if params else {}), **kwargs)
        return response.status_code, (json.loads(response.content) if response.content else None)


def _scim_for(org, domain: str = "acme.example"):
    """A SCIM client of the organization, which verified `domain` (SCIM acts only on verified domains; the DNS
    path of verification is tested in tests/identity and tests/security)."""
    sso_domain_mark_verified(organization=org, domain=domain, actor_label="test")
    _token, raw = scim_token_create(organization=org, name="Okta")
    return Scim(raw)


USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada@acme.example",
        "name": {"givenName": "Ada", "familyName": "Lovelace"}, "externalId": "00u1", "active": True,
        "emails": [{"value": "ada@acme.example", "primary": True}]}


def test_create_user_makes_a_member_with_a_seat_and_lookup_by_username_finds_it():
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    scim = _scim_for(org)
    status, body = scim.call("post", "/Users", USER)
    assert status == 201 and body["userName"] == "ada@acme.example" and body["active"] is True
    membership = Membership.objects.get(organization=org, user__email="ada@acme.example")
    assert membership.role == Role.MEMBER and membership.removed_at is None
    assert SeatAssignment.objects.filter(membership=membership, ended_at__isnull=True).exists()
    status, listing = scim.call("get", "/Users", filter='userName eq "ADA@acme.example"')
    assert status == 200 and listing["totalResults"] == 1 and listing["Resources"][0]["id"] == body["id"]
    status, again = scim.call("post", "/Users", USER)
    assert status == 409 and again["scimType"] == "uniqueness"


def test_bad_filter_is_a_400_with_scim_type_and_other_org_ids_are_404():
    org, other = OrganizationFactory(slug="acme"), OrganizationFactory(slug="other")
    stranger = member(other, email="eve@other.example")
    scim = _scim_for(org)
    status, body = scim.call("get", "/Users", filter='userName eq')
    assert status == 400 and body["scimType"] == "invalidFilter"
    status, body = scim.call("get", f"/Users/{stranger.user.public_id}")
    assert status == 404 and body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert Client().get("/scim/v2/Users").status_code == 401


def test_paging_returns_the_asked_slice():
    org = OrganizationFactory(slug="acme")
    for i in range(5):
        member(org, email=f"m{i}@acme.example")
    scim = _scim_for(org)
    status, body = scim.call("get", "/Users", startIndex=2, count=2)
    assert status == 200 and body["totalResults"] == 5 and body["startIndex"] == 2 and len(body["Resources"]) == 2


def test_patch_active_false_removes_the_member_and_closes_the_seat_then_true_restores():
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    scim = _scim_for(org)
    _status, created = scim.call("post", "/Users", USER)
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "active", "value": False}]}
    status, body = scim.call("patch", f"/Users/{created['id']}", patch)
    assert status == 200 and body["active"] is False
    membership = Membership.objects.get(organization=org, user__email="ada@acme.example")
    assert membership.removed_at is not None
    assert not SeatAssignment.objects.filter(membership=membership, ended_at__isnull=True).exists()
    assert AuditEntry.objects.filter(organization=org, action="member.remove", actor_label__startswith="scim:").exists()
    patch["Operations"][0]["value"] = True
    status, body = scim.call("patch", f"/Users/{created['id']}", patch)
    assert status == 200 and body["active"] is True
    assert SeatAssignment.objects.filter(membership=membership, ended_at__isnull=True).exists()


def test_delete_deprovisions_and_the_user_is_gone_for_scim():
    org = OrganizationFactory(slug="acme")
    scim = _scim_for(org)
    _status, created = scim.call("post", "/Users", USER)
    status, _body = scim.call("delete", f"/Users/{created['id']}")
    assert status == 204
    assert scim.call("get", f"/Users/{created['id']}")[0] == 404
    assert Membership.objects.get(user__email="ada@acme.example").removed_at is not None


def test_group_named_after_a_tier_assigns_it_with_the_prorated_charge():
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    scim = _scim_for(org)
    _status, created = scim.call("post", "/Users", USER)
    status, group = scim.call("post", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                  "displayName": "Premium", "members": [{"value": created["id"]}]})
    assert status == 201 and group["members"][0]["value"] == created["id"]
    seat = SeatAssignment.objects.get(membership__user__email="ada@acme.example", ended_at__isnull=True)
    assert seat.tier.code == "premium"
    from apps.seats.models import SeatCharge
    assert SeatCharge.objects.filter(membership=seat.membership, to_tier=seat.tier).exists()


def test_discovery_endpoints_answer():
    scim = _scim_for(OrganizationFactory(slug="acme"))
    status, config = scim.call("get", "/ServiceProviderConfig")
    assert status == 200 and config["patch"]["supported"] is True and config["filter"]["supported"] is True
    status, types = scim.call("get", "/ResourceTypes")
    assert status == 200 and {r["endpoint"] for r in types["Resources"]} == {"/Users", "/Groups"}
    status, schemas = scim.call("get", "/Schemas")
    assert status == 200 and len(schemas["Resources"]) == 2


def test_deprovisioned_member_is_billed_to_the_day_of_removal_on_the_next_invoice():
    from apps.invoicing.models import LineKind
    from apps.invoicing.services import invoice_issue_for_period

    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    m = member(org, email="ada@acme.example", tier_code="standard",
               since=dt.datetime(2025, 12, 1, tzinfo=dt.UTC))
    scim = _scim_for(org)
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "value": {"active": False}}]}
    with time_machine.travel(dt.datetime(2026, 4, 11, 0, 0, tzinfo=dt.UTC), tick=False):
        status, _body = scim.call("patch", f"/Users/{m.user.public_id}", patch)
    assert status == 200
    invoice = invoice_issue_for_period(organization=org, period_start=dt.date(2026, 4, 1),
                                       now=dt.datetime(2026, 5, 1, 0, 20, tzinfo=dt.UTC))
    seat = invoice.lines.get(membership=m, kind=LineKind.SEAT_FEE)
    # Standard is $30 a month: 10 of April's 30 days held (1–10 April), so $10.00.
    assert (seat.days, seat.period_days, seat.amount) == (10, 30, Decimal("10.00"))


def test_user_and_group_lists_take_a_fixed_number_of_queries(django_assert_max_num_queries):
    org = OrganizationFactory(slug="acme", plan_kind=PlanKind.TEAM)
    scim = _scim_for(org)
    members = [member(org, email=f"m{i}@acme.example") for i in range(30)]
    scim.call("post", "/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops",
                                  "members": [{"value": m.user.public_id} for m in members]})
    with django_assert_max_num_queries(4):
        status, body = scim.call("get", "/Users", count=100)
    assert status == 200 and body["totalResults"] == 30
    with django_assert_max_num_queries(5):
        status, body = scim.call("get", "/Groups")
    assert status == 200 and len(body["Resources"][0]["members"]) == 30


def test_scim_cannot_change_the_email_of_an_account_shared_with_another_organization():
    org = OrganizationFactory(slug="acme")
    shared = member(org, email="ada@acme.example")
    Membership.objects.create(organization=OrganizationFactory(slug="globex"), user=shared.user, role=Role.MEMBER)
    scim = _scim_for(org)
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "userName", "value": "attacker@evil.example"}]}
    status, body = scim.call("patch", f"/Users/{shared.user.public_id}", patch)
    assert status == 409 and body["scimType"] == "uniqueness" and "another organization" in body["detail"]
    shared.user.refresh_from_db()
    assert shared.user.email == "ada@acme.example"
