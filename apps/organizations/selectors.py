"""Reads for organizations and memberships."""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from apps.common.sql import JoinedRow, prepared_fetchone

from .models import ApiKey, AuditEntry, Membership, Organization
from .services import API_KEY_MAX_LENGTH, api_key_digest, api_key_mark_used_if_stale


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching a raw key, with its organization, or None. Marks the key used (at most once a
    minute). One prepared statement on PostgreSQL: every machine API request starts here."""
    if not raw_key or len(raw_key) > API_KEY_MAX_LENGTH:
        return None
    digest = api_key_digest(raw_key)
    if connection.vendor == "postgresql":
        layout = _key_row()
        row = prepared_fetchone(
            f"SELECT {layout.select_list} FROM organizations_apikey k JOIN organizations_organization o "
            "ON o.id = k.organization_id WHERE k.digest = %(digest)s AND k.revoked_at IS NULL",
            {"digest": digest},
        )
        if row is None:
            return None
        key = layout.load(row, "k")
        key.organization = layout.load(row, "o")
    else:
        key = ApiKey.objects.select_related("organization").filter(digest=digest, revoked_at__isnull=True).first()
        if key is None:
            return None
    api_key_mark_used_if_stale(key=key, now=timezone.now())
    return key


@functools.cache
def _key_row() -> JoinedRow:
    return JoinedRow([("k", ApiKey), ("o", Organization)])


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


def invoice_language_for(organization: Organization) -> str:
    """The language an organization's invoice page, PDF and CSV headers are written in (one of
    settings.LANGUAGES), e.g. `with translation.override(invoice_language_for(org)): …`."""
    return organization.invoice_language or organization.default_language or "en"


def recipient_language(*, user, organization: Organization | None) -> str:
    """The language an email to `user` about `organization` is written in: their saved preference, else the
    organization's default, else English (an email has no browser to ask)."""
    return getattr(user, "language", "") or (organization.default_language if organization else "") or "en"
