from dataclasses import dataclass

import pytest
from django.test import Client

from apps.organizations.models import Membership, Organization, PlanKind, Role
from tests.factories import OrganizationFactory, member


@dataclass
class Team:
    org: Organization
    primary: Membership
    owner: Membership
    admin: Membership
    member: Membership
    outsider: Membership


def make_team(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="acme") -> Team:
    org = OrganizationFactory(plan_kind=plan_kind, slug=slug, name="Acme")
    other = OrganizationFactory(plan_kind=plan_kind, slug=f"{slug}-other")
    return Team(
        org=org,
        primary=member(org, email=f"primary@{slug}.test", role=Role.PRIMARY_OWNER),
        owner=member(org, email=f"owner@{slug}.test", role=Role.OWNER),
        admin=member(org, email=f"admin@{slug}.test", role=Role.ADMIN),
        member=member(org, email=f"member@{slug}.test", role=Role.MEMBER),
        outsider=member(other, email=f"outsider@{slug}.test", role=Role.PRIMARY_OWNER),
    )


@pytest.fixture
def team(db) -> Team:
    return make_team()


def client_for(membership: Membership | None) -> Client:
    client = Client()
    if membership is not None:
        client.force_login(membership.user)
    return client


HTMX = {"HTTP_HX_REQUEST": "true"}
