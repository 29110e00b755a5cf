"""Writes for seats: default tiers, assignment, and tier changes (with the immediate upgrade charge)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from djmoney.money import Money

from apps.organizations.models import Membership, Organization
from apps.organizations.services import audit_record, membership_access_end

from .defaults import DEFAULT_TIERS
from .models import SeatAssignment, SeatCharge, SeatTier
from .selectors import seat_change_proration


@transaction.atomic
def seat_tiers_create_defaults(*, organization: Organization) -> list[SeatTier]:
    """Give an organization its plan's default tiers (idempotent: existing tiers are kept as they are)."""
    tiers = []
    for position, (code, fee, included, products) in enumerate(DEFAULT_TIERS[organization.plan_kind]):
        tier, _ = SeatTier.objects.get_or_create(
            organization=organization,
            code=code,
            defaults={
                "monthly_fee": Money(fee, organization.currency),
                "included_usage": Money(included, organization.currency),
                "products": [str(p) for p in products],
                "position": position,
            },
        )
        tiers.append(tier)
    return tiers


@transaction.atomic
def seat_assign(*, membership: Membership, tier: SeatTier | None, actor=None, now: dt.datetime,
                charge_upgrade: bool = True, actor_label: str | None = None) -> SeatAssignment | None:
    """Put a member on a tier from `now` (or take their seat away with tier=None).

    The current interval is closed at `now` and a new one opened, so the seat history stays a gapless record
    for invoicing. Moving to a costlier tier mid-period charges the prorated difference at once (SeatCharge),
    and the invoice shows that charge as its own line. Writes an audit row. Choosing the current tier again
    changes nothing.
    """
    organization = membership.organization
    if tier is not None and tier.organization_id != organization.pk:
        raise ValidationError({"tier": "That tier belongs to another organization."})
    # Lock the member's row so two concurrent changes cannot both close the same interval.
    Membership.objects.select_for_update().filter(pk=membership.pk).first()
    current = (
        SeatAssignment.objects.select_for_update()
        .select_related("tier")
        .filter(membership=membership, ended_at__isnull=True)
        .first()
    )
    if current is not None and tier is not None and current.tier_id == tier.pk:
        return current
    if current is None and tier is None:
        return None

    if current is not None:
        current.ended_at = now
        current.save(update_fields=["ended_at"])
    new_assignment = None
    if tier is not None:
        new_assignment = SeatAssignment.objects.create(
            organization=organization, membership=membership, tier=tier, started_at=now
        )
        if current is not None and charge_upgrade:
            proration = seat_change_proration(
                organization=organization, from_tier=current.tier, to_tier=tier, now=now
            )
            if proration.amount > 0:
                SeatCharge.objects.create(
                    organization=organization,
                    membership=membership,
                    from_tier=current.tier,
                    to_tier=tier,
                    period_start=proration.period_start,
                    amount=Money(proration.amount, organization.currency),
                    remaining_days=proration.remaining_days,
                    period_days=proration.period_days,
                    created_at=now,
                )
    audit_record(
        organization=organization,
        actor=actor,
        actor_label=actor_label,
        action="seat.change",
        target=membership.user.email,
        old=current.tier.code if current else None,
        new=tier.code if tier else None,
        now=now,
    )
    return new_assignment


@transaction.atomic
def membership_remove(*, membership: Membership, now: dt.datetime, actor_membership: Membership | None = None,
                      actor_label: str | None = None) -> Membership:
    """Remove a member: access ends at `now` (organizations.services.membership_access_end states who may remove
    whom: an owner, or a system the owners authorized, named by `actor_label`) and their seat interval closes at
    the same moment, so the seat is billed up to then and no later. Every removal goes through here, whatever
    asked for it (the Members page, SCIM, an admin script)."""
    membership = membership_access_end(membership=membership, actor_membership=actor_membership,
                                       actor_label=actor_label, now=now)
    seat_assign(membership=membership, tier=None, actor=actor_membership.user if actor_membership else None,
                actor_label=actor_label, now=now)
    return membership
