"""Threshold detection: which notice thresholds a member's or the organization's spend has reached.

A threshold is a whole percentage of a limit (NotificationSettings, default 80 and 100). Three limits have
notices (apps/monitoring/services.py sends them): the member's personal limit (the lower of their member cap
and their seat tier's cap, on capped spend), the seat's included usage (seat-based plans, on included spend)
and the organization cap (on the organization's capped spend). A $0 limit is reached from the start.
"""

from __future__ import annotations

from decimal import Decimal

from apps.common.money import ZERO
from apps.seats.models import SeatTier
from apps.usage.selectors import Counters, OrgCaps

HUNDRED = Decimal(100)


def thresholds_reached(*, thresholds: list[int], spend: Decimal, limit: Decimal | None) -> list[int]:
    """The thresholds (ascending) that `spend` has reached of `limit`; none when there is no limit."""
    if limit is None:
        return []
    if limit <= 0:
        return list(thresholds)
    return [t for t in thresholds if spend * HUNDRED >= limit * t]


def personal_limit(*, caps: OrgCaps, membership_id: int, tier_id: int | None) -> Decimal | None:
    """The member's own limit: the lower of their member cap and their tier's cap (None: neither is set). The
    organization cap is not a personal limit: it has its own notice."""
    amounts = []
    member_cap = caps.members.get(membership_id)
    if member_cap is not None and member_cap.amount is not None:
        amounts.append(member_cap.amount)
    tier_cap = caps.tiers.get(tier_id) if tier_id is not None else None
    if tier_cap is not None and tier_cap.amount is not None:
        amounts.append(tier_cap.amount)
    return min(amounts) if amounts else None


def spend_thresholds_newly_reached(*, thresholds: list[int], caps: OrgCaps, membership_id: int,
                                   tier: SeatTier | None, seat_based: bool, before: Counters, after: Counters,
                                   org_before: Counters, org_after: Counters) -> bool:
    """Whether usage that moved a member's counters from `before` to `after` (and the organization's from
    `org_before` to `org_after`) reached a threshold not reached before, at any of the three limits. Recording
    queues the notice check only then; the periodic sweep catches what this misses (a limit lowered below the
    spend, or concurrent events that each saw the organization total below a threshold)."""

    def newly(spend_before: Decimal, spend_after: Decimal, limit: Decimal | None) -> bool:
        return len(thresholds_reached(thresholds=thresholds, spend=spend_after, limit=limit)) > len(
            thresholds_reached(thresholds=thresholds, spend=spend_before, limit=limit))

    limit = personal_limit(caps=caps, membership_id=membership_id, tier_id=tier.pk if tier is not None else None)
    if newly(before.capped, after.capped, limit):
        return True
    allowance = tier.included_usage.amount if seat_based and tier is not None else ZERO
    if allowance > 0 and newly(before.included_spend, after.included_spend, allowance):
        return True
    org_cap = caps.organization.amount if caps.organization is not None else None
    return newly(org_before.capped, org_after.capped, org_cap)
