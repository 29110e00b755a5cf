import html
from decimal import Decimal

import pytest

from apps.organizations.models import AuditEntry, PlanKind
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import cap_set
from tests.factories import tier

from .conftest import HTMX, client_for, make_team

pytestmark = pytest.mark.django_db


def url(team, name="usage_settings"):
    return f"/orgs/{team.org.slug}/settings/usage/" + {"usage_settings": "", "org_cap_edit": "org-cap/edit/"}[name]


# --- access --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who,status", [
    ("primary", 200), ("owner", 200), ("admin", 200), ("member", 404), ("outsider", 404),
])
def test_usage_settings_access_by_role(team, who, status):
    response = client_for(getattr(team, who)).get(url(team))
    assert response.status_code == status


def test_anonymous_is_sent_to_login(team):
    response = client_for(None).get(url(team))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_admin_sees_settings_read_only(team):
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("1234.5"))
    page = client_for(team.admin).get(url(team)).content.decode()
    assert "$1,234.50" in page
    assert "Adjust limit" not in page
    assert "Only owners can change them" in page


@pytest.mark.parametrize("who,status", [("admin", 403), ("member", 404), ("outsider", 404)])
def test_cap_writes_are_refused_to_non_owners(team, who, status):
    client = client_for(getattr(team, who))
    t = tier(team.org)
    for path in (url(team, "org_cap_edit"), f"/orgs/{team.org.slug}/settings/usage/tier-caps/{t.pk}/edit/",
                 f"/orgs/{team.org.slug}/settings/usage/limits/{team.member.pk}/edit/"):
        assert client.get(path, **HTMX).status_code == status
        assert client.post(path, {"amount": "10", "action": "set"}, **HTMX).status_code == status
    assert not SpendCap.objects.exists()


def test_anonymous_cap_write_redirects_to_login(team):
    response = client_for(None).post(url(team, "org_cap_edit"), {"amount": "10", "action": "set"})
    assert response.status_code == 302
    assert not SpendCap.objects.exists()


def test_another_orgs_member_or_tier_is_a_404(team):
    client = client_for(team.owner)
    other_tier = tier(team.outsider.organization)
    path = f"/orgs/{team.org.slug}/settings/usage/tier-caps/{other_tier.pk}/edit/"
    assert client.get(path, **HTMX).status_code == 404
    assert client.post(f"/orgs/{team.org.slug}/settings/usage/limits/{team.outsider.pk}/edit/",
                       {"amount": "5", "action": "set"}, **HTMX).status_code == 404
    assert not SpendCap.objects.exists()


# --- the organization cap ---------------------------------------------------------------------------------------


def test_owner_sets_org_cap_and_it_is_audited(team):
    response = client_for(team.owner).post(url(team, "org_cap_edit"), {"amount": "2500.50", "action": "set"}, **HTMX)
    assert response.status_code == 204
    assert '"closeModal": true' in response["HX-Trigger"] and "capsChanged" in response["HX-Trigger"]
    cap = SpendCap.objects.get(scope=CapScope.ORGANIZATION)
    assert cap.amount == Decimal("2500.50")
    entry = AuditEntry.objects.get(action="cap.organization")
    assert (entry.actor, entry.old_value, entry.new_value) == (team.owner.user, None, "2500.50")
    page = client_for(team.owner).get(url(team)).content.decode()
    assert "Set the organization's monthly spend limit to $2,500.50 (was unlimited)." in html.unescape(page)


def test_set_to_unlimited_clears_org_cap(team):
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("100"))
    response = client_for(team.primary).post(url(team, "org_cap_edit"), {"action": "unlimited"}, **HTMX)
    assert response.status_code == 204
    assert SpendCap.objects.get(scope=CapScope.ORGANIZATION).amount is None
    section = client_for(team.primary).get(f"/orgs/{team.org.slug}/settings/usage/org-cap/").content.decode()
    assert "Unlimited" in section


@pytest.mark.parametrize("amount,message", [
    ("", "Enter an amount"),
    ("abc", "Enter an amount"),
    ("-5", "cannot be negative"),
    ("10.005", "two decimal places"),
    ("10000000.01", "cannot exceed"),
    ("NaN", "Enter an amount"),
    ("1e3", "Enter an amount") ,
])
def test_invalid_amount_rerenders_modal_and_saves_nothing(team, amount, message):
    response = client_for(team.owner).post(url(team, "org_cap_edit"), {"amount": amount, "action": "set"}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page and 'aria-invalid="true"' in page and "<dialog" in page
    assert not SpendCap.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="cap.").exists()


def test_a_zero_limit_is_a_real_limit_on_every_path(team):
    """$0 is decided once, in the cap service: the owner's modal accepts it as the Admin API does ("0")."""
    response = client_for(team.owner).post(url(team, "org_cap_edit"), {"amount": "0", "action": "set"}, **HTMX)
    assert response.status_code == 204
    assert SpendCap.objects.get(scope=CapScope.ORGANIZATION).amount == Decimal("0.00")
    assert AuditEntry.objects.filter(action="cap.organization").exists()


def test_amount_with_dollar_sign_and_commas_is_accepted(team):
    client_for(team.owner).post(url(team, "org_cap_edit"), {"amount": "$1,000", "action": "set"}, **HTMX)
    assert SpendCap.objects.get(scope=CapScope.ORGANIZATION).amount == Decimal("1000.00")


def test_plain_form_post_redirects_back_to_the_page(team):
    response = client_for(team.owner).post(url(team, "org_cap_edit"), {"amount": "10", "action": "set"})
    assert response.status_code == 302 and response["Location"] == url(team)


# --- tier caps ---------------------------------------------------------------------------------------------------


def test_owner_sets_a_tier_cap(team):
    premium = tier(team.org, "premium")
    response = client_for(team.owner).post(
        f"/orgs/{team.org.slug}/settings/usage/tier-caps/{premium.pk}/edit/", {"amount": "75", "action": "set"}, **HTMX
    )
    assert response.status_code == 204
    assert SpendCap.objects.get(scope=CapScope.SEAT_TIER, tier=premium).amount == Decimal("75")
    assert AuditEntry.objects.filter(action="cap.seat_tier", target="tier:premium", new_value="75.00").exists()


def test_tier_caps_are_not_offered_on_team_plans(db):
    team = make_team(plan_kind=PlanKind.TEAM, slug="teamco")
    page = client_for(team.owner).get(url(team)).content.decode()
    assert "Seat-tier limits" not in page
    t = tier(team.org)
    response = client_for(team.owner).post(f"/orgs/{team.org.slug}/settings/usage/tier-caps/{t.pk}/edit/",
                                           {"amount": "5", "action": "set"}, **HTMX)
    assert response.status_code == 404
    assert not SpendCap.objects.exists()


# --- individual limits -----------------------------------------------------------------------------------------


def test_owner_sets_then_removes_a_member_limit(team):
    client = client_for(team.owner)
    path = f"/orgs/{team.org.slug}/settings/usage/limits/{team.member.pk}/edit/"
    assert client.post(path, {"amount": "40", "action": "set"}, **HTMX).status_code == 204
    assert SpendCap.objects.get(scope=CapScope.MEMBER, membership=team.member).amount == Decimal("40")
    assert client.post(path, {"action": "unlimited"}, **HTMX).status_code == 204
    assert not SpendCap.objects.filter(scope=CapScope.MEMBER).exists()
    assert AuditEntry.objects.filter(action="cap.member.delete", target=f"member:{team.member.user.email}").exists()


def test_effective_limit_and_its_source_are_shown(team):
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("1000"))
    cap_set(organization=team.org, scope=CapScope.MEMBER, membership=team.member, amount=Decimal("20"))
    page = client_for(team.owner).get(f"/orgs/{team.org.slug}/settings/usage/limits/").content.decode()
    row = page.split(f'id="limit-{team.member.pk}"')[1].split("</tr>")[0]
    assert "$20.00" in row and "member</span>" in row
    row = page.split(f'id="limit-{team.admin.pk}"')[1].split("</tr>")[0]
    assert "$1,000.00" in row and "organization</span>" in row


def test_recent_changes_lists_audit_rows_newest_first(team):
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("100"), actor=team.owner.user)
    cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal("300"), actor=team.primary.user)
    page = client_for(team.admin).get(f"/orgs/{team.org.slug}/settings/usage/changes/").content.decode()
    newest, older = page.split('class="change-row"')[1:3]
    assert "<div>primary@acme.test</div>" in newest and "$100.00" in newest and "$300.00" in newest
    assert "<div>owner@acme.test</div>" in older and "to $100.00 (was unlimited)" in older


def test_recent_changes_is_paginated(team):
    for amount in range(1, 26):
        cap_set(organization=team.org, scope=CapScope.ORGANIZATION, amount=Decimal(amount))
    page = client_for(team.owner).get(f"/orgs/{team.org.slug}/settings/usage/changes/").content.decode()
    assert page.count('class="change-row"') == 20 and "Older changes" in page
    older = client_for(team.owner).get(f"/orgs/{team.org.slug}/settings/usage/changes/?changes=2").content.decode()
    assert "$1.00" in older and "Newer" in older
