"""The owners' switches for extra usage, and the locked settings row the other extra-usage services change.

Every change writes an audit row (old → new) in its transaction and returns early when nothing changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.common.money import ZERO
from apps.organizations.models import Membership, Organization, PlanKind
from apps.organizations.services import audit_record

from ..models import ExtraUsageSettings, MemberExtraUsage


def settings_locked(organization: Organization) -> ExtraUsageSettings:
    ExtraUsageSettings.objects.get_or_create(organization=organization)
    return ExtraUsageSettings.objects.select_for_update().get(organization=organization)


def jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    return value


def settings_change(*, organization: Organization, changes: dict, action: str, actor, now: dt.datetime,
                     actor_label: str | None = None) -> ExtraUsageSettings:
    """Apply field changes to the locked settings row; audit old → new; no write when nothing changes."""
    row = settings_locked(organization)
    old = {name: jsonable(getattr(row, name)) for name in changes}
    new = {name: jsonable(value) for name, value in changes.items()}
    if old == new:
        return row
    for name, value in changes.items():
        setattr(row, name, value)
    row.save(update_fields=[*changes, "updated_at"])
    audit_record(organization=organization, actor=actor, actor_label=actor_label, action=action,
                 target="organization", old=old, new=new, now=now)
    return row


def _seat_based_only(organization: Organization) -> None:
    if not organization.is_seat_based:
        raise ValidationError(
            "Usage-based Enterprise has no included usage and no extra usage: all usage is pooled spend under "
            "the spend limits.", code="not_offered",
        )


@transaction.atomic
def extra_usage_enable(*, organization: Organization, actor=None, now: dt.datetime) -> ExtraUsageSettings:
    """Turn extra usage on: members past their included usage continue, within the caps (which are kept as
    configured while it was off). A Team organization must hold a prepaid balance first."""
    _seat_based_only(organization)
    row = settings_locked(organization)
    if organization.plan_kind == PlanKind.TEAM and not row.enabled and row.prepaid_balance <= ZERO:
        raise ValidationError("Buy prepaid extra usage before turning extra usage on.", code="prepaid_required")
    return settings_change(organization=organization, changes={"enabled": True}, action="extra_usage.enable",
                            actor=actor, now=now)


@transaction.atomic
def extra_usage_disable(*, organization: Organization, actor=None, now: dt.datetime) -> ExtraUsageSettings:
    """Turn extra usage off: members stop at their included usage until the next period. Caps, member switches
    and the prepaid balance are kept, so turning it back on restores everything."""
    _seat_based_only(organization)
    return settings_change(organization=organization, changes={"enabled": False}, action="extra_usage.disable",
                            actor=actor, now=now)


@transaction.atomic
def extra_usage_members_choose(*, organization: Organization, all_members: bool, actor=None,
                               now: dt.datetime) -> ExtraUsageSettings:
    """Extra usage for every member (True) or only for members switched on one by one (False)."""
    _seat_based_only(organization)
    return settings_change(organization=organization, changes={"all_members": bool(all_members)},
                            action="extra_usage.members", actor=actor, now=now)


def member_switch(*, membership: Membership, enabled: bool, actor, now: dt.datetime,
                   actor_label: str | None = None) -> MemberExtraUsage:
    row, _ = MemberExtraUsage.objects.get_or_create(membership=membership)
    row = MemberExtraUsage.objects.select_for_update().get(pk=row.pk)
    if row.enabled == enabled:
        return row
    old = row.enabled
    row.enabled = enabled
    row.save(update_fields=["enabled", "updated_at"])
    audit_record(organization=membership.organization, actor=actor, actor_label=actor_label,
                 action="extra_usage.member", target=membership.user.email, old=old, new=enabled, now=now)
    return row


@transaction.atomic
def member_extra_usage_set(*, membership: Membership, enabled: bool, actor=None,
                           now: dt.datetime) -> MemberExtraUsage:
    """Switch extra usage on or off for one member (it counts when the organization chose "chosen members")."""
    _seat_based_only(membership.organization)
    return member_switch(membership=membership, enabled=bool(enabled), actor=actor, now=now)


@transaction.atomic
def extra_usage_requests_set(*, organization: Organization, enabled: bool, actor=None,
                             now: dt.datetime) -> ExtraUsageSettings:
    """Allow or refuse new requests for extra usage. Pending requests stay reviewable either way."""
    if not organization.is_enterprise:
        raise ValidationError("Requests for extra usage are offered on Enterprise plans.", code="not_offered")
    return settings_change(organization=organization, changes={"requests_enabled": bool(enabled)},
                            action="extra_usage.requests", actor=actor, now=now)
