"""Writes for a user's own account: their language, and their sign-in security (the TOTP authenticator and the
recovery codes)."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import transaction
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

RECOVERY_CODE_COUNT = 10


@transaction.atomic
def user_language_set(*, user, language: str):
    """Save the language the portal and its emails use for `user` ("" clears it). Unknown codes are refused."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user


def _recovery_code() -> str:
    # 10 lower-case base-32 characters (50 bits) shown as two groups of five; typed with or without the dash.
    raw = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


@transaction.atomic
def totp_device_start(*, user) -> TOTPDevice:
    """The user's authenticator being set up: an unconfirmed TOTP device with a fresh secret, reused until it
    is confirmed (reloading the setup page shows the same QR code)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@transaction.atomic
def totp_device_confirm(*, user, device: TOTPDevice) -> list[str]:
    """Turn two-factor on once the user proved the device with a code: the device is confirmed, any other
    authenticator is removed, and a fresh set of recovery codes is returned (shown once; stored only here)."""
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return recovery_codes_regenerate(user=user)


@transaction.atomic
def recovery_codes_regenerate(*, user) -> list[str]:
    """Replace the user's recovery codes with ten new ones; the old ones stop working."""
    static, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes", defaults={"confirmed": True})
    StaticToken.objects.filter(device=static).delete()
    codes = [_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    # Stored without the dash: django-otp compares the typed token as given, and the form strips spaces only.
    StaticToken.objects.bulk_create([StaticToken(device=static, token=code.replace("-", "")) for code in codes])
    return codes


@transaction.atomic
def two_factor_disable(*, user) -> int:
    """Remove every second factor of the user (authenticator and recovery codes). Returns how many devices went."""
    devices = TOTPDevice.objects.filter(user=user).count() + StaticDevice.objects.filter(user=user).count()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()  # its recovery codes go with it
    return devices
