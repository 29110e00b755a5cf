"""Verified domains (issue 26): a claim does nothing until a DNS TXT record holding its token is found (a real DNS
server on loopback, looked up through dnspython); public mail domains are refused; one organization at a time
verifies a domain; every change is audited and emailed to the primary owner."""

import pytest
from django.urls import reverse

from apps.console.audit import audit_sentence
from apps.identity.models import SsoDomain
from apps.identity.selectors import sso_identity_for_email
from apps.identity.services import sso_settings_set
from apps.notices.models import EmailOutbox
from apps.organizations.models import AuditEntry, Role
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def primary(client):
    org = OrganizationFactory(slug="acme", name="Acme")
    membership = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return membership


def _messages(response) -> str:
    return " ".join(str(m) for m in response.wsgi_request._messages)


def test_a_claim_is_verified_only_once_its_txt_record_is_in_the_dns(client, primary, dns_zone):
    org = primary.organization
    response = client.post(reverse("identity:domain_claim", args=["acme"]), {"domain": " @Acme.Example. "})
    assert response.status_code == 302
    claim = SsoDomain.objects.get(organization=org)
    assert claim.domain == "acme.example" and not claim.is_verified
    assert claim.txt_value.startswith("billing-portal-domain-verification=")
    page = client.get(reverse("identity:settings", args=["acme"]))
    assert claim.txt_value.encode() in page.content and b"Not verified" in page.content

    dns_zone.publish("acme.example", "v=spf1 -all")  # another record, not ours
    response = client.post(reverse("identity:domain_verify", args=["acme", claim.pk]), follow=True)
    assert "No TXT record at acme.example holds" in _messages(response)
    claim.refresh_from_db()
    assert not claim.is_verified and "acme.example" in dns_zone.queries

    dns_zone.publish("acme.example", claim.txt_value)
    response = client.post(reverse("identity:domain_verify", args=["acme", claim.pk]), follow=True)
    assert "acme.example is verified." in _messages(response)
    claim.refresh_from_db()
    assert claim.is_verified
    entries = AuditEntry.objects.filter(organization=org, action__startswith="identity.").order_by("pk")
    sentences = [audit_sentence(e) for e in entries]
    assert sentences == ["Claimed the domain acme.example for single sign-on and SCIM (not verified yet).",
                         "Verified the domain acme.example by its DNS TXT record."]
    mails = list(EmailOutbox.objects.filter(kind="identity_changed", to_email="owner@acme.example")
                 .order_by("pk").values_list("text_body", flat=True))
    assert len(mails) == 2 and claim.txt_value in mails[0] and "verified the domain acme.example" in mails[1]


def test_an_unverified_claim_does_nothing(primary, dns_zone):
    org = primary.organization
    client_secret = "s"
    from apps.identity.services import sso_domain_claim

    sso_domain_claim(organization=org, domain="acme.example", actor=primary.user)
    sso_settings_set(organization=org, issuer_url="https://idp.acme.example", client_id="c",
                     client_secret=client_secret, default_tier_code="", required=False, actor=primary.user)
    assert sso_identity_for_email("pat@acme.example") is None
    verify_domain(organization=OrganizationFactory(slug="other"), domain="other.example", zone=dns_zone)
    SsoDomain.objects.filter(organization=org).delete()
    verify_domain(organization=org, domain="acme.example", zone=dns_zone, actor=primary.user)
    assert sso_identity_for_email("pat@acme.example").organization == org


@pytest.mark.parametrize("domain", ["gmail.com", "GMAIL.com", "outlook.com", "web.de", "mailinator.com"])
def test_public_mail_domains_are_refused(client, primary, domain):
    response = client.post(reverse("identity:domain_claim", args=["acme"]), {"domain": domain})
    assert response.status_code == 400 and b"public email provider" in response.content
    assert not SsoDomain.objects.exists() and not AuditEntry.objects.filter(action__startswith="identity.").exists()


@pytest.mark.parametrize("domain", ["not a domain", "acme", "-acme.com", "a" * 64 + ".com"])
def test_a_malformed_domain_is_refused_with_a_message(client, primary, domain):
    response = client.post(reverse("identity:domain_claim", args=["acme"]), {"domain": domain})
    assert response.status_code == 400 and b"is not a domain name" in response.content
    assert not SsoDomain.objects.exists()


def test_one_organization_at_a_time_verifies_a_domain_and_a_second_claim_says_so(client, primary, dns_zone):
    globex = OrganizationFactory(slug="globex")
    globex_primary = member(globex, email="owner@globex.example", role=Role.PRIMARY_OWNER)
    # Globex claims first but does not verify: Acme can still claim and verify (no squatting on a typed claim).
    from apps.identity.services import sso_domain_claim, sso_domain_verify

    pending = sso_domain_claim(organization=globex, domain="shared.example", actor=globex_primary.user)
    verify_domain(organization=primary.organization, domain="shared.example", zone=dns_zone, actor=primary.user)
    # Globex now publishes its own token: its verification is refused, saying why.
    dns_zone.publish("shared.example", pending.txt_value)
    with pytest.raises(Exception, match="verified by another organization"):
        sso_domain_verify(claim=pending, txt_values=[pending.txt_value], actor=globex_primary.user)
    pending.refresh_from_db()
    assert not pending.is_verified
    # A new claim by another organization says so.
    other = OrganizationFactory(slug="initech")
    client.force_login(member(other, email="boss@initech.example", role=Role.PRIMARY_OWNER).user,
                       backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(reverse("identity:domain_claim", args=["initech"]), {"domain": "shared.example"})
    assert response.status_code == 400 and b"is verified by another organization" in response.content
    assert not SsoDomain.objects.filter(organization=other).exists()


def test_removing_a_domain_stops_sso_for_it_and_is_audited(client, primary, dns_zone):
    org = primary.organization
    claim = verify_domain(organization=org, domain="acme.example", zone=dns_zone, actor=primary.user)
    sso_settings_set(organization=org, issuer_url="https://idp.acme.example", client_id="c", client_secret="s",
                     default_tier_code="", required=True, actor=primary.user)
    assert sso_identity_for_email("pat@acme.example") is not None
    assert client.post(reverse("identity:domain_remove", args=["acme", claim.pk])).status_code == 302
    assert sso_identity_for_email("pat@acme.example") is None
    entry = AuditEntry.objects.filter(organization=org, action="identity.domain.remove").get()
    assert audit_sentence(entry) == ("Removed the domain acme.example: single sign-on and SCIM no longer act on "
                                     "it.")


def test_a_nameserver_that_does_not_answer_is_a_message_and_changes_nothing(client, primary, settings):
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        settings.IDENTITY_DNS_NAMESERVERS = [f"127.0.0.1:{silent.getsockname()[1]}"]
        settings.IDENTITY_DNS_TIMEOUT = 0.3
        client.post(reverse("identity:domain_claim", args=["acme"]), {"domain": "acme.example"})
        claim = SsoDomain.objects.get()
        response = client.post(reverse("identity:domain_verify", args=["acme", claim.pk]), follow=True)
    assert response.status_code == 200 and "did not answer" in _messages(response)
    claim.refresh_from_db()
    assert not claim.is_verified
