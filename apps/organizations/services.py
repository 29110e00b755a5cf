"""Writes for organizations, memberships, the audit trail and machine API keys."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts.models import User
from apps.common.ids import API_KEY_MAX_LENGTH, api_key_digest
from apps.common.sql import JoinedRow, prepared_fetchone

from .models import ApiKey, AuditEntry, Invitation, Membership, Organization, Role

API_KEY_PREFIX = "bp_live_"
# `last_used_at` is a hint for the key list, refreshed at most this often so the hot path does not write on
# every request.
API_KEY_USED_RESOLUTION = dt.timedelta(seconds=60)


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
    """Write one audit row, in the transaction of the change it records: the change and its record commit or
    roll back together. Refused (RuntimeError) outside a transaction, as Zulip's audited actions are."""
    if not _in_own_transaction():
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
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


def _in_own_transaction() -> bool:
    """Whether an atomic block opened by the code (not only a test case's wrapping transaction) is active."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def api_key_mark_used_if_stale(*, key: ApiKey, now: dt.datetime) -> None:
    """Record that the key was used, unless that was recorded less than a minute ago.

    The write does not wait for the WAL flush: losing the last second of a usage hint in a crash is harmless,
    while a synchronous commit on a request that otherwise only reads costs a disk flush (make bench: most
    admissions across many keys paid one)."""
    if key.last_used_at is not None and now - key.last_used_at <= API_KEY_USED_RESOLUTION:
        return
    key.last_used_at = now
    if connection.in_atomic_block:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return
    # One statement, its own transaction (autocommit): set_config(…, true) turns synchronous commit off for
    # that transaction only, so no separate BEGIN / SET LOCAL / COMMIT round trips.
    prepared_fetchone(
        "WITH async AS (SELECT set_config('synchronous_commit', 'off', true)) "
        "UPDATE organizations_apikey SET last_used_at = %(now)s FROM async WHERE id = %(id)s RETURNING id",
        {"now": now, "id": key.pk},
    )


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching a raw key, with its organization, or None; a write because it marks the key used
    (at most once a minute). One prepared statement: every machine API request starts here."""
    if not raw_key or len(raw_key) > API_KEY_MAX_LENGTH:
        return None
    digest = api_key_digest(raw_key)
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
    api_key_mark_used_if_stale(key=key, now=timezone.now())
    return key


@functools.cache
def _key_row() -> JoinedRow:
    return JoinedRow([("k", ApiKey), ("o", Organization)])


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


# --- Members: invitations, roles, the primary owner, removal -------------------------------------------------

INVITATION_TTL_DAYS = 7
INVITABLE_ROLES = (Role.MEMBER, Role.ADMIN, Role.OWNER)


def invitation_token_digest(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def _require_owner(actor_membership: Membership, organization: Organization) -> None:
    if actor_membership.organization_id != organization.pk or actor_membership.role not in (
        Role.OWNER, Role.PRIMARY_OWNER
    ) or actor_membership.removed_at is not None:
        raise PermissionDenied("Only owners manage members.")


@transaction.atomic
def invitation_create(*, organization: Organization, email: str, role: str = Role.MEMBER, seat_tier_code: str = "",
                      actor_membership: Membership, now) -> tuple[Invitation, str]:
    """Invite an email address to the organization. Returns the invitation and the raw token for the link,
    which is stored only as a digest.

    Rules: owners invite; only the primary owner may invite an owner; nobody is invited as primary owner;
    a current member is not invited again; inviting an address again revokes its earlier pending invitation.
    """
    _require_owner(actor_membership, organization)
    email = (email or "").strip().lower()
    if not email:
        raise ValidationError({"email": "Enter an email address."})
    if role not in INVITABLE_ROLES:
        raise ValidationError({"role": "Choose member, admin or owner."})
    if role == Role.OWNER and actor_membership.role != Role.PRIMARY_OWNER:
        raise ValidationError({"role": "Only the primary owner can make someone an owner."})
    if Membership.objects.active().filter(organization=organization, user__email__iexact=email).exists():
        raise ValidationError({"email": "This person is already a member."})
    Invitation.objects.filter(
        organization=organization, email=email, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    raw = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        organization=organization, email=email, role=role, seat_tier_code=seat_tier_code,
        token_digest=invitation_token_digest(raw), invited_by=actor_membership.user, created_at=now,
        expires_at=now + dt.timedelta(days=INVITATION_TTL_DAYS),
    )
    audit_record(organization=organization, actor=actor_membership.user, action="member.invite", target=email,
                 new={"role": role, "seat_tier": seat_tier_code or None}, now=now)
    return invitation, raw


def invitation_for_token(*, raw_token: str) -> Invitation | None:
    """The invitation behind a link's token (whatever its state), or None."""
    if not raw_token or len(raw_token) > 200:
        return None
    return (
        Invitation.objects.select_related("organization")
        .filter(token_digest=invitation_token_digest(raw_token))
        .first()
    )


@transaction.atomic
def invitation_accept(*, raw_token: str, user=None, name: str = "", password: str = "", now) -> Membership:
    """Accept an invitation: single use, before it expires. Without a `user` the account is created for the
    invited address (name and password given); with one, the user must be the invited address. The membership
    is created, or a removed member's row is reactivated (their history stays attached to it)."""
    invitation = (
        Invitation.objects.select_for_update()
        .select_related("organization")
        .filter(token_digest=invitation_token_digest(raw_token or ""))
        .first()
    )
    if invitation is None or not invitation.is_pending(now):
        raise ValidationError({"token": "This invitation link is no longer valid."})
    if user is None:
        if User.objects.filter(email__iexact=invitation.email).exists():
            raise ValidationError({"email": "An account already exists for this address: log in to accept."})
        if not password or len(password) < 8:
            raise ValidationError({"password": "Choose a password of at least 8 characters."})
        user = User.objects.create_user(invitation.email, password=password, name=name.strip()[:150])
    elif user.email.lower() != invitation.email.lower():
        raise ValidationError({"email": f"This invitation is for {invitation.email}."})
    organization = invitation.organization
    membership = Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    if membership is not None and membership.removed_at is None:
        raise ValidationError({"email": "You are already a member of this organization."})
    if membership is None:
        membership = Membership.objects.create(organization=organization, user=user, role=invitation.role)
    else:
        membership.role, membership.removed_at = invitation.role, None
        membership.save(update_fields=["role", "removed_at"])
    invitation.accepted_at, invitation.accepted_by = now, user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    audit_record(organization=organization, actor=user, action="member.join", target=user.email,
                 new={"role": invitation.role}, now=now)
    return membership


@transaction.atomic
def membership_role_set(*, membership: Membership, role: str, actor_membership: Membership, now) -> Membership:
    """Change a member's role. Owners change admins' and members' roles; only the primary owner makes someone
    an owner or changes an owner's role. The primary owner's role moves only by `primary_owner_transfer`
    (choosing primary_owner here transfers it), so the organization is never without one."""
    organization = membership.organization
    _require_owner(actor_membership, organization)
    if role == Role.PRIMARY_OWNER:
        return primary_owner_transfer(to_membership=membership, actor_membership=actor_membership, now=now)
    if role not in INVITABLE_ROLES:
        raise ValidationError({"role": "Choose member, admin or owner."})
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.removed_at is not None or membership.organization_id != organization.pk:
        raise ValidationError({"membership": "Choose a member of this organization."})
    if membership.role == Role.PRIMARY_OWNER:
        raise ValidationError({"role": "Transfer the primary owner role to someone else first."})
    if (role == Role.OWNER or membership.role == Role.OWNER) and actor_membership.role != Role.PRIMARY_OWNER:
        raise ValidationError({"role": "Only the primary owner can make someone an owner or change an owner's role."})
    if membership.pk == actor_membership.pk:
        raise ValidationError({"role": "You cannot change your own role."})
    old = membership.role
    if old == role:
        return membership
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(organization=organization, actor=actor_membership.user, action="member.role",
                 target=membership.user.email, old=old, new=role, now=now)
    return membership


@transaction.atomic
def primary_owner_transfer(*, to_membership: Membership, actor_membership: Membership, now) -> Membership:
    """Make another member the primary owner; only the primary owner may. The previous primary owner becomes
    an owner in the same transaction (demoted first: the database allows one primary owner per organization)."""
    organization = to_membership.organization
    locked = {
        m.pk: m for m in Membership.objects.select_for_update().filter(
            pk__in=[to_membership.pk, actor_membership.pk]
        )
    }
    current, target = locked.get(actor_membership.pk), locked.get(to_membership.pk)
    if current is None or current.role != Role.PRIMARY_OWNER or current.organization_id != organization.pk:
        raise ValidationError({"role": "Only the primary owner can transfer the primary owner role."})
    if target is None or target.removed_at is not None or target.organization_id != organization.pk:
        raise ValidationError({"membership": "Choose a member of this organization."})
    if target.pk == current.pk:
        return current
    old_role = target.role
    current.role = Role.OWNER
    current.save(update_fields=["role"])
    target.role = Role.PRIMARY_OWNER
    target.save(update_fields=["role"])
    audit_record(organization=organization, actor=current.user, action="member.primary_owner",
                 target=target.user.email, old={"primary_owner": current.user.email, "role": old_role},
                 new={"primary_owner": target.user.email}, now=now)
    return target


@transaction.atomic
def membership_access_end(*, membership: Membership, now, actor_membership: Membership | None = None,
                          actor_label: str | None = None) -> Membership:
    """End a member's access (the organizations half of removing a member): they lose access at once; the row
    stays for their usage, seat history and invoices. The primary owner cannot be removed (transfer the role
    first). A person (`actor_membership`) must be an owner; only the primary owner removes an owner; nobody
    removes themselves here. A system the owners authorized (`actor_label`, e.g. a SCIM token of the
    organization) removes anyone but the primary owner.

    Remove members with seats.services.membership_remove, which calls this and closes the seat in the same
    transaction (seats sit above organizations, so this function cannot): ending access alone would leave a
    billed seat open."""
    organization = membership.organization
    if actor_membership is None and not actor_label:
        raise ValueError("a removal names who asked for it: an owner's membership or an authorized system")
    if actor_membership is not None:
        _require_owner(actor_membership, organization)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if membership.organization_id != organization.pk or membership.removed_at is not None:
        raise ValidationError({"membership": "Choose a member of this organization."})
    if membership.role == Role.PRIMARY_OWNER:
        raise ValidationError({"membership": "The primary owner cannot be removed."})
    if actor_membership is not None:
        if membership.role == Role.OWNER and actor_membership.role != Role.PRIMARY_OWNER:
            raise ValidationError({"membership": "Only the primary owner can remove an owner."})
        if membership.pk == actor_membership.pk:
            raise ValidationError({"membership": "You cannot remove yourself."})
    membership.removed_at = now
    membership.save(update_fields=["removed_at"])
    audit_record(organization=organization, actor=actor_membership.user if actor_membership else None,
                 actor_label=actor_label, action="member.remove", target=membership.user.email,
                 old={"role": membership.role}, now=now)
    return membership


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor_membership: Membership, now) -> Invitation:
    """Withdraw a pending invitation: its link stops working at once. Revoking an accepted, expired or already
    revoked invitation changes nothing."""
    _require_owner(actor_membership, invitation.organization)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if not invitation.is_pending(now):
        return invitation
    invitation.revoked_at = now
    invitation.save(update_fields=["revoked_at"])
    audit_record(organization=invitation.organization, actor=actor_membership.user, action="member.invite.revoke",
                 target=invitation.email, old={"role": invitation.role}, now=now)
    return invitation


@transaction.atomic
def organization_languages_set(*, organization: Organization, default_language: str, invoice_language: str,
                               actor, now) -> Organization:
    """Owners' language choices: the default for people who chose none and whose browser asks for none of the
    five, and the invoice language (page, PDF, CSV headers). Audited (old → new of what changed); a save that
    changes nothing writes nothing."""
    from_settings = {code for code, _name in settings.LANGUAGES}
    if default_language not in from_settings or invoice_language not in from_settings:
        raise ValidationError(_("Choose one of the offered languages."))
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    old = {"default_language": locked.default_language, "invoice_language": locked.invoice_language}
    new = {"default_language": default_language, "invoice_language": invoice_language}
    changed = [name for name in new if old[name] != new[name]]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, new[name])
    locked.save(update_fields=changed)
    audit_record(organization=locked, actor=actor, action="organization.language", target="organization",
                 old={name: old[name] for name in changed}, new={name: new[name] for name in changed}, now=now)
    organization.default_language, organization.invoice_language = locked.default_language, locked.invoice_language
    return locked
