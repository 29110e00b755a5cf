"""The in-app spend banner: members see their own limit state, owners also the organization's cap."""

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.organizations.models import PlanKind, Role
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, UserFactory, member

from .conftest import NOW
from .helpers import record

pytestmark = pytest.mark.django_db


def _page(client, email, org, name="monitoring:my_usage"):
    client.force_login(UserFactory(email=email))
    return client.get(reverse(name, kwargs={"slug": org.slug})).content.decode()


def test_member_approaching_then_reaching_their_limit_sees_it(client, team):
    org, people = team
    cap_set(organization=org, scope=CapScope.MEMBER, membership=people[Role.MEMBER], amount=Decimal("10"), now=NOW)
    assert 'data-testid="spend-banner"' not in _page(client, "member@acme.test", org)
    record(org, "member@acme.test", "8.5", now=NOW)
    assert "You have used 85% of your spend limit ($1.50 left)." in _page(client, "member@acme.test", org)
    record(org, "member@acme.test", "1.5", now=NOW)
    html = _page(client, "member@acme.test", org)
    assert "Your usage is paused: your spend limit of $10.00 is reached for this period." in html
    assert "spend-banner reached" in html


def test_owners_see_the_org_cap_state_and_members_do_not(client, team):
    org, _ = team  # cap $1,000
    record(org, "admin@acme.test", "900", now=NOW)
    assert "The organization has used 90% of its spend cap of $1,000.00." in _page(client, "owner@acme.test", org)
    assert "spend cap of $1,000.00" not in _page(client, "member@acme.test", org)


def test_an_owner_stopped_by_the_organizations_cap_is_told_once(client, team):
    org, _ = team  # cap $1,000, usage-based: the owner is stopped by the organization's cap too
    record(org, "admin@acme.test", "1000", now=NOW)
    html = _page(client, "owner@acme.test", org)
    assert "Your usage is paused: the organization&#x27;s spend cap of $1,000.00 is reached for this period." in html
    assert "The organization has reached its spend cap" not in html
    assert html.count("spend cap of $1,000.00") == 1


def test_seat_based_member_sees_included_usage_running_out(client, frozen):
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="teamco")
    member(org, email="dev@teamco.test")  # $25 included
    record(org, "dev@teamco.test", "25", now=NOW)
    assert "You have used all of your seat&#x27;s included usage this period." in _page(client, "dev@teamco.test", org)


def test_banner_costs_nothing_outside_organization_pages(client, team, django_assert_max_num_queries):
    client.force_login(UserFactory(email="owner@acme.test"))
    with django_assert_max_num_queries(12):
        client.get(reverse("accounts:login"))


def test_banner_warns_from_the_organizations_lowest_threshold(client, team):
    from apps.monitoring.services import notification_settings_set

    org, people = team
    notification_settings_set(organization=org, thresholds=[50, 100], actor=people[Role.OWNER].user, now=NOW)
    cap_set(organization=org, scope=CapScope.MEMBER, membership=people[Role.MEMBER], amount=Decimal("10"), now=NOW)
    record(org, "member@acme.test", "5", now=NOW)
    assert "You have used 50% of your spend limit ($5.00 left)." in _page(client, "member@acme.test", org)
