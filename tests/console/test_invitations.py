import datetime as dt
import re

import pytest
import time_machine
from django.test import Client

from apps.accounts.models import User
from apps.organizations.models import AuditEntry, Invitation, Membership, Role
from apps.seats.selectors import seat_current

from .conftest import HTMX, client_for

pytestmark = pytest.mark.django_db


def invite(team, outbox, email="new@acme.test", role="member", tier="premium", by=None):
    response = client_for(by or team.owner).post(
        f"/orgs/{team.org.slug}/members/invite/", {"email": email, "role": role, "tier": tier}, **HTMX
    )
    return response


def link_path(message) -> str:
    return re.search(r"http://[^/]+(/invitations/[^\s]+/)", message.body).group(1)


def test_invitation_lifecycle_creates_account_membership_and_seat(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert invite(team, outbox).status_code == 204
    assert len(outbox) == 1 and outbox[0].to == ["new@acme.test"]
    path = link_path(outbox[0])
    invitation = Invitation.objects.get()
    assert path.split("/")[2] not in invitation.token_digest  # only the digest is stored

    visitor = Client()
    page = visitor.get(path).content.decode()
    assert "Join Acme" in page and "new@acme.test" in page
    response = visitor.post(path, {"name": "New Person", "password": "s3cret-pass", "password_confirm": "s3cret-pass"})
    assert response.status_code == 302
    user = User.objects.get(email="new@acme.test")
    assert user.name == "New Person" and user.check_password("s3cret-pass")
    membership = Membership.objects.get(user=user, organization=team.org)
    assert membership.role == Role.MEMBER
    assert seat_current(membership=membership).tier.code == "premium"
    assert AuditEntry.objects.filter(action="member.invite", target="new@acme.test").exists()
    assert AuditEntry.objects.filter(action="member.join", target="new@acme.test").exists()
    # The link is single-use.
    assert Client().get(path).status_code == 410


def test_expired_invitation_is_refused(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox)
    path = link_path(outbox[0])
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(days=7, minutes=1)):
        response = Client().post(path, {"name": "Late", "password": "s3cret-pass", "password_confirm": "s3cret-pass"})
    assert response.status_code == 410
    assert not User.objects.filter(email="new@acme.test").exists()


def test_unknown_token_is_a_404(db):
    assert Client().get("/invitations/not-a-token/").status_code == 404


def test_reinviting_revokes_the_earlier_link(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox)
        invite(team, outbox)
    first, second = link_path(outbox[0]), link_path(outbox[1])
    assert Client().get(first).status_code == 410
    assert Client().get(second).status_code == 200


def test_existing_user_logs_in_and_accepts(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox, email=team.outsider.user.email, role="admin")
    path = link_path(outbox[0])
    assert "Log in to accept" in Client().get(path).content.decode()
    response = client_for(team.outsider).post(path)
    assert response.status_code == 302
    assert Membership.objects.get(user=team.outsider.user, organization=team.org).role == Role.ADMIN


def test_a_different_logged_in_user_cannot_accept(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox)
    path = link_path(outbox[0])
    client_for(team.outsider).post(path)
    assert Invitation.objects.get().accepted_at is None
    assert not User.objects.filter(email="new@acme.test").exists()


def test_current_member_is_not_invited_again(team, outbox):
    response = invite(team, outbox, email="member@acme.test")
    assert "already a member" in response.content.decode()
    assert not Invitation.objects.exists()


def test_only_the_primary_owner_invites_an_owner(team, outbox):
    response = invite(team, outbox, role="owner")
    assert "Only the primary owner" in response.content.decode()
    assert not Invitation.objects.exists()
    assert invite(team, outbox, role="owner", by=team.primary).status_code == 204


def test_removed_member_is_reactivated_by_a_new_invitation(team, outbox, django_capture_on_commit_callbacks):
    client_for(team.owner).post(f"/orgs/{team.org.slug}/members/{team.member.pk}/remove/", **HTMX)
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox, email="member@acme.test", tier="standard")
    client_for(team.member).post(link_path(outbox[0]))
    team.member.refresh_from_db()
    assert team.member.removed_at is None
    assert seat_current(membership=team.member).tier.code == "standard"


def test_invalid_invite_form_changes_nothing(team, outbox):
    response = invite(team, outbox, email="not-an-email")
    assert response.status_code == 200 and 'aria-invalid="true"' in response.content.decode()
    assert not Invitation.objects.exists() and not outbox


def test_owner_withdraws_a_pending_invitation(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox)
    invitation = Invitation.objects.get()
    assert "new@acme.test" in client_for(team.owner).get(f"/orgs/{team.org.slug}/members/").content.decode()
    response = client_for(team.admin).post(f"/orgs/{team.org.slug}/members/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 403
    response = client_for(team.owner).post(f"/orgs/{team.org.slug}/members/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    assert Client().get(link_path(outbox[0])).status_code == 410
    assert AuditEntry.objects.filter(action="member.invite.revoke", target="new@acme.test").exists()


def test_invitation_of_another_org_cannot_be_withdrawn(team, outbox):
    invite(team, outbox)
    invitation = Invitation.objects.get()
    other = team.outsider.organization.slug
    response = client_for(team.outsider).post(f"/orgs/{other}/members/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 404
    assert Invitation.objects.get().revoked_at is None


def resend(team, invitation, by=None):
    return client_for(by or team.owner).post(
        f"/orgs/{team.org.slug}/members/invitations/{invitation.pk}/resend/")


def test_an_expired_invitation_is_listed_and_sent_again_with_a_new_link(team, outbox,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox)
    old_path = link_path(outbox[0])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    with time_machine.travel(later):
        page = client_for(team.owner).get(f"/orgs/{team.org.slug}/members/").content.decode()
        assert "new@acme.test" in page and "expired" in page and "Send again" in page
        with django_capture_on_commit_callbacks(execute=True):
            assert resend(team, Invitation.objects.get()).status_code == 302
        assert len(outbox) == 2 and outbox[1].to == ["new@acme.test"]
        new_path = link_path(outbox[1])
        assert new_path != old_path
        assert Client().get(old_path).status_code == 410
        response = Client().post(new_path, {"name": "New", "password": "s3cret-pass",
                                            "password_confirm": "s3cret-pass"})
        assert response.status_code == 302
    membership = Membership.objects.get(user__email="new@acme.test", organization=team.org)
    assert seat_current(membership=membership).tier.code == "premium"  # same role and tier as first invited
    assert AuditEntry.objects.filter(action="member.invite", target="new@acme.test").count() == 2


def test_a_pending_invitation_sent_again_replaces_its_link(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox, role="admin")
        resend(team, Invitation.objects.get())
    assert Client().get(link_path(outbox[0])).status_code == 410
    assert Client().get(link_path(outbox[1])).status_code == 200
    pending = Invitation.objects.get(accepted_at__isnull=True, revoked_at__isnull=True)
    assert pending.role == "admin"


def test_a_withdrawn_invitation_is_not_sent_again(team, outbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invite(team, outbox)
    invitation = Invitation.objects.get()
    owner = client_for(team.owner)
    owner.post(f"/orgs/{team.org.slug}/members/invitations/{invitation.pk}/revoke/")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(f"/orgs/{team.org.slug}/members/invitations/{invitation.pk}/resend/", follow=True)
    assert len(outbox) == 1
    assert "accepted or withdrawn" in response.content.decode()
