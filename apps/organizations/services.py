"""Writes for organizations, memberships, the audit trail and machine API keys."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from .models import ApiKey, AuditEntry, Membership, Organization, Role

API_KEY_PREFIX = "bp_live_"


def audit_record(
    *,
    organization: Organization,
    actor=None,
    actor_label: str | None = None,
    action: str,
    target: str = "",
    old: Any = None,
    new: Any = None,
    now=None,
) -> AuditEntry:
    """Write one audit row. Call it inside the transaction of the change it records."""
    return AuditEntry.objects.create(
        organization=organization,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        actor_label=actor_label or (actor.email if actor is not None else "system"),
        action=action,
        target=target,
        old_value=old,
        new_value=new,
        created_at=now or timezone.now(),
    )


def api_key_digest(raw_key: str) -> str:
    # Keys carry 240 bits of randomness, so a fast unsalted digest is enough and keeps the hot path cheap.
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(*, organization: Organization, name: str, actor=None) -> tuple[ApiKey, str]:
    """Create a machine API key. Returns the row and the raw key, which is never stored nor shown again."""
    raw = API_KEY_PREFIX + secrets.token_urlsafe(30)
    key = ApiKey.objects.create(
        organization=organization, name=name, prefix=raw[: len(API_KEY_PREFIX) + 4], digest=api_key_digest(raw)
    )
    audit_record(
        organization=organization, actor=actor, action="api_key.create", target=key.public_id, new={"name": name}
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor=None, now=None) -> ApiKey:
    """Revoke a key; it is refused from the next request on. Revoking twice changes nothing."""
    if key.revoked_at is not None:
        return key
    key.revoked_at = now or timezone.now()
    key.save(update_fields=["revoked_at"])
    audit_record(organization=key.organization, actor=actor, action="api_key.revoke", target=key.public_id)
    return key


@transaction.atomic
def organization_create(
    *, name: str, slug: str, plan_kind: str, billing_timezone: str = "UTC", primary_owner=None
) -> Organization:
    """Create an organization and its primary owner. Seat tiers come from seats.services.seat_tiers_create_defaults."""
    organization = Organization.objects.create(
        name=name, slug=slug, plan_kind=plan_kind, billing_timezone=billing_timezone
    )
    if primary_owner is not None:
        Membership.objects.create(organization=organization, user=primary_owner, role=Role.PRIMARY_OWNER)
    return organization
