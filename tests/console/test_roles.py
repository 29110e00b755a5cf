import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.organizations.models import AuditEntry, Membership, Role
from apps.organizations.services import membership_role_set, primary_owner_transfer

from .conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


def role_post(team, by, target, role):
    return client_for(by).post(f"/orgs/{team.org.slug}/members/{target.pk}/role/", {"role": role}, **HTMX)


def role_of(membership) -> str:
    return Membership.objects.get(pk=membership.pk).role


def test_owner_makes_a_member_admin_and_it_is_audited(team):
    assert role_post(team, team.owner, team.member, "admin").status_code == 204
    assert role_of(team.member) == Role.ADMIN
    entry = AuditEntry.objects.get(action="member.role")
    assert (entry.old_value, entry.new_value, entry.actor) == ("member", "admin", team.owner.user)


def test_only_the_primary_owner_makes_someone_an_owner(team):
    response = role_post(team, team.owner, team.member, "owner")
    assert "Only the primary owner" in response.content.decode()
    assert role_of(team.member) == Role.MEMBER
    assert role_post(team, team.primary, team.member, "owner").status_code == 204
    assert role_of(team.member) == Role.OWNER


def test_an_owner_cannot_demote_another_owner(team):
    response = role_post(team, team.owner, team.owner, "member")
    assert response.status_code == 200 and role_of(team.owner) == Role.OWNER


def test_primary_owner_transfer_demotes_the_old_one_to_owner(team):
    assert role_post(team, team.primary, team.admin, "primary_owner").status_code == 204
    assert role_of(team.admin) == Role.PRIMARY_OWNER
    assert role_of(team.primary) == Role.OWNER
    assert Membership.objects.filter(organization=team.org, role=Role.PRIMARY_OWNER).count() == 1
    assert AuditEntry.objects.filter(action="member.primary_owner", target="admin@acme.test").exists()


def test_an_owner_cannot_take_the_primary_owner_role(team):
    response = role_post(team, team.owner, team.owner, "primary_owner")
    assert "Only the primary owner" in response.content.decode()
    assert role_of(team.primary) == Role.PRIMARY_OWNER and role_of(team.owner) == Role.OWNER


def test_the_primary_owner_cannot_be_demoted_directly(team):
    with pytest.raises(ValidationError):
        membership_role_set(membership=team.primary, role=Role.MEMBER, actor_membership=team.primary,
                            now=timezone.now())
    assert role_of(team.primary) == Role.PRIMARY_OWNER


def test_transfer_to_another_orgs_member_is_refused(team):
    with pytest.raises(ValidationError):
        primary_owner_transfer(to_membership=team.outsider, actor_membership=team.primary, now=timezone.now())
    assert role_of(team.primary) == Role.PRIMARY_OWNER


def test_role_of_another_orgs_member_is_a_404(team):
    assert role_post(team, team.primary, team.outsider, "admin").status_code == 404


def test_unknown_role_changes_nothing(team):
    response = role_post(team, team.owner, team.member, "superuser")
    assert response.status_code == 200 and role_of(team.member) == Role.MEMBER
