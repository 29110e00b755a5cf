"""Writes for user accounts."""

from django.conf import settings
from django.db import transaction

from .models import User


@transaction.atomic
def user_language_set(*, user: User, language: str) -> User:
    """Save the language the portal and its emails use for `user` ("" clears it). Unknown codes are refused."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValueError(f"unsupported language {language!r}")
    if user.language != language:
        user.language = language
        user.save(update_fields=["language"])
    return user
