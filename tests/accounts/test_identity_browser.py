"""In Chromium: password reset from the emailed link, and two-factor enrolment (an organization requires it)
followed by a login with the code and one with a recovery code."""

import re

import pytest
from django.core import mail
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.identity.services import two_factor_requirement_set
from apps.organizations.models import Role
from tests.conftest import login, screenshot
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _current_code(email: str) -> str:
    device = TOTPDevice.objects.get(user__email=email, confirmed__in=[True, False])
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_password_reset_through_the_emailed_link(page):
    member(OrganizationFactory(slug="acme"), email="pat@acme.example")
    mail.outbox = []
    page.goto("/accounts/login/")
    page.click("text=Forgot your password?")
    page.fill("input[name=email]", "pat@acme.example")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Check your email")
    link = re.search(r"https?://\S+/accounts/password/reset/\S+", mail.outbox[0].body).group(0)
    page.goto(link)
    page.fill("input[name=new_password1]", "Ledger-Horse-7731")
    page.fill("input[name=new_password2]", "Ledger-Horse-7731")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your new password is set.")
    screenshot(page, "password_reset_done")
    login(page, "pat@acme.example", "Ledger-Horse-7731")
    assert "/orgs/acme/" in page.url
    page.goto(link)
    assert page.is_visible("text=This link no longer works")


def test_required_two_factor_enrolment_then_login_with_code_and_recovery_code(page):
    org = OrganizationFactory(slug="acme", name="Acme")
    owner = member(org, email="owner@acme.example", role=Role.PRIMARY_OWNER)
    member(org, email="pat@acme.example")
    two_factor_requirement_set(organization=org, required=True, actor=owner.user)

    login(page, "pat@acme.example")
    page.wait_for_selector("text=Acme requires two-factor authentication")
    screenshot(page, "two_factor_setup")
    page.fill("input[name=otp_token]", _current_code("pat@acme.example"))
    page.click("text=Turn on two-factor")
    codes = page.locator("[data-testid=recovery-codes] code").all_inner_texts()
    assert len(codes) == 10
    page.click("text=I have saved my codes")
    page.wait_for_url(re.compile(r"/orgs/acme/"))

    page.click("details.account-menu summary")  # the header's account menu holds "Log out"
    page.click("text=Log out")
    login(page, "pat@acme.example")
    page.wait_for_selector("text=Enter the 6-digit code")
    screenshot(page, "two_factor_login")
    page.fill("input[name=otp_token]", codes[0])  # the phone is lost: a recovery code
    page.click("text=Verify")
    page.wait_for_url(re.compile(r"/orgs/acme/"))
    assert page.is_visible("text=pat@acme.example")

    page.click("details.account-menu summary")  # the header's account menu holds "Log out"
    page.click("text=Log out")
    login(page, "pat@acme.example")
    page.fill("input[name=otp_token]", codes[0])  # each recovery code works once
    page.click("text=Verify")
    page.wait_for_selector("text=That code is not valid")
    assert "/accounts/login/verify/" in page.url
