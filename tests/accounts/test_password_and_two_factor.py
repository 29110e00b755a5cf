"""Password reset and change (Django's views), password validators, TOTP two-factor with recovery codes, the
axes lockout covering the second factor, and organizations requiring two-factor."""

import re

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.services import totp_device_confirm, totp_device_start
from apps.identity.services import two_factor_requirement_set, two_factor_reset_by_staff
from apps.organizations.models import AuditEntry, Role
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_reset_email_link_sets_a_new_password_once(client, outbox):
    m = member(OrganizationFactory(), email="pat@example.com")
    response = client.post(reverse("accounts:password_reset"), {"email": "PAT@example.com"})
    assert response.status_code == 302 and len(outbox) == 1
    link = re.search(r"http://testserver(/accounts/password/reset/\S+)", outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    set_url = form_page.redirect_chain[-1][0]
    weak = client.post(set_url, {"new_password1": "password123", "new_password2": "password123"})
    assert b"too common" in weak.content
    done = client.post(set_url, {"new_password1": "Ledger-Horse-7731", "new_password2": "Ledger-Horse-7731"})
    assert done.status_code == 302
    m.user.refresh_from_db()
    assert m.user.check_password("Ledger-Horse-7731")
    assert b"no longer works" in client.get(link, follow=True).content  # single use


def test_unknown_address_gets_the_same_answer_and_no_email(client, outbox):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response["Location"] == reverse("accounts:password_reset_done")
    assert outbox == []


def test_password_change_applies_the_validators(client):
    member(OrganizationFactory(), email="pat@example.com")
    client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    url = reverse("accounts:password_change")
    short = client.post(url, {"old_password": "demo-password", "new_password1": "abc", "new_password2": "abc"})
    assert b"too short" in short.content
    ok = client.post(url, {"old_password": "demo-password", "new_password1": "Ledger-Horse-7731",
                           "new_password2": "Ledger-Horse-7731"})
    assert ok.status_code == 302


def _enrol(user) -> tuple[TOTPDevice, list[str]]:
    device = totp_device_start(user=user)
    return device, totp_device_confirm(user=user, device=device)


def test_login_with_two_factor_needs_the_code_and_a_recovery_code_works_once(client):
    m = member(OrganizationFactory(slug="acme"), email="pat@example.com")
    device, codes = _enrol(m.user)
    response = client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    assert response["Location"] == reverse("accounts:login_verify")
    assert client.get("/orgs/acme/").status_code == 302  # not logged in yet
    assert client.post(reverse("accounts:login_verify"), {"otp_token": _code(device)}).status_code == 302
    assert client.get("/orgs/acme/", follow=True).status_code == 200
    client.logout()
    client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    assert client.post(reverse("accounts:login_verify"), {"otp_token": codes[0]}).status_code == 302
    client.logout()
    client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    reused = client.post(reverse("accounts:login_verify"), {"otp_token": codes[0]})
    assert reused.status_code == 200 and b"not valid" in reused.content


def test_wrong_second_factor_codes_lock_the_account_like_wrong_passwords(client, settings):
    m = member(OrganizationFactory(), email="pat@example.com")
    device, _codes = _enrol(m.user)
    client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    statuses = [client.post(reverse("accounts:login_verify"), {"otp_token": "000000"}).status_code
                for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[-1] == 429 or statuses[-1] == 403
    locked = client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    assert locked.status_code in (403, 429)


def test_organization_requiring_two_factor_sends_members_to_set_it_up(client):
    org = OrganizationFactory(slug="acme")
    owner = member(org, email="owner@example.com", role=Role.OWNER)
    member(org, email="pat@example.com")
    two_factor_requirement_set(organization=org, required=True, actor=owner.user)
    assert AuditEntry.objects.filter(organization=org, action="identity.require_two_factor").exists()
    client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    response = client.get("/orgs/acme/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:two_factor_setup"))
    setup = client.get(response["Location"])
    assert setup.status_code == 200
    device = TOTPDevice.objects.get(user__email="pat@example.com")
    done = client.post(response["Location"], {"otp_token": _code(device)})
    assert done["Location"] == reverse("accounts:recovery_codes")
    codes_page = client.get(done["Location"])
    assert codes_page.content.count(b"<li><code>") == 10
    assert client.get("/orgs/acme/", follow=True).status_code == 200


def test_staff_reset_removes_the_devices_and_is_audited():
    org = OrganizationFactory()
    m = member(org, email="pat@example.com")
    staff = member(OrganizationFactory(), email="staff@example.com").user
    _enrol(m.user)
    assert two_factor_reset_by_staff(user=m.user, actor=staff) == 2
    assert not TOTPDevice.objects.filter(user=m.user).exists()
    entry = AuditEntry.objects.get(organization=org, action="identity.two_factor_reset")
    assert entry.actor_label == "staff:staff@example.com"


@pytest.mark.parametrize("url_name", ["accounts:security", "accounts:two_factor_setup", "accounts:password_change",
                                      "accounts:password_reset"])
def test_account_pages_query_count(client, url_name, django_assert_max_num_queries):
    m = member(OrganizationFactory(), email="pat@example.com")
    if url_name == "accounts:security":
        _enrol(m.user)  # the page with the most to read: two-factor on, recovery codes counted
    client.force_login(m.user, backend="django.contrib.auth.backends.ModelBackend")
    with django_assert_max_num_queries(8):
        response = client.get(reverse(url_name))
    assert response.status_code == 200


def test_login_verify_query_count(client, django_assert_max_num_queries):
    m = member(OrganizationFactory(), email="pat@example.com")
    _enrol(m.user)
    client.post(reverse("accounts:login"), {"username": "pat@example.com", "password": "demo-password"})
    with django_assert_max_num_queries(8):
        response = client.get(reverse("accounts:login_verify"))
    assert response.status_code == 200
