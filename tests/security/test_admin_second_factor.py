"""Hole 4 of issue 26: a staff user with TOTP logged in at /admin/login/ with the password alone and opened
/admin/accounts/user/. Django admin is now django-otp's OTPAdminSite (billing_portal/admin_site.py): the session
must have given a second factor, staff sign in through the portal's password + code steps, and a staff member
without an authenticator is sent to enrol one first."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.services import totp_device_confirm, totp_device_start
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
USERS = "/admin/accounts/user/"


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def _staff(email: str):
    return UserFactory(email=email, is_staff=True, is_superuser=True, password="Staff-Password-1")


def test_the_password_alone_never_opens_the_admin():
    staff = _staff("staff@billing-portal.example")
    device = totp_device_start(user=staff)
    totp_device_confirm(user=staff, device=device)
    client = Client()
    # The attack: Django's admin login form with the password alone.
    response = client.post("/admin/login/?next=/admin/accounts/user/",
                           {"username": staff.email, "password": "Staff-Password-1"})
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))
    assert client.get(USERS)["Location"].startswith("/admin/login/")
    # The portal's password step: still not in, the code is owed.
    response = client.post(f"{reverse('accounts:login')}?next={USERS}",
                           {"username": staff.email, "password": "Staff-Password-1"})
    assert response["Location"] == reverse("accounts:login_verify")
    assert client.get(USERS)["Location"].startswith("/admin/login/")
    # With the code: the admin opens, and shows the users.
    response = client.post(reverse("accounts:login_verify"), {"otp_token": _code(device)})
    assert response["Location"] == USERS
    page = client.get(USERS)
    assert page.status_code == 200 and staff.email in page.content.decode()


def test_a_session_that_skipped_the_code_is_asked_for_it():
    """A session logged in without the code (e.g. through single sign-on) is asked for one before the admin."""
    staff = _staff("ops@billing-portal.example")
    device = totp_device_start(user=staff)
    totp_device_confirm(user=staff, device=device)
    client = Client()
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(USERS)["Location"].startswith("/admin/login/")
    step = client.get(f"/admin/login/?next={USERS}")["Location"]
    assert step.startswith(reverse("accounts:two_factor_setup"))
    assert client.get(USERS).status_code == 302
    assert client.post(step, {"otp_token": _code(device)})["Location"] == USERS
    assert client.get(USERS).status_code == 200


def test_staff_without_an_authenticator_enrol_first_then_reach_the_admin():
    staff = _staff("new@billing-portal.example")
    client = Client()
    response = client.post(f"{reverse('accounts:login')}?next=/admin/",
                           {"username": staff.email, "password": "Staff-Password-1"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    setup = client.get("/admin/login/?next=/admin/")["Location"]
    assert setup.startswith(reverse("accounts:two_factor_setup"))
    page = client.get(setup)
    assert page.status_code == 200 and re.search(rb"<svg|data:image/svg", page.content)
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    assert client.post(setup, {"otp_token": _code(device)})["Location"] == reverse("accounts:recovery_codes")
    codes_page = client.get(reverse("accounts:recovery_codes")).content.decode()
    assert 'href="/admin/"' in codes_page  # "Continue" leads back to the admin
    assert client.get("/admin/").status_code == 200


def test_a_signed_in_member_who_is_not_staff_is_not_let_in():
    member = UserFactory(email="pat@acme.example", password="Staff-Password-1")
    client = Client()
    client.force_login(member, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 200 and b"not authorized" in page.content
