"""Reads about a user's sign-in security."""

from __future__ import annotations

from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice


def two_factor_enabled(*, user) -> bool:
    """Whether the user has a confirmed authenticator: their password alone no longer signs them in."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(*, user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()
