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
    for invoicing. Moving to a costlier tier mid-period charges the prorated difference at once (SeatCharge,
    less what this period's earlier upgrade charges already paid for the days ahead: seat_change_proration),
    and the invoice shows that charge as its own line. A downgrade charges nothing; the invoice bills each tier
    by the days held and credits every upgrade charge, so unused upgrade time comes back there (docs/billing.md,
    "Proration"). Writes an audit row, and one more stating the amount when it charges. Choosing the current
    tier again changes nothing.
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

    # What the change costs now, by this period's seat history and charges (the proration policy).
    proration = None
    if current is not None and tier is not None and charge_upgrade:
        proration = seat_change_proration(organization=organization, from_tier=current.tier, to_tier=tier,
                                          now=now, membership=membership)
    if current is not None:
        current.ended_at = now
        current.save(update_fields=["ended_at"])
    new_assignment = None
    charge = None
    if tier is not None:
        new_assignment = SeatAssignment.objects.create(
            organization=organization, membership=membership, tier=tier, started_at=now
        )
        if proration is not None and proration.amount > 0:
            charge = SeatCharge.objects.create(
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
    if charge is not None:
        audit_record(
            organization=organization,
            actor=actor,
            actor_label=actor_label,
            action="seat.charge",
            target=membership.user.email,
            old=None,
            new={"amount": str(proration.amount), "from": current.tier.code, "to": tier.code,
                 "remaining_days": proration.remaining_days, "period_days": proration.period_days,
                 "reference": charge.reference},
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
