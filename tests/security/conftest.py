"""Shared by the issue-26 attack tests: sign in as the primary owner with password and TOTP."""

import datetime as dt

import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp

from apps.accounts.services import totp_device_confirm, totp_device_start

PASSWORD = "demo-password"  # tests.factories.UserFactory's


def enrol_totp(user):
    device = totp_device_start(user=user)
    totp_device_confirm(user=user, device=device)
    device.refresh_from_db()
    return device


class BreakGlass:
    """Logs the primary owner in with the password and a fresh TOTP code. Each check runs a few time steps later
    than the one before (time_machine), since django-otp refuses a code whose time step was already used."""

    def __init__(self, email: str, device):
        self.email, self.device = email, device
        self.base = timezone.now()
        self.checks = 0

    def signs_in(self) -> bool:
        self.checks += 1
        with time_machine.travel(self.base + dt.timedelta(minutes=2 * self.checks), tick=False):
            client = Client()
            first = client.post(reverse("accounts:login"), {"username": self.email, "password": PASSWORD})
            if first.status_code != 302 or first["Location"] != reverse("accounts:login_verify"):
                return False
            device = self.device
            device.refresh_from_db()
            code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
            second = client.post(reverse("accounts:login_verify"), {"otp_token": code})
            if second.status_code != 302:
                return False
            security = client.get(reverse("accounts:security"))
            return security.status_code == 200 and security.wsgi_request.user.email == self.email \
                and security.wsgi_request.user.is_verified()
