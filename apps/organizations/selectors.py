"""Reads for organizations and memberships."""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .models import ApiKey, AuditEntry, Membership, Organization
from .services import api_key_digest


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching a raw key, with its organization, or None. Marks the key used (at most once a
    minute, so the hot path does not write on every request)."""
    if not raw_key or len(raw_key) > 200:
        return None
    key = ApiKey.objects.select_related("organization").filter(digest=api_key_digest(raw_key)).first()
    if key is None or key.revoked_at is not None:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        _mark_used(key, now)
    return key


def _mark_used(key: ApiKey, now) -> None:
    """Record the use without waiting for the WAL flush: `last_used_at` is a hint for the key list, so losing
    the last second of it in a crash is harmless, while a synchronous commit on a request that otherwise only
    reads costs a disk flush (make bench: most admissions across many keys paid one)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


def memberships_for_user(*, user) -> QuerySet[Membership]:
    return (
        Membership.objects.active().filter(user=user).select_related("organization").order_by("organization__name")
    )


def membership_by_email(*, organization: Organization, email: str) -> Membership | None:
    return (
        Membership.objects.active()
        .select_related("user")
        .filter(organization=organization, user__email=email.strip().lower())
        .first()
    )


def audit_entries(*, organization: Organization) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(organization=organization).select_related("actor")
