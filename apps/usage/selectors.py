"""Reads for usage: the organization's caps and counters, and the effective spend limit rule.

A member's caps and counters are read together with the rest of their spend context by spending's one loader
(apps/spending/selectors.py); `spend_status_compute` works out the effective limit from them, with no queries.

The effective limit rule: a member may spend only while below every cap that applies to them — their own
cap, their seat tier's cap (both on their own spend) and the organization's cap (on the organization's
total). The binding level is the one with the least headroom left; on a tie the more specific level names it
(member, then tier, then organization). "Capped spend" is all spend on usage-based Enterprise and extra usage
(spend beyond the seat's included usage) on seat-based plans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum

from apps.common.money import ZERO
from apps.organizations.models import Organization

from .models import CapScope, OrgUsageSlot, SpendCap


@dataclass(frozen=True)
class OrgCaps:
    """An organization's caps, loaded once: the org cap, tier caps by tier id, member caps by membership id."""

    organization: SpendCap | None
    tiers: dict[int, SpendCap]
    members: dict[int, SpendCap]


@dataclass(frozen=True)
class Counters:
    spend: Decimal = ZERO
    included_spend: Decimal = ZERO

    @property
    def capped(self) -> Decimal:
        return self.spend - self.included_spend


@dataclass(frozen=True)
class SpendStatus:
    """Where a member stands this period.

    `limit` is the binding cap's amount (None: unlimited at every level), `source` its level, `cap` its row;
    `spend` the member's capped spend, `remaining` the headroom left under the binding cap (None if
    unlimited), and `blocked` whether they may not spend more (remaining ≤ 0).
    """

    limit: Decimal | None
    source: str | None
    cap: SpendCap | None
    spend: Decimal
    total_spend: Decimal
    included_spend: Decimal
    remaining: Decimal | None
    blocked: bool

    @property
    def reason(self) -> str | None:
        """The admission refusal reason when blocked: member_cap, tier_cap or org_cap."""
        if not self.blocked:
            return None
        return {CapScope.MEMBER: "member_cap", CapScope.SEAT_TIER: "tier_cap",
                CapScope.ORGANIZATION: "org_cap"}[self.source]


def org_caps(*, organization: Organization, membership_ids: Iterable[int] | None = None) -> OrgCaps:
    """Every cap of an organization in one query (member caps only for `membership_ids` when given)."""
    member_filter = Q(scope=CapScope.MEMBER)
    if membership_ids is not None:
        member_filter &= Q(membership_id__in=list(membership_ids))
    caps = SpendCap.objects.filter(organization=organization).filter(
        Q(scope=CapScope.ORGANIZATION) | Q(scope=CapScope.SEAT_TIER) | member_filter
    )
    org_cap, tiers, members = None, {}, {}
    for cap in caps:
        if cap.scope == CapScope.ORGANIZATION:
            org_cap = cap
        elif cap.scope == CapScope.SEAT_TIER:
            tiers[cap.tier_id] = cap
        else:
            members[cap.membership_id] = cap
    return OrgCaps(org_cap, tiers, members)


def org_counters(*, organization_id: int, period_start) -> Counters:
    """The organization's month-to-date totals: the sum of its counter slots."""
    totals = OrgUsageSlot.objects.filter(organization_id=organization_id, period_start=period_start).aggregate(
        spend=Sum("spend"), included=Sum("included_spend")
    )
    return Counters(totals["spend"] or ZERO, totals["included"] or ZERO)


def spend_status_compute(*, membership_id: int, tier_id: int | None, caps: OrgCaps, member: Counters,
                         org: Counters) -> SpendStatus:
    """The effective limit from already-loaded caps and counters (no queries)."""
    candidates = []
    member_cap = caps.members.get(membership_id)
    if member_cap is not None and member_cap.amount is not None:
        candidates.append((member_cap.amount - member.capped, member_cap))
    tier_cap = caps.tiers.get(tier_id) if tier_id is not None else None
    if tier_cap is not None and tier_cap.amount is not None:
        candidates.append((tier_cap.amount - member.capped, tier_cap))
    if caps.organization is not None and caps.organization.amount is not None:
        candidates.append((caps.organization.amount - org.capped, caps.organization))
    if not candidates:
        return SpendStatus(None, None, None, member.capped, member.spend, member.included_spend, None, False)
    remaining, binding = min(candidates, key=lambda c: c[0])  # min keeps the first (most specific) on a tie
    return SpendStatus(
        limit=binding.amount,
        source=binding.scope,
        cap=binding,
        spend=member.capped,
        total_spend=member.spend,
        included_spend=member.included_spend,
        remaining=remaining,
        blocked=remaining <= 0,
    )
