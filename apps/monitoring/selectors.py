"""Reads for the usage dashboards. Every page runs a fixed number of queries, whatever the number of members
or events: organization-wide figures come from OrgDailyUsage (complete days) plus today's UsageDailyRollup
rows, members' month-to-date figures from MemberPeriodUsage, and caps from usage.selectors.

Exactness rule: OrgDailyUsage is a rebuilt copy of the rollups. Before using it for a period, its event count
is compared with the organization's counters (OrgUsageSlot); if they differ (a refresh is pending, or a late
event landed on a past day) that period is read from the rollups directly and the page asks for a refresh, so a page
never shows a total that disagrees with the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import DecimalField, F, FilteredRelation, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.common.money import ZERO
from apps.common.periods import (
    Period,
    local_date,
    local_midnight,
    next_month_start,
    period_containing,
    period_for_start,
    previous_month_start,
)
from apps.organizations.models import Membership, Organization, Role
from apps.seats.models import Product, SeatAssignment, SeatTier
from apps.spending.ceiling import spend_ceiling
from apps.spending.models import DEFAULT_THRESHOLDS, NotificationSettings
from apps.spending.selectors import spend_contexts_load
from apps.usage.models import AIModel, CapScope, MemberPeriodUsage, OrgUsageSlot, SpendCap, UsageDailyRollup
from apps.usage.selectors import Counters, SpendStatus

from .forecast import METHOD, Forecast, forecast_month_end, today_remaining_fraction, window_days
from .models import OrgDailyUsage, SpendNotice
from .ranges import DateRange
from .totals import member_totals_for_days, member_totals_for_period

logger = logging.getLogger(__name__)
MONEY_FIELD = DecimalField(max_digits=24, decimal_places=10)
SUM_FIELDS = ("cost", "included_cost", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens",
              "event_count")
TOKEN_KINDS = (("input_tokens", gettext_lazy("Input")), ("output_tokens", gettext_lazy("Output")),
               ("cache_write_tokens", gettext_lazy("Cache write")), ("cache_read_tokens", gettext_lazy("Cache read")))
MEMBERS_PAGE_SIZE = 50
MEMBER_SORTS = {
    "spend": ("mtd", "pk"), "-spend": ("-mtd", "pk"),
    "email": ("user__email",), "-email": ("-user__email",),
}


@dataclass(frozen=True)
class Clock:
    """Where `now` falls for an organization: its current and previous periods, today and its remaining part."""

    now: dt.datetime
    period: Period
    previous: Period
    today: dt.date
    today_remaining: Decimal


def clock_for(*, organization: Organization, now: dt.datetime) -> Clock:
    tz_name = organization.billing_timezone
    period = period_containing(now, tz_name)
    previous = period_for_start(previous_month_start(period.start), tz_name)
    today = local_date(now, tz_name)
    remaining = today_remaining_fraction(
        now=now, day_start=local_midnight(today, period.tz),
        day_end=local_midnight(today + dt.timedelta(days=1), period.tz),
    )
    return Clock(now, period, previous, today, remaining)


def notification_thresholds(*, organization: Organization) -> list[int]:
    row = NotificationSettings.objects.filter(organization=organization).values_list("thresholds", flat=True).first()
    return sorted(row) if row else list(DEFAULT_THRESHOLDS)


# --- Organization-wide daily totals -------------------------------------------------------------------------


@dataclass
class DailyRow:
    day: dt.date
    period_start: dt.date
    model_id: int
    product: str
    cost: Decimal
    included_cost: Decimal
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    event_count: int


def _rollup_rows(queryset) -> list[DailyRow]:
    grouped = queryset.values("day", "period_start", "model_id", "product").annotate(
        **{f"s_{name}": Sum(name) for name in SUM_FIELDS}
    ).order_by()
    return [
        DailyRow(r["day"], r["period_start"], r["model_id"], r["product"],
                 *(r[f"s_{name}"] for name in SUM_FIELDS))
        for r in grouped
    ]


def org_daily_rows(*, organization: Organization, clock: Clock) -> tuple[list[DailyRow], list[dt.date]]:
    """Per (day, model, product) totals of the current and previous periods, exact (see module docstring), and
    the periods whose stored daily totals lag the counters (read live here; the caller asks for a rebuild with
    monitoring.services.org_daily_refresh_request). Three queries when the stored totals are current, four or
    five when a period has to be read live."""
    periods = [clock.previous.start, clock.period.start]
    stored = [
        DailyRow(*values)
        for values in OrgDailyUsage.objects.filter(
            organization=organization, period_start__in=periods, day__lt=clock.today
        ).values_list("day", "period_start", "model_id", "product", *SUM_FIELDS)
    ]
    live_today = _rollup_rows(
        UsageDailyRollup.objects.filter(organization=organization, day__gte=clock.today, period_start__in=periods)
    )
    expected = dict(
        OrgUsageSlot.objects.filter(organization=organization, period_start__in=periods)
        .values("period_start").annotate(n=Sum("event_count")).values_list("period_start", "n").order_by()
    )
    counted: dict[dt.date, int] = defaultdict(int)
    for row in (*stored, *live_today):
        counted[row.period_start] += row.event_count
    stale = [p for p in periods if counted.get(p, 0) != (expected.get(p) or 0)]
    if not stale:
        return [*stored, *live_today], []
    rows = [r for r in stored if r.period_start not in stale]
    rows += _rollup_rows(
        UsageDailyRollup.objects.filter(organization=organization, period_start__in=stale, day__lt=clock.today)
    )
    return rows + live_today, stale


# --- Pages --------------------------------------------------------------------------------------------------


@dataclass
class Breakdown:
    label: str
    cost: Decimal
    share: Decimal | None = None


@dataclass
class OrgDashboard:
    clock: Clock
    counters: Counters
    cap: Decimal | None
    cap_used: Decimal | None  # capped spend ÷ cap, 0–1+ (None when unlimited)
    by_model: list[Breakdown]
    by_product: list[Breakdown]
    tokens: list[tuple[str, int]]
    event_count: int
    daily: list[dict]  # {"day": n, "current": Decimal|None, "previous": Decimal|None}
    forecast: Forecast
    cap_forecast: Forecast
    stale_periods: list[dt.date] = field(default_factory=list)  # stored daily totals to rebuild (read live)
    method: str = METHOD


def _shares(totals: dict[str, Decimal]) -> list[Breakdown]:
    grand = sum(totals.values(), ZERO)
    items = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Breakdown(label, cost, (cost / grand) if grand else None) for label, cost in items]


def _daily_chart(clock: Clock, current: dict[dt.date, Decimal], previous: dict[dt.date, Decimal]) -> list[dict]:
    days = max(clock.period.days, clock.previous.days)
    chart = []
    for n in range(1, days + 1):
        cur_day = clock.period.start + dt.timedelta(days=n - 1)
        prev_day = clock.previous.start + dt.timedelta(days=n - 1)
        chart.append({
            "day": n,
            "current": current.get(cur_day, ZERO) if n <= clock.period.days and cur_day <= clock.today else None,
            "previous": previous.get(prev_day, ZERO) if n <= clock.previous.days else None,
        })
    return chart


def _org_cap(organization: Organization) -> Decimal | None:
    cap = SpendCap.objects.filter(organization=organization, scope=CapScope.ORGANIZATION).values_list(
        "amount", flat=True).first()
    return cap


def org_dashboard(*, organization: Organization, now: dt.datetime) -> OrgDashboard:
    """The organization-wide page: MTD against the cap, mixes by model, product and token kind, the daily
    chart of this and the previous period, and the forecast."""
    clock = clock_for(organization=organization, now=now)
    rows, stale_periods = org_daily_rows(organization=organization, clock=clock)
    models = dict(AIModel.objects.values_list("pk", "display_name"))
    products = dict(Product.choices)
    by_model: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_product: dict[str, Decimal] = dict.fromkeys(products.values(), ZERO)
    tokens = dict.fromkeys((name for name, _ in TOKEN_KINDS), 0)
    current: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    current_capped: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    previous: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    recent: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    recent_capped: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    window = set(window_days(clock.today))
    event_count = 0
    for row in rows:
        if row.day in window:
            recent[row.day] += row.cost
            recent_capped[row.day] += row.cost - row.included_cost
        if row.period_start != clock.period.start:
            previous[row.day] += row.cost
            continue
        event_count += row.event_count
        by_model[models.get(row.model_id, "?")] += row.cost
        by_product[products.get(row.product, row.product)] += row.cost
        for name, _ in TOKEN_KINDS:
            tokens[name] += getattr(row, name)
        current[row.day] += row.cost
        current_capped[row.day] += row.cost - row.included_cost
    spend = sum(current.values(), ZERO)
    counters = Counters(spend, spend - sum(current_capped.values(), ZERO))
    cap = _org_cap(organization)
    seat_based = organization.is_seat_based
    common = {"today": clock.today, "period_end": clock.period.end, "today_remaining": clock.today_remaining}
    forecast = forecast_month_end(month_to_date=counters.spend, daily_spend=recent,
                                  cap=None if seat_based else cap, **common)
    cap_forecast = forecast if not seat_based else forecast_month_end(
        month_to_date=counters.capped, daily_spend=recent_capped, cap=cap, **common)
    return OrgDashboard(
        clock=clock,
        counters=counters,
        cap=cap,
        cap_used=(counters.capped / cap) if cap else None,
        by_model=_shares(dict(by_model)),
        by_product=_shares(by_product),
        tokens=[(label, tokens[name]) for name, label in TOKEN_KINDS],
        event_count=event_count,
        daily=_daily_chart(clock, current, previous),
        forecast=forecast,
        cap_forecast=cap_forecast,
        stale_periods=stale_periods,
    )


@dataclass
class TopSpender:
    membership_id: int
    email: str
    name: str
    spend: Decimal


@dataclass
class TierRow:
    tier: SeatTier | None
    members: int
    spend: Decimal
    included_spend: Decimal
    top: list[TopSpender] = field(default_factory=list)

    @property
    def label(self) -> str:
        return str(self.tier) if self.tier else "No seat"

    @property
    def average(self) -> Decimal:
        return self.spend / self.members if self.members else ZERO


TOP_PER_TIER = 5


def tier_dashboard(*, organization: Organization, now: dt.datetime,
                   date_range: DateRange | None = None) -> tuple[Clock, list[TierRow]]:
    """Spend and members per seat tier (members without a seat in their own row), with average and top
    spenders per tier: this period's counters, or the rollups' sums over another date range (members grouped
    by the seat they hold now). Two queries."""
    clock = clock_for(organization=organization, now=now)
    qn = connection.ops.quote_name
    membership_t, seat_t = qn(Membership._meta.db_table), qn(SeatAssignment._meta.db_table)
    usage_t = qn(MemberPeriodUsage._meta.db_table)
    user_t = qn(User._meta.db_table)
    if date_range is None or date_range.is_current_period:
        usage_source, usage_params = f"{usage_t} u ON u.membership_id = m.id AND u.period_start = %s", [
            clock.period.start]
    else:
        rollup_t = qn(UsageDailyRollup._meta.db_table)
        usage_source = (
            f"(SELECT membership_id, SUM(cost) AS spend, SUM(included_cost) AS included_spend FROM {rollup_t} "
            f"WHERE organization_id = %s AND day >= %s AND day < %s GROUP BY membership_id) u "
            f"ON u.membership_id = m.id")
        usage_params = [organization.pk, date_range.start, date_range.end]
    # One pass over the members: the CTE is materialized once and feeds both the totals and the ranking.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH base AS MATERIALIZED ("
            f"  SELECT m.id, m.user_id, sa.tier_id, COALESCE(u.spend, 0) AS spend, "
            f"         COALESCE(u.included_spend, 0) AS included "
            f"  FROM {membership_t} m "
            f"  LEFT JOIN {seat_t} sa ON sa.membership_id = m.id AND sa.ended_at IS NULL "
            f"  LEFT JOIN {usage_source} "
            f"  WHERE m.organization_id = %s AND m.removed_at IS NULL"
            f"), ranked AS ("
            f"  SELECT tier_id, id, user_id, spend, ROW_NUMBER() OVER ("
            # Ranked on a float copy (cheap to sort); the exact amounts are what the page shows.
            f"    PARTITION BY tier_id ORDER BY CAST(spend AS DOUBLE PRECISION) DESC, id) AS rank "
            f"  FROM base WHERE spend > 0"
            f") "
            f"SELECT 0 AS kind, tier_id, COUNT(*), SUM(spend), SUM(included), NULL, NULL, 0 FROM base "
            f"GROUP BY tier_id "
            f"UNION ALL "
            f"SELECT 1, r.tier_id, r.id, r.spend, NULL, "
            f"(SELECT email FROM {user_t} WHERE id = r.user_id), (SELECT name FROM {user_t} WHERE id = r.user_id), "
            f"r.rank FROM ranked r WHERE r.rank <= {TOP_PER_TIER} "
            f"ORDER BY 1, 2, 8",
            [*usage_params, organization.pk],
        )
        result = cursor.fetchall()
    totals = [(tier_id, count, spend, included)
              for kind, tier_id, count, spend, included, *_ in result if kind == 0]
    top_rows = [(tier_id, mid, email, name, spend)
                for kind, tier_id, mid, spend, _, email, name, _ in result if kind == 1]
    tiers = {t.pk: t for t in SeatTier.objects.filter(organization=organization)}
    rows = {tier_id: TierRow(tiers.get(tier_id), count, spend, included) for tier_id, count, spend, included in totals}
    for tier in tiers.values():
        rows.setdefault(tier.pk, TierRow(tier, 0, ZERO, ZERO))
    for tier_id, mid, email, name, spend in top_rows:
        if tier_id in rows:
            rows[tier_id].top.append(TopSpender(mid, email, name, spend))
    ordered = sorted(rows.values(), key=lambda r: (r.tier is None, r.tier.position if r.tier else 0))
    return clock, ordered


@dataclass
class MemberRow:
    membership: Membership
    tier: SeatTier | None
    spend: Decimal
    share: Decimal | None
    status: SpendStatus
    forecast: Forecast | None  # the current period only


@dataclass
class MemberTable:
    clock: Clock
    page: Page
    rows: list[MemberRow]
    org_total: Decimal
    query: str
    sort: str
    date_range: DateRange | None = None
    method: str = METHOD
    org_total_exact: Decimal = ZERO  # `org_total` is the sum of the members' spend each rounded once


def member_table(*, organization: Organization, now: dt.datetime, query: str = "", sort: str = "-spend",
                 page_number: object = 1, date_range: DateRange | None = None) -> MemberTable:
    """One page of the member table: MTD spend, share of the organization, effective limit, remaining and the
    month-end projection, searchable by email or name and sortable by spend or email. For a date range other
    than this period, the spend and share are the rollups' sums over the range and there is no projection
    (limits stay this period's). A fixed number of queries per page (count, page, its members, their spend
    contexts, the org's total, the 7-day window or the range total)."""
    clock = clock_for(organization=organization, now=now)
    ranged = date_range is not None and not date_range.is_current_period
    sort = sort if sort in MEMBER_SORTS else "-spend"
    members = Membership.objects.active().filter(organization=organization)
    query = (query or "").strip()[:100]
    if query:
        members = members.filter(Q(user__email__icontains=query) | Q(user__name__icontains=query))
    # Sort and page on (id, spend) alone; users are loaded for the page's rows only.
    if ranged:
        range_spend, _ = _member_range_spend(date_range)
        ranked = members.annotate(mtd=Coalesce(range_spend, Value(ZERO), output_field=MONEY_FIELD))
    else:
        ranked = members.annotate(
            usage=FilteredRelation("period_usage", condition=Q(period_usage__period_start=clock.period.start)),
            mtd=Coalesce(F("usage__spend"), Value(ZERO), output_field=MONEY_FIELD),
        )
    ranked = ranked.order_by(*MEMBER_SORTS[sort]).values_list("pk", "mtd")
    paginator = Paginator(ranked, MEMBERS_PAGE_SIZE)
    paginator.count = members.count()  # counting needs no join to the counters
    page = paginator.get_page(page_number)
    page_rows = list(page.object_list)
    loaded = Membership.objects.select_related("user").in_bulk([pk for pk, _ in page_rows])
    memberships = []
    for pk, mtd in page_rows:
        loaded[pk].mtd = mtd
        memberships.append(loaded[pk])
    ids = [m.pk for m in memberships]
    _, found = spend_contexts_load(organization=organization, period=clock.period, membership_ids=ids)
    tiers = {mid: f.tier for mid, f in found.items()}
    statuses = {mid: f.status for mid, f in found.items()}
    recent: dict[int, dict[dt.date, Decimal]] = defaultdict(dict)
    # The organization total by the one rounding rule: the sum of every member's spend, each rounded once
    # (apps.monitoring.totals), so it equals the member figures added up; the exact total beside it.
    if ranged:
        totals = member_totals_for_days(organization=organization, start=date_range.start, end=date_range.end)
    else:
        totals = member_totals_for_period(organization=organization, period_start=clock.period.start)
    org_total = totals.spend_exact
    if not ranged:
        window = window_days(clock.today)
        for mid, day, cost in (
            UsageDailyRollup.objects.filter(membership_id__in=ids, day__gte=window[0], day__lt=clock.today)
            .values("membership_id", "day").annotate(cost=Sum("cost")).values_list("membership_id", "day", "cost")
            .order_by()
        ):
            recent[mid][day] = cost
    rows = []
    for m in memberships:
        rows.append(MemberRow(
            membership=m, tier=tiers.get(m.pk), spend=m.mtd, share=(m.mtd / org_total) if org_total else None,
            status=statuses[m.pk],
            forecast=None if ranged else forecast_month_end(
                month_to_date=m.mtd, daily_spend=recent.get(m.pk, {}), today=clock.today,
                period_end=clock.period.end, today_remaining=clock.today_remaining,
                ceiling=spend_ceiling(found=found[m.pk])),
        ))
    return MemberTable(clock, page, rows, totals.spend, query, sort, date_range, org_total_exact=org_total)


@dataclass
class MemberUsage:
    clock: Clock
    membership: Membership
    tier: SeatTier | None
    status: SpendStatus
    daily: list[dict]
    by_model: list[Breakdown]
    by_product: list[Breakdown]
    forecast: Forecast
    included_usage: Decimal | None  # the seat's monthly allowance on seat-based plans
    extra_usage_started_at: dt.datetime | None
    notices: list[SpendNotice]
    date_range: DateRange | None = None
    range_daily: list[tuple[dt.date, Decimal]] | None = None  # another range than this period: its days' spend
    range_spend: Decimal | None = None
    method: str = METHOD

    @property
    def included_remaining(self) -> Decimal | None:
        if self.included_usage is None:
            return None
        return max(self.included_usage - self.status.included_spend, ZERO)

    @property
    def extra_spend(self) -> Decimal:
        return self.status.total_spend - self.status.included_spend


def member_usage(*, organization: Organization, membership: Membership, now: dt.datetime,
                 date_range: DateRange | None = None) -> MemberUsage:
    """One member's month: spend, effective limit and remaining, included usage used and left (seat-based
    plans), when extra usage began and what it cost, the daily chart, model and product mix, the forecast and
    the notices sent this period. With a date range other than this period, the chart and the mixes cover
    that range instead (limits and notices stay this period's). A fixed number of queries."""
    clock = clock_for(organization=organization, now=now)
    _, found = spend_contexts_load(organization=organization, period=clock.period, membership_ids=[membership.pk])
    mine = found[membership.pk]
    tier, status, started = mine.tier, mine.status, mine.extra_usage_started_at
    rows = _rollup_rows(UsageDailyRollup.objects.filter(membership=membership, day__gte=clock.previous.start))
    models = dict(AIModel.objects.values_list("pk", "display_name"))
    products = dict(Product.choices)
    current: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    previous: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    recent: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    by_model: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_product: dict[str, Decimal] = defaultdict(lambda: ZERO)
    window = set(window_days(clock.today))
    for row in rows:
        if row.day in window:
            recent[row.day] += row.cost
        if row.period_start == clock.period.start:
            current[row.day] += row.cost
            by_model[models.get(row.model_id, "?")] += row.cost
            by_product[products.get(row.product, row.product)] += row.cost
        elif row.period_start == clock.previous.start:
            previous[row.day] += row.cost
    notices = list(SpendNotice.objects.filter(membership=membership, period_start=clock.period.start)
                   .order_by("created_at", "id"))
    range_daily = range_spend = None
    if date_range is not None and not date_range.is_current_period:
        per_day: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
        by_model, by_product = defaultdict(lambda: ZERO), defaultdict(lambda: ZERO)
        for row in _rollup_rows(UsageDailyRollup.objects.filter(
                membership=membership, day__gte=date_range.start, day__lt=date_range.end)):
            per_day[row.day] += row.cost
            by_model[models.get(row.model_id, "?")] += row.cost
            by_product[products.get(row.product, row.product)] += row.cost
        range_daily = [(date_range.start + dt.timedelta(days=n), per_day.get(
            date_range.start + dt.timedelta(days=n), ZERO)) for n in range(date_range.days)]
        range_spend = sum(per_day.values(), ZERO)
    return MemberUsage(
        clock=clock, membership=membership, tier=tier, status=status,
        daily=_daily_chart(clock, current, previous),
        by_model=_shares(dict(by_model)), by_product=_shares(dict(by_product)),
        forecast=forecast_month_end(month_to_date=status.total_spend, daily_spend=recent, today=clock.today,
                                    period_end=clock.period.end, today_remaining=clock.today_remaining,
                                    ceiling=spend_ceiling(found=mine)),
        included_usage=tier.included_usage.amount if tier and organization.is_seat_based else None,
        extra_usage_started_at=started if organization.is_seat_based else None,
        notices=notices, date_range=date_range, range_daily=range_daily, range_spend=range_spend,
    )


def org_admin_emails(*, organization: Organization, minimum: str) -> list[str]:
    """Emails of the organization's active members at or above a role (admins: admin and owners)."""
    roles = [Role.PRIMARY_OWNER, Role.OWNER] + ([Role.ADMIN] if minimum == Role.ADMIN else [])
    return sorted(Membership.objects.active().filter(organization=organization, role__in=roles)
                  .values_list("user__email", flat=True))


# --- Any date range (the dashboards' range picker) --------------------------------------------------------------
#
# The pages above describe the current period (with its forecast and limits). For another range the same pages
# show what was spent in it: totals, mixes and a daily series from the same exact sources (the organization's
# daily totals where they agree with the counters, else the rollups), and per-member sums of the rollups.


@dataclass
class RangeDashboard:
    date_range: DateRange
    spend: Decimal
    included_spend: Decimal
    by_model: list[Breakdown]
    by_product: list[Breakdown]
    tokens: list[tuple[str, int]]
    event_count: int
    daily: list[tuple[dt.date, Decimal]]  # every local day of the range, with its spend
    stale_periods: list[dt.date] = field(default_factory=list)

    @property
    def capped(self) -> Decimal:
        return self.spend - self.included_spend


def _periods_touching(date_range: DateRange) -> list[dt.date]:
    starts, day = [], date_range.start.replace(day=1)
    while day < date_range.end:
        starts.append(day)
        day = next_month_start(day)
    return starts


def org_range_rows(*, organization: Organization, date_range: DateRange,
                   today: dt.date) -> tuple[list[DailyRow], list[dt.date]]:
    """Per (day, model, product) totals of the range's days, exact: each billing period the range touches is
    read from the stored daily totals when they agree with the organization's counters for that period, else
    from the rollups (and returned as stale, for a rebuild). Four queries, five when a period is read live."""
    periods = _periods_touching(date_range)
    stored = [
        DailyRow(*values)
        for values in OrgDailyUsage.objects.filter(
            organization=organization, period_start__in=periods, day__lt=today
        ).values_list("day", "period_start", "model_id", "product", *SUM_FIELDS)
    ]
    live_today = _rollup_rows(
        UsageDailyRollup.objects.filter(organization=organization, day__gte=today, period_start__in=periods)
    )
    expected = dict(
        OrgUsageSlot.objects.filter(organization=organization, period_start__in=periods)
        .values("period_start").annotate(n=Sum("event_count")).values_list("period_start", "n").order_by()
    )
    counted: dict[dt.date, int] = defaultdict(int)
    for row in (*stored, *live_today):
        counted[row.period_start] += row.event_count
    stale = [p for p in periods if counted.get(p, 0) != (expected.get(p) or 0)]
    rows = [r for r in (*stored, *live_today) if r.period_start not in stale]
    if stale:
        rows += _rollup_rows(UsageDailyRollup.objects.filter(
            organization=organization, period_start__in=stale, day__gte=date_range.start, day__lt=date_range.end))
    in_range = [r for r in rows if date_range.start <= r.day < date_range.end]
    return in_range, stale


def org_range_dashboard(*, organization: Organization, date_range: DateRange, now: dt.datetime) -> RangeDashboard:
    """What the organization spent in a date range: totals, included and extra usage, mixes by model, product
    and token kind, and the daily series. A fixed number of queries, whatever the range or member count."""
    today = local_date(now, organization.billing_timezone)
    rows, stale = org_range_rows(organization=organization, date_range=date_range, today=today)
    models = dict(AIModel.objects.values_list("pk", "display_name"))
    products = dict(Product.choices)
    by_model: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_product: dict[str, Decimal] = dict.fromkeys(products.values(), ZERO)
    tokens = dict.fromkeys((name for name, _ in TOKEN_KINDS), 0)
    per_day: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    spend = included = ZERO
    events = 0
    for row in rows:
        spend += row.cost
        included += row.included_cost
        events += row.event_count
        by_model[models.get(row.model_id, "?")] += row.cost
        by_product[products.get(row.product, row.product)] += row.cost
        for name, _ in TOKEN_KINDS:
            tokens[name] += getattr(row, name)
        per_day[row.day] += row.cost
    days = [date_range.start + dt.timedelta(days=n) for n in range(date_range.days)]
    return RangeDashboard(
        date_range=date_range, spend=spend, included_spend=included, by_model=_shares(dict(by_model)),
        by_product=_shares(by_product), tokens=[(label, tokens[name]) for name, label in TOKEN_KINDS],
        event_count=events, daily=[(day, per_day.get(day, ZERO)) for day in days], stale_periods=stale,
    )


def _member_range_spend(date_range: DateRange):
    """A subquery: the outer membership's spend (and included spend) over the range, from its rollups."""
    rollups = UsageDailyRollup.objects.filter(
        membership_id=OuterRef("pk"), day__gte=date_range.start, day__lt=date_range.end
    ).order_by().values("membership_id")
    return (
        Subquery(rollups.annotate(s=Sum("cost")).values("s"), output_field=MONEY_FIELD),
        Subquery(rollups.annotate(s=Sum("included_cost")).values("s"), output_field=MONEY_FIELD),
    )
