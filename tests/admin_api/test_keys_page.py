"""Settings > Admin API keys (primary owner only), the management command and the Django admin."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.admin_api.models import AdminApiKey
from apps.admin_api.selectors import admin_api_key_authenticate
from apps.admin_api.services import admin_api_key_create
from apps.common.ids import api_key_digest
from apps.organizations.models import AuditEntry, PlanKind, Role
from tests.factories import OrganizationFactory, UserFactory, login_verified, member

pytestmark = pytest.mark.django_db

INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+=|\sstyle=", re.I)


@pytest.fixture
def org():
    return OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)


def logged_in(membership) -> Client:
    client = Client()
    client.force_login(membership.user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_primary_owner_creates_a_key_shown_once_and_stored_hashed(org):
    owner = member(org, role=Role.PRIMARY_OWNER)
    client = logged_in(owner)
    url = reverse("admin_api:keys", kwargs={"slug": org.slug})
    response = client.post(url, {"name": "Finance automation", "scopes": ["read:spend_limits",
                                                                          "write:spend_limits"]})
    assert response.status_code == 200
    html = response.content.decode()
    raw = re.search(r'value="(sk-ant-admin01-[^"]+)"', html).group(1)
    key = AdminApiKey.objects.get(organization=org)
    assert key.digest == api_key_digest(raw) and raw not in (key.prefix, key.digest)
    assert key.scopes == ["read:spend_limits", "write:spend_limits"] and key.created_by == owner.user
    assert admin_api_key_authenticate(raw_key=raw) == key
    assert AuditEntry.objects.filter(organization=org, action="admin_api_key.create", target=key.public_id).exists()
    listing = client.get(url).content.decode()
    assert "Finance automation" in listing and key.prefix in listing and raw not in listing
    assert not INLINE.search(html) and not INLINE.search(listing)


def test_create_form_errors_change_nothing(org):
    client = logged_in(member(org, role=Role.PRIMARY_OWNER))
    url = reverse("admin_api:keys", kwargs={"slug": org.slug})
    response = client.post(url, {"name": "  ", "scopes": []})
    assert response.status_code == 400
    assert "Choose at least one scope." in response.content.decode()
    assert client.post(url, {"name": "x", "scopes": ["admin:everything"]}).status_code == 400
    assert not AdminApiKey.objects.exists()


def test_team_organization_is_offered_no_keys(org):
    team = OrganizationFactory(plan_kind=PlanKind.TEAM)
    client = logged_in(member(team, role=Role.PRIMARY_OWNER))
    url = reverse("admin_api:keys", kwargs={"slug": team.slug})
    assert "serves Enterprise organizations" in client.get(url).content.decode()
    assert client.post(url, {"name": "x", "scopes": ["read:spend_limits"]}).status_code == 400
    assert not AdminApiKey.objects.exists()


def test_revoke_asks_then_refuses_the_key_from_then_on(org):
    owner = member(org, role=Role.PRIMARY_OWNER)
    key, raw = admin_api_key_create(organization=org, name="old", scopes=["read:spend_limits"],
                                    now=timezone.now())
    client = logged_in(owner)
    url = reverse("admin_api:revoke", kwargs={"slug": org.slug, "public_id": key.public_id})
    confirm = client.get(url)
    assert confirm.status_code == 200 and b"Revoke key" in confirm.content
    assert not INLINE.search(confirm.content.decode())
    assert admin_api_key_authenticate(raw_key=raw) is not None
    response = client.post(url)
    assert response.status_code == 302 and response["Location"] == reverse("admin_api:keys", kwargs={"slug": org.slug})
    assert admin_api_key_authenticate(raw_key=raw) is None
    client.post(url)  # twice: still one audit row
    assert AuditEntry.objects.filter(action="admin_api_key.revoke", target=key.public_id).count() == 1
    assert "Revoked" in client.get(reverse("admin_api:keys", kwargs={"slug": org.slug})).content.decode()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MEMBER])
def test_other_roles_are_forbidden(org, role):
    member(org, role=Role.PRIMARY_OWNER)
    key, _ = admin_api_key_create(organization=org, name="k", scopes=["read:spend_limits"], now=timezone.now())
    client = logged_in(member(org, role=role))
    assert client.get(reverse("admin_api:keys", kwargs={"slug": org.slug})).status_code == 403
    assert client.post(reverse("admin_api:keys", kwargs={"slug": org.slug}),
                       {"name": "x", "scopes": ["read:spend_limits"]}).status_code == 403
    revoke = reverse("admin_api:revoke", kwargs={"slug": org.slug, "public_id": key.public_id})
    assert client.post(revoke).status_code == 403
    assert AdminApiKey.objects.get(pk=key.pk).revoked_at is None


def test_outsiders_get_404_and_another_orgs_key_is_not_found(org):
    other = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    outsider = member(other, role=Role.PRIMARY_OWNER)
    key, _ = admin_api_key_create(organization=org, name="k", scopes=["read:spend_limits"], now=timezone.now())
    client = logged_in(outsider)
    assert client.get(reverse("admin_api:keys", kwargs={"slug": org.slug})).status_code == 404
    # Their own org's page, with this org's key id: 404, and the key stays active.
    assert client.post(reverse("admin_api:revoke", kwargs={"slug": other.slug,
                                                           "public_id": key.public_id})).status_code == 404
    assert AdminApiKey.objects.get(pk=key.pk).revoked_at is None


def test_keys_page_query_count_does_not_grow_with_keys(org, django_assert_max_num_queries):
    client = logged_in(member(org, role=Role.PRIMARY_OWNER))
    url = reverse("admin_api:keys", kwargs={"slug": org.slug})
    for n in range(3):
        admin_api_key_create(organization=org, name=f"k{n}", scopes=["read:spend_limits"], now=timezone.now())
    with django_assert_max_num_queries(8) as few:
        client.get(url)
    for n in range(20):
        admin_api_key_create(organization=org, name=f"m{n}", scopes=["read:spend_limits"], now=timezone.now())
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).content.decode().count("<tr>") == 24


def test_command_prints_a_new_key_once(org):
    out, err = StringIO(), StringIO()
    call_command("create_admin_api_key", org.slug, "--scopes", "read:spend_limits", "--name", "ci",
                 stdout=out, stderr=err)
    raw = out.getvalue().strip()
    key = admin_api_key_authenticate(raw_key=raw)
    assert key.organization == org and key.scopes == ["read:spend_limits"] and key.name == "ci"
    assert key.public_id in err.getvalue() and raw not in err.getvalue()


def test_command_refuses_unknown_orgs_scopes_and_team_plans(org):
    with pytest.raises(CommandError, match="No organization"):
        call_command("create_admin_api_key", "nope", stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_admin_api_key", org.slug, "--scopes", "write:everything", stdout=StringIO(),
                     stderr=StringIO())
    team = OrganizationFactory(plan_kind=PlanKind.TEAM)
    with pytest.raises(CommandError, match="Enterprise"):
        call_command("create_admin_api_key", team.slug, stdout=StringIO(), stderr=StringIO())
    assert not AdminApiKey.objects.exists()


def test_django_admin_shows_a_new_key_once_and_revokes(org):
    staff = UserFactory(email="staff@example.com", is_staff=True, is_superuser=True)
    client = login_verified(Client(), staff)
    response = client.post(reverse("admin:admin_api_adminapikey_add"),
                           {"organization": org.pk, "name": "from admin", "scopes": ["write:spend_limits"]},
                           follow=True)
    raw = re.search(r"(sk-ant-admin01-[A-Za-z0-9_-]+)", response.content.decode()).group(1)
    key = admin_api_key_authenticate(raw_key=raw)
    assert key.name == "from admin" and key.created_by == staff
    response = client.post(reverse("admin:admin_api_adminapikey_changelist"),
                           {"action": "revoke", "_selected_action": [key.pk]}, follow=True)
    assert response.status_code == 200 and admin_api_key_authenticate(raw_key=raw) is None
    assert raw not in client.get(reverse("admin:admin_api_adminapikey_change", args=[key.pk])).content.decode()


def test_only_the_primary_owner_sees_the_nav_link(org):
    primary = member(org, role=Role.PRIMARY_OWNER)
    owner = member(org, role=Role.OWNER)
    keys_url = reverse("admin_api:keys", kwargs={"slug": org.slug})
    page = logged_in(primary).get(keys_url).content.decode()
    assert f'<a href="{keys_url}" aria-current="page">Admin API keys</a>' in page
    usage = logged_in(owner).get(reverse("console:usage_settings", kwargs={"slug": org.slug}))
    assert usage.status_code == 200 and keys_url not in usage.content.decode()
