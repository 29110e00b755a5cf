"""Reads for the usage dashboards. Every page runs a fixed number of queries, whatever the number of members
or events: organization-wide figures come from OrgDailyUsage (complete days) plus today's UsageDailyRollup
rows, members' month-to-date figures from MemberPeriodUsage, and caps from usage.selectors.

Exactness rule: OrgDailyUsage is a rebuilt copy of the rollups. Before using it for a period, its event count
is compared with the organization's counters (OrgUsageSlot); if they differ (a refresh is pending, or a late
event landed on a past day) that period is read from the rollups directly and a refresh is queued, so a page
never shows a total that disagrees with the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import DecimalField, F, FilteredRelation, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy

from apps.accounts.models import User
from apps.common.money import ZERO
from apps.common.periods import (
    Period,
    local_date,
    local_midnight,
    period_containing,
    period_for_start,
    previous_month_start,
)
from apps.organizations.models import Membership, Organization, Role
from apps.seats.models import Product, SeatAssignment, SeatTier
from apps.usage.models import AIModel, CapScope, MemberPeriodUsage, OrgUsageSlot, SpendCap, UsageDailyRollup
from apps.usage.selectors import (
    Counters,
    SpendStatus,
    members_counters,
    org_caps,
    org_counters,
    spend_status_compute,
)

from .forecast import METHOD, Forecast, forecast_month_end, today_remaining_fraction, window_days
from .models import DEFAULT_THRESHOLDS, NotificationSettings, OrgDailyUsage, SpendNotice

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


def org_daily_rows(*, organization: Organization, clock: Clock) -> list[DailyRow]:
    """Per (day, model, product) totals of the current and previous periods, exact (see module docstring).
    Three queries when the stored totals are current, four or five when a period has to be read live."""
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
        return [*stored, *live_today]
    rows = [r for r in stored if r.period_start not in stale]
    rows += _rollup_rows(
        UsageDailyRollup.objects.filter(organization=organization, period_start__in=stale, day__lt=clock.today)
    )
    for period_start in stale:
        transaction.on_commit(lambda p=period_start: _refresh_soon(organization.pk, p))
    return rows + live_today


def _refresh_soon(organization_id: int, period_start: dt.date) -> None:
    """Queue a rebuild of lagging daily totals, at most once a minute per organization and period; a broker
    outage only delays it until the 5-minute sweep (the page has already been served from the rollups)."""
    from .tasks import org_daily_refresh_task  # tasks import services, which import this module

    if not cache.add(f"monitoring:refresh:{organization_id}:{period_start}", 1, timeout=60):
        return
    try:
        org_daily_refresh_task.delay(organization_id, period_start.isoformat())
    except Exception:  # the sweep catches up; a dashboard must not fail because the broker is down
        logger.warning("could not queue the daily totals rebuild of organization %s", organization_id,
                       exc_info=True)


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
    rows = org_daily_rows(organization=organization, clock=clock)
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


def _decimal(value) -> Decimal:
    """A raw-SQL sum as a Decimal: PostgreSQL returns one; the demo's SQLite returns a float, read via str()."""
    if value is None:
        return ZERO
    return value if isinstance(value, Decimal) else Decimal(str(value))


def tier_dashboard(*, organization: Organization, now: dt.datetime) -> tuple[Clock, list[TierRow]]:
    """Spend and members per seat tier (members without a seat in their own row), with average and top
    spenders per tier. Two queries."""
    clock = clock_for(organization=organization, now=now)
    qn = connection.ops.quote_name
    membership_t, seat_t = qn(Membership._meta.db_table), qn(SeatAssignment._meta.db_table)
    usage_t = qn(MemberPeriodUsage._meta.db_table)
    user_t = qn(User._meta.db_table)
    # One pass over the members: the CTE is materialized once and feeds both the totals and the ranking.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH base AS MATERIALIZED ("
            f"  SELECT m.id, m.user_id, sa.tier_id, COALESCE(u.spend, 0) AS spend, "
            f"         COALESCE(u.included_spend, 0) AS included "
            f"  FROM {membership_t} m "
            f"  LEFT JOIN {seat_t} sa ON sa.membership_id = m.id AND sa.ended_at IS NULL "
            f"  LEFT JOIN {usage_t} u ON u.membership_id = m.id AND u.period_start = %s "
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
            [clock.period.start, organization.pk],
        )
        result = cursor.fetchall()
    totals = [(tier_id, count, _decimal(spend), _decimal(included))
              for kind, tier_id, count, spend, included, *_ in result if kind == 0]
    top_rows = [(tier_id, mid, email, name, _decimal(spend))
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
    forecast: Forecast


@dataclass
class MemberTable:
    clock: Clock
    page: Page
    rows: list[MemberRow]
    org_total: Decimal
    query: str
    sort: str
    method: str = METHOD


def member_table(*, organization: Organization, now: dt.datetime, query: str = "", sort: str = "-spend",
                 page_number: object = 1) -> MemberTable:
    """One page of the member table: MTD spend, share of the organization, effective limit, remaining and the
    month-end projection, searchable by email or name and sortable by spend or email. A fixed number of
    queries per page (count, page, its members, seats, caps, member and org counters, the 7-day window)."""
    clock = clock_for(organization=organization, now=now)
    sort = sort if sort in MEMBER_SORTS else "-spend"
    members = Membership.objects.active().filter(organization=organization)
    query = (query or "").strip()[:100]
    if query:
        members = members.filter(Q(user__email__icontains=query) | Q(user__name__icontains=query))
    # Sort and page on (id, spend) alone; users are loaded for the page's rows only.
    ranked = members.annotate(
        usage=FilteredRelation("period_usage", condition=Q(period_usage__period_start=clock.period.start)),
        mtd=Coalesce(F("usage__spend"), Value(ZERO), output_field=MONEY_FIELD),
    ).order_by(*MEMBER_SORTS[sort]).values_list("pk", "mtd")
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
    tiers = {s.membership_id: s.tier for s in
             SeatAssignment.objects.filter(membership_id__in=ids, ended_at__isnull=True).select_related("tier")}
    caps = org_caps(organization=organization, membership_ids=ids)
    counters = members_counters(membership_ids=ids, period_start=clock.period.start)
    org = org_counters(organization_id=organization.pk, period_start=clock.period.start)
    statuses = {
        m.pk: spend_status_compute(membership_id=m.pk, tier_id=tiers[m.pk].pk if m.pk in tiers else None, caps=caps,
                                   member=counters.get(m.pk, Counters()), org=org)
        for m in memberships
    }
    org_total = org.spend
    recent: dict[int, dict[dt.date, Decimal]] = defaultdict(dict)
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
            forecast=forecast_month_end(month_to_date=m.mtd, daily_spend=recent.get(m.pk, {}), today=clock.today,
                                        period_end=clock.period.end, today_remaining=clock.today_remaining),
        ))
    return MemberTable(clock, page, rows, org_total, query, sort)


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
    method: str = METHOD

    @property
    def included_remaining(self) -> Decimal | None:
        if self.included_usage is None:
            return None
        return max(self.included_usage - self.status.included_spend, ZERO)

    @property
    def extra_spend(self) -> Decimal:
        return self.status.total_spend - self.status.included_spend


def member_usage(*, organization: Organization, membership: Membership, now: dt.datetime) -> MemberUsage:
    """One member's month: spend, effective limit and remaining, included usage used and left (seat-based
    plans), when extra usage began and what it cost, the daily chart, model and product mix, the forecast and
    the notices sent this period. A fixed number of queries."""
    clock = clock_for(organization=organization, now=now)
    seat = SeatAssignment.objects.filter(membership=membership, ended_at__isnull=True).select_related("tier").first()
    tier = seat.tier if seat else None
    caps = org_caps(organization=organization, membership_ids=[membership.pk])
    own = MemberPeriodUsage.objects.filter(membership=membership, period_start=clock.period.start).values_list(
        "spend", "included_spend", "extra_usage_started_at").first()
    spend, included_spend, started = own or (ZERO, ZERO, None)
    org_capped = caps.organization is not None and caps.organization.amount is not None
    status = spend_status_compute(
        membership_id=membership.pk, tier_id=tier.pk if tier else None, caps=caps,
        member=Counters(spend, included_spend),
        org=org_counters(organization_id=organization.pk, period_start=clock.period.start) if org_capped
        else Counters(),
    )
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
    return MemberUsage(
        clock=clock, membership=membership, tier=tier, status=status,
        daily=_daily_chart(clock, current, previous),
        by_model=_shares(dict(by_model)), by_product=_shares(dict(by_product)),
        forecast=forecast_month_end(month_to_date=status.total_spend, daily_spend=recent, today=clock.today,
                                    period_end=clock.period.end, today_remaining=clock.today_remaining),
        included_usage=tier.included_usage.amount if tier and organization.is_seat_based else None,
        extra_usage_started_at=started if organization.is_seat_based else None,
        notices=notices,
    )


def org_admin_emails(*, organization: Organization, minimum: str) -> list[str]:
    """Emails of the organization's active members at or above a role (admins: admin and owners)."""
    roles = [Role.PRIMARY_OWNER, Role.OWNER] + ([Role.ADMIN] if minimum == Role.ADMIN else [])
    return sorted(Membership.objects.active().filter(organization=organization, role__in=roles)
                  .values_list("user__email", flat=True))
