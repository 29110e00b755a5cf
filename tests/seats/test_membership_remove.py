"""Removing a member ends their access and closes their seat in one service, whoever asks for it."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.organizations.models import AuditEntry, Role
from apps.seats.models import SeatAssignment
from apps.seats.services import membership_remove
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def test_removal_closes_the_seat_at_the_moment_access_ends():
    org = OrganizationFactory()
    owner = member(org, email="owner@acme.test", role=Role.PRIMARY_OWNER, since=NOW - dt.timedelta(days=10))
    leaver = member(org, email="leaver@acme.test", since=NOW - dt.timedelta(days=10))
    membership_remove(membership=leaver, actor_membership=owner, now=NOW)
    leaver.refresh_from_db()
    assert leaver.removed_at == NOW
    assert not SeatAssignment.objects.filter(membership=leaver, ended_at__isnull=True).exists()
    assert SeatAssignment.objects.get(membership=leaver).ended_at == NOW
    assert set(AuditEntry.objects.filter(target="leaver@acme.test").values_list("action", flat=True)) == {
        "member.remove", "seat.change"}


def test_a_refused_removal_changes_nothing():
    org = OrganizationFactory()
    owner = member(org, email="owner@acme.test", role=Role.PRIMARY_OWNER, since=NOW - dt.timedelta(days=10))
    admin = member(org, email="admin@acme.test", role=Role.ADMIN, since=NOW - dt.timedelta(days=10))
    with pytest.raises(ValidationError):
        membership_remove(membership=owner, actor_membership=owner, now=NOW)
    with pytest.raises(PermissionDenied):  # an admin may not remove anyone
        membership_remove(membership=owner, actor_membership=admin, now=NOW)
    owner.refresh_from_db()
    assert owner.removed_at is None
    assert SeatAssignment.objects.filter(membership=owner, ended_at__isnull=True).exists()
