"""Issue 26, hole 1: domain claims were trusted as typed. A non-primary owner of Acme claimed Globex's email
domain and turned on Require SSO; from then on Globex's members, and its primary owner, were sent to Acme's
identity provider instead of their password login. gmail.com could be claimed too.

Replayed end to end over HTTP against a real DNS server on loopback: the non-primary owner is refused; Acme's
primary owner can claim Globex's domain but never verify it (the TXT record at globex.example holds Globex's
token, not Acme's); Require SSO on Acme's own verified domain acts only on Acme's people; gmail.com is refused."""

import pytest
from django.test import Client
from django.urls import reverse

from apps.identity.domain_check import domain_txt_values
from apps.identity.models import OrganizationIdentity, SsoDomain
from apps.identity.selectors import sso_identity_for_email
from apps.organizations.models import Membership, PlanKind, Role
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory, member

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _as(membership) -> Client:
    client = Client()
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _password_login(email: str):
    return Client().post(reverse("accounts:login"), {"username": email, "password": PASSWORD})


def test_another_customers_domain_cannot_be_taken_and_require_sso_stays_inside_its_organization(dns_zone):
    acme = OrganizationFactory(slug="acme", name="Acme", plan_kind=PlanKind.TEAM)
    acme_primary = member(acme, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    acme_owner2 = member(acme, email="owner2@acme.example", role=Role.OWNER)
    globex = OrganizationFactory(slug="globex", name="Globex", plan_kind=PlanKind.TEAM)
    globex_primary = member(globex, email="owner@globex.example", role=Role.PRIMARY_OWNER)
    member(globex, email="pat@globex.example")
    # Globex proved globex.example; a contractor with an acme.example address works for Globex only.
    verify_domain(organization=globex, domain="globex.example", zone=dns_zone, actor=globex_primary.user)
    member(globex, email="contractor@acme.example")

    # The attack as reported: owner2 claims globex.example and requires SSO. Refused, nothing changes.
    owner2 = _as(acme_owner2)
    assert owner2.post(reverse("identity:domain_claim", args=["acme"]), {"domain": "globex.example"}).status_code == 403
    assert owner2.post(reverse("identity:sso", args=["acme"]), {
        "sso_issuer_url": "https://idp.attacker.example", "sso_client_id": "x", "sso_required": "on",
    }).status_code == 403
    assert not SsoDomain.objects.filter(organization=acme).exists()
    assert not OrganizationIdentity.objects.filter(organization=acme, sso_issuer_url__contains="attacker").exists()

    # Acme's primary owner may claim it, but the DNS says whose it is: verification fails.
    primary = _as(acme_primary)
    assert primary.post(reverse("identity:domain_claim", args=["acme"]), {"domain": "globex.example"}).status_code \
        == 400  # verified by Globex: "a second claim says so"
    assert b"verified by another organization" in primary.post(
        reverse("identity:domain_claim", args=["acme"]), {"domain": "globex.example"}).content
    # …and gmail.com is nobody's domain.
    gmail = primary.post(reverse("identity:domain_claim", args=["acme"]), {"domain": "gmail.com"})
    assert gmail.status_code == 400 and b"public email provider" in gmail.content

    # Acme verifies its own domain and requires SSO there.
    claim = SsoDomain.objects.create(organization=acme, domain="acme.example")
    primary.post(reverse("identity:domain_verify", args=["acme", claim.pk]))  # no TXT record yet
    assert not SsoDomain.objects.get(pk=claim.pk).is_verified
    dns_zone.publish("acme.example", claim.txt_value)
    assert claim.txt_value in domain_txt_values("acme.example")
    primary.post(reverse("identity:domain_verify", args=["acme", claim.pk]))
    assert SsoDomain.objects.get(pk=claim.pk).is_verified
    assert primary.post(reverse("identity:sso", args=["acme"]), {
        "sso_issuer_url": "https://idp.acme.example", "sso_client_id": "acme-portal", "sso_required": "on",
    }).status_code == 302
    member(acme, email="ada@acme.example")

    # Globex's people keep their password login: never sent to Acme's provider.
    for email in ("owner@globex.example", "pat@globex.example", "contractor@acme.example"):
        response = _password_login(email)
        assert response.status_code == 302 and "Continue to Acme" not in response.content.decode(), email
    assert SsoDomain.objects.get(domain="globex.example", verified_at__isnull=False).organization == globex
    assert sso_identity_for_email("pat@globex.example") is None  # Globex has no provider: nobody's SSO applies
    # Acme's own member is sent to Acme's provider; Acme's primary owner keeps the password.
    assert "Continue to Acme's sign-in" in _password_login("ada@acme.example").content.decode()
    assert _password_login("owner@acme.example").status_code == 302
    # "Continue with single sign-on" does not take the contractor to Acme's provider either.
    start = Client().post(reverse("identity:sso_start"), {"email": "contractor@acme.example"})
    assert start.status_code == 400 and b"Log in with your password" in start.content
    assert not Membership.objects.filter(organization=acme, user__email="contractor@acme.example").exists()
