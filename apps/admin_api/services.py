"""Writes of the Admin API: its keys, and the few writes the API makes beyond the shared services.

Every spend-limit or increase-request write made through the API goes through the same services as the owner
pages (`usage.services.cap_set` / `cap_delete`, `extra_usage.services.extra_usage_request_*`), so it gets the
same validation, the same audit rows and the same emails. The audit actor of an API write is the key,
labelled `apikey:<public id>`.
"""

from __future__ import annotations

import datetime as dt
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.common.ids import api_key_digest
from apps.organizations.models import Organization
from apps.organizations.services import audit_record
from apps.usage.models import CapScope, SpendCap
from apps.usage.services import cap_set

from .models import AdminApiKey, AdminScope

# Shaped like the published Admin API's keys so scripts that sniff the prefix keep working.
ADMIN_KEY_PREFIX = "sk-ant-admin01-"
ADMIN_KEY_MAX_NAME = 100


def actor_label_for(key: AdminApiKey) -> str:
    """How an API write by this key is named in the audit trail."""
    return f"apikey:{key.public_id}"


def scopes_validate(scopes) -> list[str]:
    """At least one known scope, de-duplicated, in the canonical order (read, then write)."""
    chosen = set(scopes or [])
    unknown = chosen - set(AdminScope.values)
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope: {', '.join(sorted(unknown))}."})
    if not chosen:
        raise ValidationError({"scopes": "Choose at least one scope."})
    return [s for s in AdminScope.values if s in chosen]


@transaction.atomic
def admin_api_key_create(*, organization: Organization, name: str, scopes, actor=None,
                         now: dt.datetime) -> tuple[AdminApiKey, str]:
    """Create an Admin API key for an Enterprise organization. Returns the row and the raw key, which is never
    stored nor shown again. Audited (`admin_api_key.create`)."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Enter a name to recognise the key by."})
    if len(name) > ADMIN_KEY_MAX_NAME:
        raise ValidationError({"name": f"Use at most {ADMIN_KEY_MAX_NAME} characters."})
    if not organization.is_enterprise:
        raise ValidationError({"organization": "The Admin API is offered on Enterprise plans only."})
    scopes = scopes_validate(scopes)
    raw = ADMIN_KEY_PREFIX + secrets.token_urlsafe(32)
    key = AdminApiKey.objects.create(
        organization=organization, name=name, scopes=scopes, prefix=raw[: len(ADMIN_KEY_PREFIX) + 6],
        digest=api_key_digest(raw), created_by=actor if getattr(actor, "pk", None) else None,
        created_at=now,
    )
    audit_record(organization=organization, actor=actor, action="admin_api_key.create", target=key.public_id,
                 new={"name": name, "scopes": scopes}, now=now)
    return key, raw


@transaction.atomic
def admin_api_key_revoke(*, key: AdminApiKey, actor=None, now: dt.datetime) -> AdminApiKey:
    """Revoke a key; it is refused from the next request on. Revoking twice changes nothing (one audit row)."""
    key = AdminApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        return key
    key.revoked_at = now
    key.save(update_fields=["revoked_at"])
    audit_record(organization=key.organization, actor=actor, action="admin_api_key.revoke",
                 target=key.public_id, old={"name": key.name}, now=now)
    return key


def admin_api_key_touch(*, key: AdminApiKey, now: dt.datetime) -> None:
    """Record that the key was used, at most once a minute (so a busy script does not write on every call)."""
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        AdminApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now


def organization_cap_ensure(*, organization: Organization, now: dt.datetime) -> SpendCap:
    """The organization's cap row, created unlimited if the organization has none yet.

    The Admin API names a row for every member's effective limit (`spend_limit_id`), also when no cap applies
    at any level: then it is the organization row with `amount: null`. Creating it changes no limit, so
    `cap_set` writes no audit row for it.
    """
    existing = SpendCap.objects.filter(organization=organization, scope=CapScope.ORGANIZATION).first()
    if existing is not None:
        return existing
    try:
        return cap_set(organization=organization, scope=CapScope.ORGANIZATION, amount=None, actor=None,
                       actor_label="system", now=now)
    except IntegrityError:  # a concurrent request created it first (one org row per org is a unique index)
        return SpendCap.objects.get(organization=organization, scope=CapScope.ORGANIZATION)
