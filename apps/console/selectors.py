"""Reads for the owner console: pages of members with their seat and month-to-date spend, in a fixed number
of queries however large the organization (the sort by spend happens in the database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import (
    DecimalField,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from apps.common.money import MONEY_MAX_DIGITS, MONEY_PLACES, ZERO, percent_whole, share
from apps.common.periods import Period, period_containing, period_for_start
from apps.organizations.models import Membership, Organization
from apps.seats.models import SeatAssignment, SeatTier
from apps.seats.selectors import seat_tiers
from apps.spending.selectors import spend_contexts_load
from apps.usage.models import CapScope, SpendCap
from apps.usage.selectors import SpendStatus, org_caps, org_counters

MEMBERS_PER_PAGE = 50
SORTS = {
    "name": ("user__name", "user__email", "pk"),
    "-name": ("-user__name", "-user__email", "-pk"),
    # By the spend the limits bound: extra usage on seat-based plans, all usage on usage-based ones (where
    # included spend is always zero), as the limits table shows it.
    "mtd": ("mtd_limited", "user__email", "pk"),
    "-mtd": ("-mtd_limited", "user__email", "pk"),
}
_MONEY = DecimalField(max_digits=MONEY_MAX_DIGITS, decimal_places=MONEY_PLACES)


def current_period(*, organization: Organization, now: dt.datetime) -> Period:
    return period_containing(now, organization.billing_timezone)


def members_queryset(*, organization: Organization, period_start: dt.date, search: str = "",
                     sort: str = "name") -> QuerySet[Membership]:
    """Active members with `tier_id` (their open seat), `mtd_spend` (this period's total spend) and `mtd_limited`
    (the part the limits bound: total less included usage) annotated
    by correlated subqueries on indexed columns, searchable by name or email, sorted in the database."""
    seat = SeatAssignment.objects.filter(membership=OuterRef("pk"), ended_at__isnull=True).values("tier_id")[:1]
    qs = (
        Membership.objects.active()
        .filter(organization=organization)
        .select_related("user")
        # One LEFT JOIN on this period's counter row (unique per member and period, so rows never multiply):
        # the database hash-joins and sorts 10,000 members instead of probing the counters once per member.
        .annotate(current_usage=FilteredRelation("period_usage", condition=Q(period_usage__period_start=period_start)))
        .annotate(
            tier_id=Subquery(seat),
            mtd_spend=Coalesce(F("current_usage__spend"), Value(ZERO), output_field=_MONEY),
            mtd_included=Coalesce(F("current_usage__included_spend"), Value(ZERO), output_field=_MONEY),
        )
        .annotate(mtd_limited=ExpressionWrapper(F("mtd_spend") - F("mtd_included"), output_field=_MONEY))
    )
    search = (search or "").strip()
    if search:
        qs = qs.filter(Q(user__email__icontains=search) | Q(user__name__icontains=search))
    return qs.order_by(*SORTS.get(sort, SORTS["name"]))


@dataclass
class MemberRow:
    membership: Membership
    tier: SeatTier | None
    mtd_spend: Decimal
    status: SpendStatus | None = None
    own_cap: Decimal | None = None
    has_own_cap: bool = False


def members_page(*, organization: Organization, period_start: dt.date, search: str = "", sort: str = "name",
                 page_number: int | str = 1, with_limits: bool = False,
                 tiers: list[SeatTier] | None = None) -> tuple[Page, list[MemberRow]]:
    """One page of members as rows. Queries: count, page, tiers unless given (+1 for effective limits: the
    members' spend contexts)."""
    paginator = Paginator(
        members_queryset(organization=organization, period_start=period_start, search=search, sort=sort),
        MEMBERS_PER_PAGE,
    )
    page = paginator.get_page(page_number)
    tiers = {t.pk: t for t in (tiers if tiers is not None else seat_tiers(organization=organization))}
    memberships = list(page.object_list)
    rows = [MemberRow(m, tiers.get(m.tier_id), m.mtd_spend) for m in memberships]
    if with_limits and rows:
        period = period_for_start(period_start, organization.billing_timezone)
        context, found = spend_contexts_load(organization=organization, period=period,
                                             membership_ids=[m.pk for m in memberships])
        for row in rows:
            row.status = found[row.membership.pk].status
            cap = context.caps.members.get(row.membership.pk)
            row.has_own_cap = cap is not None and cap.amount is not None
            row.own_cap = cap.amount if cap is not None else None
    return page, rows


@dataclass
class OrgCapSummary:
    limit: Decimal | None
    spend: Decimal
    percent: int | None

    @property
    def over(self) -> bool:
        return self.limit is not None and self.spend >= self.limit

    @property
    def meter_class(self) -> str:
        """A width class in steps of 5% (styles cannot be inline under the CSP)."""
        return f"w{max(0, min(100, (self.percent or 0) // 5 * 5))}"


def org_cap_summary(*, organization: Organization, period_start: dt.date) -> OrgCapSummary:
    """The organization's limit and the capped spend it is measured against (all spend on usage-based
    Enterprise; extra usage beyond included seat usage on seat-based plans)."""
    caps = org_caps(organization=organization, membership_ids=[])
    spend = org_counters(organization_id=organization.pk, period_start=period_start).capped
    limit = caps.organization.amount if caps.organization is not None else None
    percent = None
    if limit is not None:
        # The one percentage helper (apps.common.money): 4.67% reads 5% here as on the dashboard.
        percent = 100 if limit <= 0 else percent_whole(share(spend, limit))
    return OrgCapSummary(limit, spend, percent)


@dataclass
class TierCapRow:
    tier: SeatTier
    limit: Decimal | None


def tier_cap_rows(*, organization: Organization) -> list[TierCapRow]:
    caps = org_caps(organization=organization, membership_ids=[]).tiers
    return [
        TierCapRow(tier, caps[tier.pk].amount if tier.pk in caps else None)
        for tier in seat_tiers(organization=organization)
    ]


def member_in_org(*, organization: Organization, membership_id: int) -> Membership | None:
    """An active member of this organization (None for another organization's member: the caller 404s)."""
    return (
        Membership.objects.active()
        .select_related("user", "organization")
        .filter(organization=organization, pk=membership_id)
        .first()
    )


def member_own_cap(*, membership: Membership) -> SpendCap | None:
    return SpendCap.objects.filter(scope=CapScope.MEMBER, membership=membership).first()
