"""Reads of the Admin API: key lookup, and the pages of the effective report, the configured limits and the
increase requests. Each page loads in a fixed number of queries whatever its size.

The effective limit of a member is exactly what admission enforces: read by admission's own loader
(`spending.selectors.spend_contexts_load`) and worked out by `usage.selectors.spend_status_compute`: the level
with the least headroom left, ties going to the most specific (member, then seat tier, then organization).
When no cap applies at any level the member is unlimited and the organization row (amount null) is named as
the source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce

from apps.common.ids import api_key_digest
from apps.common.periods import period_containing
from apps.extra_usage.models import ExtraUsageRequest
from apps.extra_usage.selectors import extra_usage_settings
from apps.organizations.models import Membership, Organization, PlanKind
from apps.seats.models import SeatTier
from apps.spending.selectors import spend_contexts_load
from apps.usage.models import AIModel, CapScope, SpendCap, UsageDailyRollup, UsageHourlyRollup
from apps.usage.selectors import SpendStatus

from .models import AdminApiKey

# The preview list groups rows by level, least specific first.
SCOPE_RANK = {CapScope.ORGANIZATION: 0, CapScope.SEAT_TIER: 1, CapScope.MEMBER: 4}


def admin_api_key_authenticate(*, raw_key: str) -> AdminApiKey | None:
    """The active key matching a raw key, with its organization, or None (unknown or revoked)."""
    if not raw_key or len(raw_key) > 200:
        return None
    key = AdminApiKey.objects.select_related("organization").filter(digest=api_key_digest(raw_key)).first()
    if key is None or key.revoked_at is not None:
        return None
    return key


def admin_api_keys(*, organization: Organization) -> QuerySet[AdminApiKey]:
    return AdminApiKey.objects.filter(organization=organization).select_related("created_by")


def extra_usage_switched_off(*, organization: Organization) -> bool:
    """Seat-based Enterprise with extra usage off: its caps are kept but nothing beyond included usage is spent
    (the organization row reports `is_enabled: false`). Usage-based Enterprise has no such switch."""
    if organization.plan_kind != PlanKind.ENTERPRISE_SEAT:
        return False
    return not extra_usage_settings(organization=organization).enabled


@dataclass(frozen=True)
class EffectiveRow:
    """One member's effective monthly limit: the binding cap row (the organization row when unlimited)."""

    membership: Membership
    tier: SeatTier | None
    status: SpendStatus
    cap: SpendCap

    @property
    def amount(self):
        return self.status.limit


def effective_rows(*, organization: Organization, memberships: list[Membership], org_cap: SpendCap,
                   now: dt.datetime) -> list[EffectiveRow]:
    """Effective limits for already-loaded memberships (with users): one statement whatever their number (their
    spend contexts, as admission reads them)."""
    if not memberships:
        return []
    period = period_containing(now, organization.billing_timezone)
    context, found = spend_contexts_load(organization=organization, period=period,
                                         membership_ids=[m.pk for m in memberships])
    caps = context.caps
    rows = []
    for membership in memberships:
        tier, status = found[membership.pk].tier, found[membership.pk].status
        cap = status.cap if status.cap is not None else (caps.organization or org_cap)
        # The binding row's scope is the member's own or their tier: attach the loaded objects (no lazy loads).
        if cap.scope == CapScope.MEMBER:
            cap.membership = membership
        elif cap.scope == CapScope.SEAT_TIER and tier is not None:
            cap.tier = tier
        rows.append(EffectiveRow(membership, tier, status, cap))
    return rows


def effective_members_page(*, organization: Organization, user_ids: list[str] | None,
                           after: tuple[dt.datetime, str] | None, limit: int) -> tuple[list[Membership], bool]:
    """Current members, newest join first (ties by user id), after a keyset position. Returns the page and
    whether more follow. Ids that are not current members are silently left out."""
    members = Membership.objects.filter(organization=organization).select_related("user")
    if user_ids is not None:
        members = members.filter(user__public_id__in=user_ids)
    if after is not None:
        joined_at, public_id = after
        members = members.filter(Q(joined_at__lt=joined_at) | Q(joined_at=joined_at, user__public_id__lt=public_id))
    page = list(members.order_by("-joined_at", "-user__public_id")[: limit + 1])
    return page[:limit], len(page) > limit


def spend_limit_in_org(*, organization: Organization, public_id: str) -> SpendCap | None:
    return (
        SpendCap.objects.filter(organization=organization, public_id=public_id)
        .select_related("tier", "membership__user")
        .first()
    )


def spend_limits_page(*, organization: Organization, scopes: list[str] | None, after: tuple[int, int, str] | None,
                      limit: int) -> tuple[list[SpendCap], bool]:
    """Configured rows grouped by level (organization, seat tier, member); tiers in plan order, members by
    spend-limit id. Keyset position: (level rank, tier position, spend-limit id)."""
    rank = Case(*[When(scope=scope, then=Value(r)) for scope, r in SCOPE_RANK.items()], output_field=IntegerField())
    rows = (
        SpendCap.objects.filter(organization=organization)
        .select_related("tier", "membership__user")
        .annotate(rank=rank, tier_position=Coalesce("tier__position", Value(0)))
    )
    if scopes is not None:
        rows = rows.filter(scope__in=scopes)
    if after is not None:
        r, p, pid = after
        rows = rows.filter(
            Q(rank__gt=r) | Q(rank=r, tier_position__gt=p) | Q(rank=r, tier_position=p, public_id__gt=pid)
        )
    page = list(rows.order_by("rank", "tier_position", "public_id")[: limit + 1])
    return page[:limit], len(page) > limit


def increase_requests_page(*, organization: Organization, statuses: list[str] | None,
                           actor_ids: list[str] | None, after: tuple[dt.datetime, str] | None,
                           limit: int) -> tuple[list[ExtraUsageRequest], bool]:
    """An organization's increase requests, newest first (ties by id), of current members only."""
    requests = ExtraUsageRequest.objects.filter(organization=organization).select_related(
        "membership__user", "resolved_by"
    )
    if statuses is not None:
        # A request closed as no longer needed reads as approved (its member can spend again).
        wanted = set(statuses) | ({"closed"} if "approved" in statuses else set())
        requests = requests.filter(status__in=sorted(wanted))
    if actor_ids is not None:
        requests = requests.filter(membership__user__public_id__in=actor_ids)
    if after is not None:
        created_at, public_id = after
        requests = requests.filter(Q(created_at__lt=created_at) | Q(created_at=created_at, public_id__lt=public_id))
    page = list(requests.order_by("-created_at", "-public_id")[: limit + 1])
    return page[:limit], len(page) > limit


def increase_request_in_org(*, organization: Organization, public_id: str) -> ExtraUsageRequest | None:
    """A request of a current member of the organization, or None. (A member's requests go with their
    membership, so a former member's request is not found.)"""
    return (
        ExtraUsageRequest.objects.filter(organization=organization, public_id=public_id)
        .select_related("membership__user", "membership__organization", "resolved_by")
        .first()
    )


# --- Usage and Cost Analytics: reads of the hourly rollup ---------------------------------------------------

# The dimensions a report can be broken out by, as columns of UsageHourlyRollup (actor: the member).
ANALYTICS_DIMENSIONS = {"actor": "membership_id", "model": "model_id", "product": "product",
                        "context_window": "long_context"}
# What each `order_by` ranks by (sums of the read rows' columns); `time` ranks buckets and then by the default.
ANALYTICS_METRICS = {
    "amount": "sum(r.cost)",
    "list_amount": "sum(r.cost)",
    "total_tokens": "sum(r.input_tokens + r.output_tokens + r.cache_write_tokens + r.cache_read_tokens)",
    "output_tokens": "sum(r.output_tokens)",
    "uncached_input_tokens": "sum(r.input_tokens)",
    "requests": "sum(r.event_count)",
}
_BUCKETS = {"1h": "r.hour", "1d": "date_trunc('day', r.hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"}
_TOKENS = "input_tokens, output_tokens, cache_write_tokens, cache_read_tokens"


@dataclass(frozen=True)
class AnalyticsFilter:
    """Which usage a report reads: one organization, whole UTC hours [start, end), and the filters."""

    organization_id: int
    start: dt.datetime
    end: dt.datetime
    model_ids: list[int] | None = None
    products: list[str] | None = None
    long_context: list[bool] | None = None
    user_public_ids: list[str] | None = None
    current_members_only: bool = False


@dataclass(frozen=True)
class AnalyticsRow:
    """One group's sums: `bucket` (the UTC bucket's start, or None), the group's dimension values by name, and the
    tokens, cost (Decimal dollars) and requests. The cost by token kind is read only when asked for
    (`by_kind`); otherwise those four are None."""

    bucket: dt.datetime | None
    dims: dict
    input_tokens: int
    output_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    cost: Decimal
    requests: int
    input_cost: Decimal | None = None
    output_cost: Decimal | None = None
    cache_write_cost: Decimal | None = None
    cache_read_cost: Decimal | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens


def _whole_days(start: dt.datetime, end: dt.datetime) -> tuple[dt.date, dt.date] | None:
    """The whole UTC days inside [start, end), as [first, after), or None."""
    first = start.date() if start.hour == 0 else start.date() + dt.timedelta(days=1)
    after = end.date()
    return (first, after) if first < after else None


def _usage_source(*, where: AnalyticsFilter, daily_ok: bool, by_kind: bool) -> tuple[str, list]:
    """The rows a report sums, as a subquery `r` (organization_id, membership_id, model_id, product, long_context,
    hour, tokens by kind, cost, event_count[, cost by kind]) with its parameters.

    Hours come from the hourly rollup. When the organization's days are UTC days and the report needs neither
    the context window nor the cost by token kind (`daily_ok`), the range's whole days come from the daily rollup
    instead (about a twentieth of the rows) and only the partial days at its edges from the hourly one: both are
    written in each event's transaction, so the sums are the same to the last digit.
    """
    qn = connection.ops.quote_name
    hourly, daily = qn(UsageHourlyRollup._meta.db_table), qn(UsageDailyRollup._meta.db_table)
    members = qn(Membership._meta.db_table)
    users = qn(Membership._meta.get_field("user").related_model._meta.db_table)
    conditions, params = ["t.organization_id = %s"], [where.organization_id]
    for column, values in (("model_id", where.model_ids), ("product", where.products),
                           ("long_context", where.long_context)):
        if values is not None:
            conditions.append(f"t.{column} = ANY(%s)")
            params.append(values)
    if where.user_public_ids is not None:
        conditions.append(f"t.membership_id IN (SELECT ms.id FROM {members} ms JOIN {users} u ON u.id = ms.user_id "
                          f"WHERE ms.organization_id = %s AND u.public_id = ANY(%s))")
        params += [where.organization_id, where.user_public_ids]
    if where.current_members_only:
        conditions.append(f"t.membership_id IN (SELECT ms.id FROM {members} ms JOIN {users} u ON u.id = ms.user_id "
                          f"WHERE ms.organization_id = %s AND ms.removed_at IS NULL AND u.is_active)")
        params.append(where.organization_id)
    common = " AND ".join(conditions)
    kinds = ", t.input_cost, t.output_cost, t.cache_write_cost, t.cache_read_cost" if by_kind else ""
    hourly_select = (f"SELECT t.organization_id, t.membership_id, t.model_id, t.product, t.long_context, t.hour, "
                     f"{', '.join('t.' + c for c in _TOKENS.split(', '))}, "
                     f"t.input_cost + t.output_cost + t.cache_write_cost + t.cache_read_cost AS cost, "
                     f"t.event_count{kinds} FROM {hourly} t WHERE {common}")
    days = _whole_days(where.start, where.end) if daily_ok and where.long_context is None and not by_kind else None
    if days is None:
        return (f"({hourly_select} AND t.hour >= %s AND t.hour < %s)",
                [*params, where.start, where.end])
    first, after = days
    first_at = dt.datetime.combine(first, dt.time(), dt.UTC)
    after_at = dt.datetime.combine(after, dt.time(), dt.UTC)
    daily_select = (f"SELECT t.organization_id, t.membership_id, t.model_id, t.product, NULL::boolean, "
                    f"t.day::timestamp AT TIME ZONE 'UTC', {', '.join('t.' + c for c in _TOKENS.split(', '))}, "
                    f"t.cost, t.event_count FROM {daily} t WHERE {common} AND t.day >= %s AND t.day < %s")
    sql = (f"({hourly_select} AND ((t.hour >= %s AND t.hour < %s) OR (t.hour >= %s AND t.hour < %s)) "
           f"UNION ALL {daily_select})")
    return sql, [*params, where.start, first_at, after_at, where.end, *params, first, after]


def analytics_rows(*, where: AnalyticsFilter, dimensions: list[str], bucket: str | None, order_by: str,
                   descending: bool, measures: str = "both", daily_ok: bool = False, by_kind: bool = False,
                   by_time_first: bool = False, limit: int | None = None, offset: int = 0) -> list[AnalyticsRow]:
    """The organization's usage in the range summed per group (and per UTC bucket), in one statement over the
    rollups (never raw events): ranked by `order_by` (ties by the group's values, so pages are stable), or by
    bucket first when `by_time_first`. `limit`/`offset` page the groups. `measures`: "cost", "usage" or "both"
    (what the report shows; the other sums read zero). `daily_ok`: see _usage_source."""
    source, params = _usage_source(where=where, daily_ok=daily_ok and bucket != "1h", by_kind=by_kind)
    columns = [f"r.{ANALYTICS_DIMENSIONS[d]}" for d in dimensions]
    bucket_sql = _BUCKETS[bucket] if bucket else "NULL::timestamptz"
    direction = "DESC" if descending else "ASC"
    metric = f"{ANALYTICS_METRICS[order_by]} {direction}"
    order = [f"1 {direction}", f"{ANALYTICS_METRICS[order_by]} DESC"] if by_time_first else [metric, "1"]
    order += [str(n) for n in range(2, len(columns) + 2)]
    group = ", ".join(str(n) for n in range(1, len(columns) + 2))
    # sum(bigint) is numeric: back to bigint, so the counts answer as JSON integers. A cost report without the
    # token kinds adds no tokens (zeros instead), a usage report no cost: half the work on a 10,000-member range.
    tokens = ("sum(r.input_tokens)::bigint, sum(r.output_tokens)::bigint, sum(r.cache_write_tokens)::bigint, "
              "sum(r.cache_read_tokens)::bigint" if measures != "cost" or by_kind else "0, 0, 0, 0")
    cost = "sum(r.cost)" if measures != "usage" else "0"
    sums = f"{tokens}, {cost}, sum(r.event_count)::bigint"
    if by_kind:
        sums += ", sum(r.input_cost), sum(r.output_cost), sum(r.cache_write_cost), sum(r.cache_read_cost)"
    sql = (f"SELECT {bucket_sql}, {''.join(c + ', ' for c in columns)}{sums} FROM {source} r "
           f"GROUP BY {group} ORDER BY {', '.join(order)}")
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        params += [limit, offset]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        fetched = cursor.fetchall()
    n = len(columns)
    return [AnalyticsRow(row[0], dict(zip(dimensions, row[1:n + 1], strict=True)), *row[n + 1:]) for row in fetched]


def analytics_models() -> dict[int, AIModel]:
    """Every model by id (a small table: the reports name models by alias and filter by alias or API id)."""
    return {m.pk: m for m in AIModel.objects.all()}


def analytics_actors(*, organization: Organization, membership_ids) -> dict[int, Membership]:
    """The members behind a page of report rows, with their users, in one query (removed members included)."""
    if not membership_ids:
        return {}
    return {m.pk: m for m in Membership.objects.filter(organization=organization, pk__in=set(membership_ids))
            .select_related("user")}
