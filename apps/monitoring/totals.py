"""Organization totals by the one rounding rule (apps.common.money): a total in cents is the sum of its
members' amounts, each rounded once, so the organization total on a dashboard always equals the sum of the
member figures beside it; the exact total (to MONEY_PLACES) is shown with it.

And, for a closed billing period, what its invoice billed: invoicing sits above monitoring, so it registers a
reader here (`billed_reader_register`, from InvoicingConfig.ready) and the dashboards ask it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from apps.common.money import ZERO, rounded_total
from apps.common.periods import next_month_start
from apps.organizations.models import Organization
from apps.usage.models import MemberPeriodUsage, UsageDailyRollup


@dataclass(frozen=True)
class MemberTotals:
    """Spend and extra usage (spend − included) of an organization: exact, and as the sum of the members'
    amounts each rounded once to the cent."""

    spend_exact: Decimal
    spend: Decimal
    included_exact: Decimal
    included: Decimal
    extra_exact: Decimal
    extra: Decimal
    members: int


def _totals(rows) -> MemberTotals:
    rows = [(spend or ZERO, included or ZERO) for spend, included in rows]
    return MemberTotals(
        spend_exact=sum((s for s, _ in rows), ZERO), spend=rounded_total(s for s, _ in rows),
        included_exact=sum((i for _, i in rows), ZERO), included=rounded_total(i for _, i in rows),
        extra_exact=sum((s - i for s, i in rows), ZERO), extra=rounded_total(s - i for s, i in rows),
        members=len(rows),
    )


def member_totals_for_period(*, organization: Organization, period_start: dt.date) -> MemberTotals:
    """A billing period's totals from the members' counters (one query, one row per member)."""
    return _totals(MemberPeriodUsage.objects.filter(organization=organization, period_start=period_start)
                   .values_list("spend", "included_spend"))


def member_totals_for_days(*, organization: Organization, start: dt.date, end: dt.date) -> MemberTotals:
    """Local days [start, end)'s totals from the members' daily rollups (one query, one row per member)."""
    return _totals(
        UsageDailyRollup.objects.filter(organization=organization, day__gte=start, day__lt=end)
        .values("membership_id").annotate(s=Sum("cost"), i=Sum("included_cost")).order_by()
        .values_list("s", "i")
    )


@dataclass(frozen=True)
class BilledPeriod:
    """What a closed period's invoice billed (or, on Team, drew from the prepaid balance) for usage."""

    number: str
    url: str
    billed: Decimal  # the sum of the member usage lines, each rounded once
    exact: Decimal  # the same lines' exact amounts
    member_lines: int
    prepaid: bool  # Team: drawn from the prepaid balance, not billed


_billed_reader: Callable[..., BilledPeriod | None] | None = None


def billed_reader_register(reader: Callable[..., BilledPeriod | None]) -> None:
    """Invoicing registers `reader(organization=, period_start=)` (it sits above monitoring)."""
    global _billed_reader
    _billed_reader = reader


def billed_period(*, organization: Organization, period_start: dt.date,
                  membership_id: int | None = None) -> BilledPeriod | None:
    """The live invoice's usage figures for a closed period (one member's with `membership_id`), or None (not
    invoiced yet, or nothing registered)."""
    if _billed_reader is None:
        return None
    return _billed_reader(organization=organization, period_start=period_start, membership_id=membership_id)


def closed_month_start(*, start: dt.date, end: dt.date, current_period_start: dt.date) -> dt.date | None:
    """`start` when local days [start, end) are exactly one billing period that has ended, else None."""
    if start.day == 1 and end == next_month_start(start) and end <= current_period_start:
        return start
    return None




def dashboard_totals(*, organization: Organization, start: dt.date, end: dt.date, current_period_start: dt.date,
                     ) -> tuple[MemberTotals, BilledPeriod | None]:
    """The dashboard's organization totals for local days [start, end) (this period's from the counters), and
    when the range is exactly one closed billing period, what its invoice billed. One to three queries."""
    if start == current_period_start:
        totals = member_totals_for_period(organization=organization, period_start=start)
    else:
        totals = member_totals_for_days(organization=organization, start=start, end=end)
    billed = None
    if closed_month_start(start=start, end=end, current_period_start=current_period_start):
        billed = billed_period(organization=organization, period_start=start)
    return totals, billed
