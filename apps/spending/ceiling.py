"""The binding limit of a member's spend this period, as the admission decision enforces it: how far their total
spend (included usage and extra or pooled usage together) can go before `admission_decide` refuses, and the
refusal reason it gives there. Forecasts stop at it ("projected $767; capped at $165 by your limit").

It follows the decision's order (spending.selectors.admission_decide): on seat-based plans the seat's included
usage comes first; past it, extra usage must be on for the organization and the member, and then the caps (which
bound extra usage) and, on Team without auto-reload, the prepaid balance bound it; on usage-based Enterprise the
caps bound all usage. tests/spending/test_ceiling.py holds it to admission_decide: at the ceiling the decision
refuses with this reason, a cent below it allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.common.money import ZERO
from apps.organizations.models import PlanKind
from apps.usage.models import CapScope

from .selectors import MemberContext, Reason

_CAP_REASONS = {CapScope.MEMBER: Reason.MEMBER_CAP, CapScope.SEAT_TIER: Reason.TIER_CAP,
                CapScope.ORGANIZATION: Reason.ORG_CAP}


@dataclass(frozen=True)
class Ceiling:
    amount: Decimal | None  # the most the member's total spend can reach this period; None: nothing binds
    reason: str | None  # the Reason admission gives there (member_cap, tier_cap, org_cap, included_usage_exhausted…)


def spend_ceiling(*, found: MemberContext) -> Ceiling:
    """The member's binding limit in total-spend terms, from their loaded spend context (no queries)."""
    total = found.member.spend
    if found.tier is None:
        return Ceiling(total, Reason.NO_SEAT)
    context = found.context
    status = found.status
    organization = context.organization
    candidates: list[tuple[Decimal, str]] = []
    if organization.plan_kind == PlanKind.ENTERPRISE_USAGE:
        if status.remaining is not None:
            candidates.append((total + max(status.remaining, ZERO), _CAP_REASONS[status.source]))
    else:
        included_left = max(found.tier.included_usage.amount - found.member.included_spend, ZERO)
        settings = context.settings
        if not settings.enabled:
            return Ceiling(total + included_left, Reason.INCLUDED_USAGE_EXHAUSTED)
        if not settings.all_members and found.membership.pk not in context.extra_enabled_members:
            return Ceiling(total + included_left, Reason.EXTRA_USAGE_DISABLED)
        if status.remaining is not None:
            candidates.append((total + included_left + max(status.remaining, ZERO), _CAP_REASONS[status.source]))
        if organization.plan_kind == PlanKind.TEAM and not settings.auto_reload_enabled:
            candidates.append((total + included_left + max(settings.prepaid_balance, ZERO),
                               Reason.PREPAID_BALANCE_EXHAUSTED))
    if not candidates:
        return Ceiling(None, None)
    amount, reason = min(candidates, key=lambda c: c[0])  # min keeps the first on a tie: the caps, as admission
    return Ceiling(amount, reason)
