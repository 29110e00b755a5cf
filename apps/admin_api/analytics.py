"""The Usage and Cost Analytics API (`client.beta.organization.analytics` of the official `anthropic` SDK 2.12.0):
`GET /v1/organizations/analytics/cost` and `/usage`, and the legacy `cost_report`, `usage_report`,
`user_cost_report` and `user_usage_report`. The contract is the SDK's code and docstrings; where the portal has
less (no workspaces, Slack, regions, fast mode, web search or code execution) it says so:

- Figures are read from the rollups written in each event's transaction (the hourly `usage.UsageHourlyRollup`,
  and for whole UTC days the daily one where it can serve: selectors._usage_source), one statement per report
  whatever the number of members, and equal the sums of the stored events whose
  `occurred_at` falls in the range: amounts in exact fractional cents (dollars × 100, no rounding), `list_amount`
  equal to `amount` (the portal prices at list rates), currency the organization's.
- The range is [starting_at, ending_at) in whole UTC hours (both rounded down to the hour, as documented), at
  most 31 days, starting within the last 365 days; `ending_at` defaults to the earlier of now and starting_at +
  31 days, and is required with a time bucket except on the bucketed legacy reports. Buckets (`1d`, `1h`) are
  UTC days and hours; a bucket cut by the range reports the part inside it as its `starting_at`/`ending_at`.
  `1m` is refused (the portal keeps hourly rollups).
- `group_by[]`: actor (the member: `user_actor` with `deleted` for removed members or deleted accounts),
  actor_type (always `user_actor`: every event is a member's), product, model (its alias), context_window
  (`0-200k`, or `200k-1M` for prompts priced at long-context rates) and, on cost reports, cost_type (always
  `tokens`) and token_type (`uncached_input_tokens`, `output_tokens`, `cache_read_input_tokens`,
  `cache_creation.ephemeral_5m_input_tokens`: the portal records cache writes without their TTL and reports them
  as 5-minute writes). Fan-out rows of cost_type/token_type do not count toward `limit` and have
  `requests: null`, as documented.
- Refusals: any other `group_by[]` value, a filter the portal cannot apply (`workspace_ids[]`,
  `slack_channel_ids[]`, `speeds[]`, …), an unknown model or product, a non-`user_` actor id or a bad value →
  400 `invalid_request_error` naming the parameter (rather than a null group: a script asking for a breakdown
  the portal does not have is told so). Unknown parameters the SDK does not send are ignored.
- `page` is an opaque cursor bound to every other parameter but `limit` (another filter → 400 `page: cursor does
  not match current query parameters`). `data_refreshed_at` is the time of the read: the rollups are current.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

from django.http import HttpRequest

from apps.common.ids import is_tagged_id
from apps.common.money import decimal_str
from apps.seats.models import Product

from .cursors import CursorError, cursor_decode, cursor_encode, filter_hash
from .errors import Call, bad_request
from .presenters import rfc3339
from .selectors import AnalyticsFilter, AnalyticsRow, analytics_actors, analytics_models, analytics_rows

MAX_RANGE = dt.timedelta(days=31)
MAX_AGE = dt.timedelta(days=365)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
WIDTHS = {"1h": HOUR, "1d": DAY}
CONTEXT_WINDOWS = {"0-200k": False, "200k-1M": True}
HUNDRED = Decimal(100)
MAX_LIST = 1000
CURSOR_MESSAGES = {
    "invalid": "page: invalid cursor",
    "mismatch": "page: cursor does not match current query parameters",
    "version": "page: cursor was issued by a different API version",
}
# Filters of the published API the portal has nothing to apply to: naming one is a 400.
UNSUPPORTED_FILTERS = ("actor_types", "agent_ids", "api_key_ids", "claude_tag_categories", "claude_tag_user_ids",
                       "deployment_ids", "environment_ids", "inference_geos", "organization_ids", "rbac_group_ids",
                       "service_tiers", "session_ids", "slack_channel_ids", "speeds", "user_profile_ids",
                       "workspace_ids")
FANOUT = ("cost_type", "token_type")
# (token_type, rollup tokens attribute, rollup cost attribute), in the order the fan-out rows are listed.
TOKEN_KINDS = (("uncached_input_tokens", "input_tokens", "input_cost"),
               ("output_tokens", "output_tokens", "output_cost"),
               ("cache_read_input_tokens", "cache_read_tokens", "cache_read_cost"),
               ("cache_creation.ephemeral_5m_input_tokens", "cache_write_tokens", "cache_write_cost"))


@dataclass(frozen=True)
class Report:
    """What one endpoint accepts and how it answers."""

    name: str
    kind: str  # "cost" or "usage"
    shape: str  # "current", "bucketed" (legacy time buckets) or "users" (legacy per member)
    group_by: tuple[str, ...]
    order_by: tuple[str, ...] = ()
    bucket_param: str = "time_bucket_width"
    actor_param: str = "actor_ids"
    ending_required_with_bucket: bool = True
    has_exclude_deleted: bool = True


COST_GROUPS = ("actor", "actor_type", "product", "model", "context_window", "cost_type", "token_type")
USAGE_GROUPS = ("actor", "actor_type", "product", "model", "context_window")
LEGACY_COST_GROUPS = ("product", "model", "context_window", "cost_type", "token_type")
LEGACY_USAGE_GROUPS = ("product", "model", "context_window")
USAGE_ORDER = ("total_tokens", "output_tokens", "uncached_input_tokens", "requests")

COST = Report("cost", "cost", "current", COST_GROUPS, ("amount", "list_amount", "time"))
USAGE = Report("usage", "usage", "current", USAGE_GROUPS, (*USAGE_ORDER, "time"))
COST_REPORT = Report("cost_report", "cost", "bucketed", LEGACY_COST_GROUPS, bucket_param="bucket_width",
                     actor_param="user_ids", ending_required_with_bucket=False, has_exclude_deleted=False)
USAGE_REPORT = Report("usage_report", "usage", "bucketed", LEGACY_USAGE_GROUPS, bucket_param="bucket_width",
                      actor_param="user_ids", ending_required_with_bucket=False, has_exclude_deleted=False)
USER_COST_REPORT = Report("user_cost_report", "cost", "users", LEGACY_COST_GROUPS, ("amount", "list_amount"),
                          bucket_param="bucket_width", actor_param="user_ids")
USER_USAGE_REPORT = Report("user_usage_report", "usage", "users", LEGACY_USAGE_GROUPS, USAGE_ORDER,
                           bucket_param="bucket_width", actor_param="user_ids")
# Legacy time-bucket reports page by buckets: (default, maximum) buckets per page.
BUCKET_LIMITS = {"1d": (7, 31), "1h": (24, 168)}
GROUPS_PER_BUCKET = 100


@dataclass
class Query:
    """A report's validated parameters."""

    where: AnalyticsFilter
    bucket: str | None
    dimensions: list[str]  # SQL dimensions (actor, model, product, context_window)
    actor_type: bool
    fanout: set[str]
    order_by: str
    descending: bool
    kind: str
    limit: int
    offset: int
    digest: str
    by_time: bool  # order_by=time with buckets: buckets first, then the default metric


# --- Parameters ----------------------------------------------------------------------------------------------


def _values(request: HttpRequest, name: str) -> list[str] | None:
    values = request.GET.getlist(f"{name}[]")
    if not values:
        return None
    if len(values) > MAX_LIST:
        raise bad_request(f"{name}[]: at most {MAX_LIST} values are allowed")
    return values


def _instant(request: HttpRequest, name: str) -> dt.datetime | None:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = dt.datetime.fromisoformat(raw.strip().replace(" ", "+"))  # a bare "+" in a URL reads as a space
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise bad_request(f"{name}: must be an RFC 3339 timestamp with a time zone, e.g. 2026-11-01T00:00:00Z")
    return moment.astimezone(dt.UTC)


def _floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _range(request: HttpRequest, report: Report, bucket: str | None, now: dt.datetime) -> tuple:
    starting_at = _instant(request, "starting_at")
    if starting_at is None:
        raise bad_request("starting_at: required")
    ending_at = _instant(request, "ending_at")
    if ending_at is None:
        if bucket and report.ending_required_with_bucket:
            raise bad_request(f"ending_at: required when {report.bucket_param} is set")
        ending_at = min(now, starting_at + MAX_RANGE)
    if starting_at < now - MAX_AGE:
        raise bad_request("starting_at: must be within the last 365 days")
    if ending_at <= starting_at:
        raise bad_request("ending_at: must be after starting_at")
    if ending_at - starting_at > MAX_RANGE:
        raise bad_request("ending_at: the range may span at most 31 days")
    return _floor_hour(starting_at), _floor_hour(ending_at)


def _choice(request: HttpRequest, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = request.GET.get(name) or default
    if value not in allowed:
        raise bad_request(f"{name}: must be one of {', '.join(allowed)}")
    return value


def _int(request: HttpRequest, name: str, default: int, maximum: int) -> int:
    raw = request.GET.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= maximum:
        raise bad_request(f"{name}: must be an integer between 1 and {maximum}")
    return value


def _bool(request: HttpRequest, name: str) -> bool:
    raw = (request.GET.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise bad_request(f"{name}: must be true or false")
    return raw in ("true", "1")


def _query(request: HttpRequest, call: Call, report: Report, models: dict) -> Query:
    for name in UNSUPPORTED_FILTERS:
        if request.GET.getlist(f"{name}[]") or request.GET.get(name):
            raise bad_request(f"{name}[]: not supported by this portal (Claude Enterprise usage has no such "
                              "attribute)")
    bucket = request.GET.get(report.bucket_param) or ("1d" if report.shape == "bucketed" else None)
    if bucket is not None and bucket not in WIDTHS:
        if bucket == "1m":
            raise bad_request(f"{report.bucket_param}: 1m is not supported (the portal keeps hourly rollups); "
                              "use 1h or 1d")
        raise bad_request(f"{report.bucket_param}: must be one of 1d, 1h")
    start, end = _range(request, report, bucket, call.now)

    groups = _values(request, "group_by") or []
    for value in groups:
        if value not in report.group_by:
            raise bad_request(f"group_by[]: {value} is not supported here (supported: {', '.join(report.group_by)})")
    groups = sorted(set(groups))
    dimensions = [d for d in ("actor", "model", "product", "context_window")
                  if d in groups or (d == "actor" and report.shape == "users")]

    model_ids = None
    if (names := _values(request, "models")) is not None:
        by_name = {n: m.pk for m in models.values() for n in (m.alias, m.api_id)}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise bad_request(f"models[]: unknown model {unknown[0]!r}")
        model_ids = sorted({by_name[n] for n in names})
    products = _values(request, "products")
    if products is not None:
        for value in products:
            if value not in Product.values:
                raise bad_request(f"products[]: {value} is not a product of this portal (one of "
                                  f"{', '.join(Product.values)})")
        products = sorted(set(products))
    windows = _values(request, "context_windows")
    if windows is not None:
        for value in windows:
            if value not in CONTEXT_WINDOWS:
                raise bad_request(f"context_windows[]: must be one of {', '.join(CONTEXT_WINDOWS)}")
        windows = sorted({CONTEXT_WINDOWS[w] for w in windows})
    actors = _values(request, report.actor_param)
    if actors is not None:
        if not all(is_tagged_id(a, "user") for a in actors):
            raise bad_request(f"{report.actor_param}[]: only member IDs (user_…) are supported")
        actors = sorted(set(actors))
    exclude_deleted = report.has_exclude_deleted and _bool(request, "exclude_deleted_users")
    if exclude_deleted and "actor" not in dimensions:
        raise bad_request("exclude_deleted_users: requires group_by[]=actor")

    default_order = "amount" if report.kind == "cost" else "total_tokens"
    order_by = _choice(request, "order_by", report.order_by, default_order) if report.order_by else default_order
    order = _choice(request, "order", ("asc", "desc"), "desc") if report.shape != "bucketed" else "desc"
    if report.shape == "bucketed":
        default_limit, max_limit = BUCKET_LIMITS[bucket]
    else:
        default_limit, max_limit = 20, 1000
    limit = _int(request, "limit", default_limit, max_limit)

    filters = {"start": start.isoformat(), "end": end.isoformat(), "bucket": bucket, "group_by": groups,
               "models": model_ids, "products": products, "windows": windows, "actors": actors,
               "exclude_deleted": exclude_deleted, "order_by": order_by, "order": order}
    digest = filter_hash(organization_id=call.organization.pk, endpoint=f"analytics.{report.name}", filters=filters)
    offset = 0
    if token := request.GET.get("page"):
        try:
            key = cursor_decode(token, filters_digest=digest)
        except CursorError as error:
            raise bad_request(CURSOR_MESSAGES[error.kind]) from None
        if len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool) or key[0] < 0:
            raise bad_request(CURSOR_MESSAGES["invalid"])
        offset = key[0]
    where = AnalyticsFilter(organization_id=call.organization.pk, start=start, end=end, model_ids=model_ids,
                            products=products, long_context=windows, user_public_ids=actors,
                            current_members_only=exclude_deleted)
    return Query(where, bucket, dimensions, "actor_type" in groups, {g for g in groups if g in FANOUT},
                 order_by if order_by != "time" else default_order, order == "desc", report.kind, limit, offset,
                 digest, order_by == "time" and bucket is not None)


# --- Shapes --------------------------------------------------------------------------------------------------


def cents(dollars: Decimal) -> str:
    """Dollars → exact fractional cents ("1234.5678"), never rounded."""
    return decimal_str(dollars * HUNDRED)


def actor_json(membership) -> dict:
    """The member as a report's `user_actor`: a removed member keeps their email and name with `deleted: true`;
    a deleted account reads null email and "Deleted User"."""
    user = membership.user
    if not user.is_active:
        return {"type": "user_actor", "user_id": user.public_id, "email_address": None, "name": "Deleted User",
                "deleted": True}
    return {"type": "user_actor", "user_id": user.public_id, "email_address": user.email, "name": user.name or None,
            "deleted": membership.removed_at is not None}


class _Presenter:
    """Turns rollup rows into the SDK's row shapes for one page (the page's actors loaded in one query)."""

    def __init__(self, call: Call, query: Query, models: dict, rows: list[AnalyticsRow]):
        self.currency = call.organization.currency
        self.query = query
        self.models = models
        ids = [row.dims["actor"] for row in rows if "actor" in row.dims]
        self.actors = analytics_actors(organization=call.organization, membership_ids=ids)

    def bounds(self, row: AnalyticsRow) -> tuple[str, str]:
        where = self.query.where
        if row.bucket is None:
            return rfc3339(where.start), rfc3339(where.end)
        width = WIDTHS[self.query.bucket]
        return rfc3339(max(row.bucket, where.start)), rfc3339(min(row.bucket + width, where.end))

    def dims(self, row: AnalyticsRow, *, with_actor: bool = True) -> dict:
        dims = row.dims
        values = {}
        if with_actor:
            values["actor"] = actor_json(self.actors[dims["actor"]]) if "actor" in dims else None
            values["actor_type"] = "user_actor" if self.query.actor_type else None
        values["context_window"] = (("200k-1M" if dims["context_window"] else "0-200k")
                                    if "context_window" in dims else None)
        values["model"] = self.models[dims["model"]].alias if "model" in dims else None
        values["product"] = dims.get("product")
        return values

    def cost_parts(self, row: AnalyticsRow) -> list[tuple[dict, dict]]:
        """(cost fields, cost_type/token_type) per row to emit: one, or the cost_type/token_type fan-out."""
        def money(amount: Decimal, requests: int | None) -> dict:
            text = cents(amount)
            return {"amount": text, "list_amount": text, "currency": self.currency, "requests": requests}

        fanout = self.query.fanout
        if not fanout:
            return [(money(row.cost, row.requests), {"cost_type": None, "token_type": None})]
        if "token_type" not in fanout:
            return [(money(row.cost, None), {"cost_type": "tokens", "token_type": None})]
        return [(money(getattr(row, cost), None), {"cost_type": "tokens", "token_type": kind})
                for kind, tokens, cost in TOKEN_KINDS if getattr(row, tokens)]

    @staticmethod
    def usage(row: AnalyticsRow, *, total: bool = True) -> dict:
        cache_creation = {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": row.cache_write_tokens}
        usage = {"uncached_input_tokens": row.input_tokens, "cache_creation": cache_creation,
                 "cache_read_input_tokens": row.cache_read_tokens, "output_tokens": row.output_tokens,
                 "server_tool_use": {"web_search_requests": 0}, "requests": row.requests}
        if total:
            usage["total_tokens"] = row.total_tokens
        return usage


def _page(call: Call, query: Query, data: list, more: bool) -> dict:
    next_page = cursor_encode(key=[query.offset + query.limit], filters_digest=query.digest) if more else None
    return {"data": data, "has_more": more, "next_page": next_page, "data_refreshed_at": rfc3339(call.now)}


def _sources(call: Call, query: Query) -> dict:
    """Which rollups a report may read (selectors._usage_source): the daily one when the organization's days
    are UTC days (its billing time zone is set when it is created and never changes, so its daily rollups have
    always been UTC days) and the report needs neither the context window nor the cost by token kind."""
    by_kind = "token_type" in query.fanout
    daily_ok = (call.organization.billing_timezone == "UTC" and "context_window" not in query.dimensions
                and not by_kind)
    return {"daily_ok": daily_ok, "by_kind": by_kind, "measures": query.kind}


def _ranked_rows(call: Call, query: Query) -> tuple[list[AnalyticsRow], bool]:
    rows = analytics_rows(where=query.where, dimensions=query.dimensions, bucket=query.bucket,
                          order_by=query.order_by, descending=query.descending, **_sources(call, query),
                          by_time_first=query.by_time, limit=query.limit + 1, offset=query.offset)
    return rows[:query.limit], len(rows) > query.limit


def _zero_row() -> AnalyticsRow:
    return AnalyticsRow(None, {}, 0, 0, 0, 0, Decimal(0), 0)


def _current(request: HttpRequest, call: Call, report: Report) -> dict:
    models = analytics_models()
    query = _query(request, call, report, models)
    rows, more = _ranked_rows(call, query)
    if not rows and not query.dimensions and query.bucket is None and query.offset == 0:
        rows = [_zero_row()]  # the ungrouped report is one row, also when nothing was spent
    present = _Presenter(call, query, models, rows)
    data = []
    for row in rows:
        starting_at, ending_at = present.bounds(row)
        group = present.dims(row)
        if report.kind == "cost":
            for cost, kinds in present.cost_parts(row):
                data.append({"starting_at": starting_at, "ending_at": ending_at, "group": {**group, **kinds},
                             "cost": cost})
        else:
            data.append({"starting_at": starting_at, "ending_at": ending_at, "group": group,
                         "usage": present.usage(row)})
    return _page(call, query, data, more)


def _users(request: HttpRequest, call: Call, report: Report) -> dict:
    models = analytics_models()
    query = _query(request, call, report, models)
    rows, more = _ranked_rows(call, query)
    present = _Presenter(call, query, models, rows)
    data = []
    for row in rows:
        starting_at, ending_at = present.bounds(row) if query.bucket else (None, None)
        base = {"actor": actor_json(present.actors[row.dims["actor"]]), "starting_at": starting_at,
                "ending_at": ending_at, **present.dims(row, with_actor=False)}
        if report.kind == "cost":
            data += [{**base, **kinds, **cost} for cost, kinds in present.cost_parts(row)]
        else:
            data.append({**base, **present.usage(row)})
    return _page(call, query, data, more)


def _bucketed(request: HttpRequest, call: Call, report: Report) -> dict:
    """Legacy time buckets: every UTC bucket of the range in time order (empty ones too), `limit` buckets a
    page, each with its groups ranked by amount (cost) or total tokens (usage), at most 100 (as documented)."""
    models = analytics_models()
    query = _query(request, call, report, models)
    where, width = query.where, WIDTHS[query.bucket]
    first = where.start.replace(hour=0) if query.bucket == "1d" else where.start
    starts = []
    while first < where.end:
        starts.append(first)
        first += width
    page_starts = starts[query.offset:query.offset + query.limit]
    more = query.offset + query.limit < len(starts)
    rows: list[AnalyticsRow] = []
    if page_starts:
        page_where = replace(where, start=max(page_starts[0], where.start), end=min(page_starts[-1] + width, where.end))
        rows = analytics_rows(where=page_where, dimensions=query.dimensions, bucket=query.bucket,
                              order_by=query.order_by, descending=True, **_sources(call, query))
    present = _Presenter(call, query, models, rows)
    by_bucket: dict[dt.datetime, list] = {start: [] for start in page_starts}
    groups_in: dict[dt.datetime, int] = dict.fromkeys(page_starts, 0)
    for row in rows:
        if groups_in[row.bucket] >= GROUPS_PER_BUCKET:
            continue
        groups_in[row.bucket] += 1
        results = by_bucket[row.bucket]
        dims = present.dims(row, with_actor=False)
        if report.kind == "cost":
            results += [{**dims, **kinds, **cost} for cost, kinds in present.cost_parts(row)]
        else:
            results.append({**dims, **present.usage(row, total=False)})
    data = [{"starting_at": rfc3339(max(start, where.start)), "ending_at": rfc3339(min(start + width, where.end)),
             "results": by_bucket[start]} for start in page_starts]
    return _page(call, query, data, more)


def cost_list(request: HttpRequest, call: Call) -> dict:
    return _current(request, call, COST)


def usage_list(request: HttpRequest, call: Call) -> dict:
    return _current(request, call, USAGE)


def cost_report_list(request: HttpRequest, call: Call) -> dict:
    return _bucketed(request, call, COST_REPORT)


def usage_report_list(request: HttpRequest, call: Call) -> dict:
    return _bucketed(request, call, USAGE_REPORT)


def user_cost_report_list(request: HttpRequest, call: Call) -> dict:
    return _users(request, call, USER_COST_REPORT)


def user_usage_report_list(request: HttpRequest, call: Call) -> dict:
    return _users(request, call, USER_USAGE_REPORT)
