"""Security & SSO (owners read, the primary owner changes): require two-factor, the OpenID Connect provider, SCIM
tokens; audited and emailed to the primary owner, one query budget, 404 for members and other organizations."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from apps.identity.models import OrganizationIdentity, ScimToken, SsoDomain
from apps.identity.selectors import scim_token_authenticate
from apps.identity.services import scim_token_create
from apps.notices.models import EmailOutbox
from apps.organizations.models import AuditEntry, PlanKind, Role
from tests.dns_server import verify_domain
from tests.factories import OrganizationFactory, login_verified, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    return OrganizationFactory(slug="acme", name="Acme", plan_kind=PlanKind.ENTERPRISE_USAGE)


def _as(client, membership):
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_primary_owner_sets_sso_and_it_is_audited_without_the_secret_and_emailed(client, org, dns_zone):
    primary = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    verify_domain(organization=org, domain="acme.example", zone=dns_zone, actor=primary.user)
    _as(client, primary)
    response = client.post(reverse("identity:sso", args=["acme"]), {
        "sso_issuer_url": "https://idp.acme.example", "sso_client_id": "portal", "sso_client_secret": "s3cret",
        "sso_default_tier_code": "chat_code", "sso_required": "on"})
    assert response.status_code == 302
    identity = OrganizationIdentity.objects.get(organization=org)
    assert identity.sso_required and identity.sso_client_secret == "s3cret"
    entry = AuditEntry.objects.get(organization=org, action="identity.sso")
    assert "s3cret" not in str(entry.new_value) and entry.new_value["client_secret_changed"] is True
    page = client.get(reverse("identity:settings", args=["acme"]))
    assert b"https://idp.acme.example" in page.content and b"s3cret" not in page.content
    mail = EmailOutbox.objects.filter(kind="identity_changed", to_email="owner@acme.example").first()
    assert mail is not None and "https://idp.acme.example" in mail.text_body and "s3cret" not in mail.text_body


def test_another_owner_reads_the_settings_but_every_change_is_a_403(client, org, dns_zone):
    primary = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    claim = verify_domain(organization=org, domain="acme.example", zone=dns_zone, actor=primary.user)
    token, _raw = scim_token_create(organization=org, name="Okta", actor=primary.user)
    _as(client, member(org, email="owner2@acme.example", role=Role.OWNER))
    page = client.get(reverse("identity:settings", args=["acme"]))
    assert page.status_code == 200 and b"acme.example" in page.content
    assert b"Only the primary owner can" in page.content and b"Claim domain" not in page.content
    before = AuditEntry.objects.count()
    for name, args, data in [
        ("identity:sso", ["acme"], {"sso_issuer_url": "https://evil.example", "sso_client_id": "x"}),
        ("identity:domain_claim", ["acme"], {"domain": "globex.example"}),
        ("identity:domain_verify", ["acme", claim.pk], {}),
        ("identity:domain_remove", ["acme", claim.pk], {}),
        ("identity:scim_token_create", ["acme"], {"name": "mine"}),
        ("identity:scim_token_revoke", ["acme", token.public_id], {}),
    ]:
        assert client.post(reverse(name, args=args), data).status_code == 403, name
    assert AuditEntry.objects.count() == before
    assert OrganizationIdentity.objects.filter(organization=org, sso_issuer_url="https://evil.example").count() == 0
    assert SsoDomain.objects.get(pk=claim.pk).is_verified and ScimToken.objects.filter(organization=org).count() == 1


def test_require_sso_needs_a_provider(client, org):
    _as(client, member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER))
    response = client.post(reverse("identity:sso", args=["acme"]), {"sso_required": "on"})
    assert response.status_code == 400 and b"before requiring single sign-on" in response.content


def test_require_sso_needs_a_verified_domain(client, org):
    _as(client, member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER))
    client.post(reverse("identity:domain_claim", args=["acme"]), {"domain": "acme.example"})
    response = client.post(reverse("identity:sso", args=["acme"]), {
        "sso_issuer_url": "https://idp.acme.example", "sso_client_id": "portal", "sso_required": "on"})
    assert response.status_code == 400 and b"verify at least one domain" in response.content
    assert not OrganizationIdentity.objects.filter(organization=org, sso_required=True).exists()


def test_scim_token_is_shown_once_works_and_revoking_refuses_it(client, org):
    _as(client, member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER))
    page = client.post(reverse("identity:scim_token_create", args=["acme"]), {"name": "Okta"})
    raw = page.context["new_token"]
    assert raw.startswith("bp_scim_") and raw.encode() in page.content
    token = ScimToken.objects.get(organization=org)
    assert token.digest != raw and scim_token_authenticate(raw_token=raw) == token
    assert raw.encode() not in client.get(reverse("identity:settings", args=["acme"])).content
    client.post(reverse("identity:scim_token_revoke", args=["acme", token.public_id]))
    assert scim_token_authenticate(raw_token=raw) is None
    assert client.get("/scim/v2/Users", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401
    assert AuditEntry.objects.filter(organization=org, action="scim_token.revoke").exists()


def test_create_scim_token_command_prints_the_token_once(org, capsys):
    call_command("create_scim_token", "acme", "--name", "Entra ID")
    raw = capsys.readouterr().out.strip()
    assert scim_token_authenticate(raw_token=raw).name == "Entra ID"


def test_members_and_admins_get_404_and_the_nav_links_owners_only(client, org):
    _as(client, member(org, email="admin@acme.example", role=Role.ADMIN))
    assert client.get(reverse("identity:settings", args=["acme"])).status_code == 404
    owner_client = _as(type(client)(), member(org, email="owner@acme.example", role=Role.OWNER))
    usage = owner_client.get(reverse("identity:settings", args=["acme"]))
    assert b"Security &amp; SSO" in usage.content


def test_settings_page_query_count(client, org, django_assert_max_num_queries):
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    for i in range(20):
        ScimToken.objects.create(organization=org, name=f"t{i}", prefix="bp_scim_x", digest=f"{i:064d}")
    _as(client, owner)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("identity:settings", args=["acme"]))
    assert response.status_code == 200 and response.content.count(b"bp_scim_x") == 20


def test_staff_reset_two_factor_from_django_admin_is_audited(client, org):
    from apps.accounts.selectors import two_factor_enabled
    from apps.accounts.services import totp_device_confirm, totp_device_start

    pat = member(org, email="pat@acme.example")
    totp_device_confirm(user=pat.user, device=totp_device_start(user=pat.user))
    staff = member(OrganizationFactory(slug="ops"), email="staff@billing-portal.example").user
    staff.is_staff = staff.is_superuser = True
    staff.save()
    login_verified(client, staff)
    response = client.post("/admin/accounts/user/", {"action": "reset_two_factor",
                                                     "_selected_action": [pat.user.pk]})
    assert response.status_code == 302
    assert not two_factor_enabled(user=pat.user)
    entry = AuditEntry.objects.get(organization=org, action="identity.two_factor_reset")
    assert entry.actor_label == "staff:staff@billing-portal.example" and entry.target == "pat@acme.example"


def test_scim_requests_record_when_the_token_was_last_used(org):
    from django.test import Client

    token, raw = scim_token_create(organization=org, name="Okta")
    assert Client().get("/scim/v2/ServiceProviderConfig", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
