"""The funding split: which money pays for a recorded request.

- Usage-based Enterprise: everything is pooled spend (under the caps).
- Seat-based plans (Team, seat-based Enterprise): the seat's included usage first; an event that crosses the
  end of the allowance is split (`included` is the part inside it) and the rest is extra usage. A member
  without a seat has no allowance: all of it is extra usage.
- Team's extra usage is drawn from the prepaid balance (`prepaid`); seat-based Enterprise bills it in arrears.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.common.money import ZERO
from apps.organizations.models import PlanKind
from apps.seats.models import SeatTier
from apps.usage.models import Funding
from apps.usage.selectors import Counters


@dataclass(frozen=True)
class Split:
    """One event's cost, divided: `included` from the seat's allowance, `prepaid` drawn from Team's balance,
    and `funding`, the event's label (included when all of it was included, else extra usage or pooled)."""

    cost: Decimal
    included: Decimal
    prepaid: Decimal
    funding: str


def funding_split(*, plan_kind: str, tier: SeatTier | None, counters: Counters, cost: Decimal) -> Split:
    """How `cost` is funded for a member whose counters this period stand at `counters` (before the event)."""
    if plan_kind == PlanKind.ENTERPRISE_USAGE:
        return Split(cost, ZERO, ZERO, Funding.POOLED)
    included = ZERO
    if tier is not None:
        included = min(cost, max(tier.included_usage.amount - counters.included_spend, ZERO))
    extra = cost - included
    return Split(cost, included, extra if plan_kind == PlanKind.TEAM else ZERO,
                 Funding.INCLUDED if included == cost else Funding.EXTRA_USAGE)
