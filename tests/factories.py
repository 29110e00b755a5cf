"""Factories that keep foreign keys consistent: a member's seat tier belongs to the member's organization."""

import datetime as dt

import factory
from django.utils import timezone

from apps.accounts.models import User
from apps.organizations.models import Membership, Organization, PlanKind, Role
from apps.organizations.services import api_key_create
from apps.seats.models import SeatTier
from apps.seats.services import seat_assign, seat_tiers_create_defaults


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "demo-password")
        if create:
            obj.save(update_fields=["password"])


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Org {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    plan_kind = PlanKind.ENTERPRISE_USAGE
    billing_timezone = "UTC"

    @factory.post_generation
    def tiers(obj, create, extracted, **kwargs):
        if create:
            seat_tiers_create_defaults(organization=obj)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Role.MEMBER


def tier(organization: Organization, code: str | None = None) -> SeatTier:
    tiers = SeatTier.objects.filter(organization=organization).order_by("position")
    return tiers.get(code=code) if code else tiers.first()


def member(organization: Organization, *, email: str | None = None, role: str = Role.MEMBER,
           tier_code: str | None = None, seat: bool = True, since: dt.datetime | None = None) -> Membership:
    """A member of the organization, holding a seat of the given tier (the first tier by default)."""
    user = UserFactory(email=email) if email else UserFactory()
    membership = Membership.objects.create(organization=organization, user=user, role=role)
    if seat:
        seat_assign(membership=membership, tier=tier(organization, tier_code), now=since or timezone.now())
    return membership


def api_key(organization: Organization) -> str:
    _, raw = api_key_create(organization=organization, name="test")
    return raw


def login_verified(client, user, *, backend: str = "django.contrib.auth.backends.ModelBackend"):
    """Log the user in as having given their second factor (a confirmed TOTP device, verified in this session), as
    Django admin requires of staff (billing_portal/admin_site.py). Returns the client."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="Authenticator", confirmed=True)
    client.force_login(user, backend=backend)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
