"""Reads for organizations and memberships."""

from __future__ import annotations

import datetime as dt
import functools

from django.db import connection
from django.db.models import Q, QuerySet
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


def audit_entries(*, organization: Organization, kind: str = "", actor: str = "",
                  since: dt.datetime | None = None, before: dt.datetime | None = None) -> QuerySet[AuditEntry]:
    """The organization's audit trail, newest first, optionally narrowed to one family of actions (`kind`, the
    action's first dotted part: "cap" matches "cap.member"), an actor (their email or label, case-insensitive,
    exact) and a time span [since, before)."""
    entries = AuditEntry.objects.filter(organization=organization)
    if kind:
        entries = entries.filter(Q(action=kind) | Q(action__startswith=f"{kind}."))
    if actor:
        entries = entries.filter(actor_label__iexact=actor)
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    if before is not None:
        entries = entries.filter(created_at__lt=before)
    return entries.select_related("actor")


def audit_actors(*, organization: Organization) -> list[str]:
    """Everyone who appears as the actor of an audit entry of the organization (for the filter), sorted."""
    return sorted(AuditEntry.objects.filter(organization=organization).order_by()
                  .values_list("actor_label", flat=True).distinct(), key=str.lower)
