"""'Who can use extra usage': members with a seat, by name in natural order, with their seat and a search box."""

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.extra_usage.selectors import member_switches
from apps.extra_usage.services.switches import extra_usage_enable, extra_usage_members_choose
from apps.organizations.models import PlanKind, Role
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def test_members_with_a_seat_in_natural_order_by_name_and_the_page_lists_them(client):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="switch-co")
    owner = member(org, email="owner@switch.example", role=Role.PRIMARY_OWNER)
    for n in (10, 2, 1):
        member(org, email=f"member{n}@switch.example")
    member(org, email="seatless@switch.example", seat=False)
    member(org, email="zed@switch.example", tier_code="premium")
    names = {"owner@switch.example": "Owner", "member10@switch.example": "Member 10",
             "member2@switch.example": "Member 2", "member1@switch.example": "", "zed@switch.example": "Ada Lovelace"}
    for email, name in names.items():  # no name: the list sorts by the email
        User.objects.filter(email=email).update(name=name)
    extra_usage_enable(organization=org, now=timezone.now())
    extra_usage_members_choose(organization=org, all_members=False, now=timezone.now())

    rows = member_switches(organization=org)
    assert [r.membership.user.email for r in rows] == [
        "zed@switch.example", "member1@switch.example", "member2@switch.example", "member10@switch.example",
        "owner@switch.example"]  # Ada Lovelace, member1@… (no name), Member 2, Member 10, Owner
    assert rows[0].tier_label == "Premium"

    client.force_login(owner.user)
    page = client.get(f"/orgs/{org.slug}/settings/usage/").content.decode()
    table = page.split('id="member-switches"')[1].split("</table>")[0]
    assert "Ada Lovelace" in table and "seatless@switch.example" not in table
    assert 'data-filter-rows="#member-switches"' in page
    assert table.index("Member 2") < table.index("Member 10")
