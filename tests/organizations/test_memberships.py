"""Organizations and memberships: the database enforces exactly one primary owner per organization."""

import pytest
from django.db import IntegrityError, transaction

from apps.organizations.models import Membership, Role
from apps.organizations.services import organization_create
from tests.factories import OrganizationFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def test_a_second_primary_owner_is_refused_by_the_database():
    org = OrganizationFactory()
    member(org, email="first@example.com", role=Role.PRIMARY_OWNER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(organization=org, user=UserFactory(), role=Role.PRIMARY_OWNER)
    # Promoting an existing member is refused too.
    other = member(org, email="other@example.com", role=Role.OWNER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(pk=other.pk).update(role=Role.PRIMARY_OWNER)
    assert Membership.objects.filter(organization=org, role=Role.PRIMARY_OWNER).count() == 1


def test_each_organization_has_its_own_primary_owner_and_many_owners():
    user = UserFactory(email="founder@example.com")
    a = organization_create(name="A", slug="a", plan_kind="team", primary_owner=user)
    b = organization_create(name="B", slug="b", plan_kind="enterprise_usage", primary_owner=user)
    for org in (a, b):
        member(org, role=Role.OWNER)
        member(org, role=Role.OWNER)
    assert Membership.objects.filter(user=user, role=Role.PRIMARY_OWNER).count() == 2
    assert Membership.objects.filter(organization=a, role=Role.OWNER).count() == 2


def test_a_user_belongs_to_an_organization_once():
    org = OrganizationFactory()
    membership = member(org, email="pat@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(organization=org, user=membership.user, role=Role.ADMIN)


def test_emails_are_unique_whatever_their_case():
    UserFactory(email="Case@Example.com".lower())
    from apps.accounts.models import User

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="CASE@example.com")
