"""The Usage and Cost Analytics API through the official SDK (`client.beta.organization.analytics`) on a live
server: every group_by and bucket of every report equals a direct sum over the stored events, in exact
fractional cents."""

import itertools
from decimal import Decimal

import pytest

from .analytics_fixtures import TOKEN_KINDS, UsageHistory, expected_sums, group_key
from .conftest import sdk

pytestmark = pytest.mark.django_db(transaction=True)

DIMENSIONS = ("actor", "model", "product", "context_window")
GROUPINGS = [[], *[[d] for d in DIMENSIONS], ["model", "product"], list(DIMENSIONS)]
WIDTHS = (None, "1h", "1d")


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    settings.ADMIN_API_RATE_LIMIT_PER_MINUTE = 100_000


@pytest.fixture
def history(db):
    return UsageHistory()


def _range(history, width):
    return {"starting_at": history.start.isoformat(), "ending_at": history.end.isoformat(),
            **({"time_bucket_width": width} if width else {})}


def test_cost_of_every_group_by_and_bucket_equals_the_events(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    assert len(events) > 200
    total = sum(e.cost for e in events) * 100
    for width, dims in itertools.product(WIDTHS, GROUPINGS):
        rows = list(analytics.cost.list(**_range(history, width), group_by=dims, limit=1000))
        expected = expected_sums(events, dims, width)
        got = {group_key(r.starting_at, r.group, dims, width): r for r in rows}
        assert set(got) == set(expected), (width, dims)
        for key, row in got.items():
            assert Decimal(row.cost.amount) == expected[key]["amount"], (width, dims, key)
            assert row.cost.list_amount == row.cost.amount and row.cost.currency == "USD"
            assert row.cost.requests == expected[key]["requests"]
        assert sum(Decimal(r.cost.amount) for r in rows) == total, (width, dims)


def test_cost_by_token_type_and_cost_type_adds_up_to_the_total(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    rows = list(analytics.cost.list(**_range(history, "1d"), group_by=["actor", "token_type"], limit=1000))
    expected = expected_sums(events, ["actor"], "1d")
    got: dict = {}
    for row in rows:
        assert row.group.cost_type == "tokens" and row.cost.requests is None
        got[(group_key(row.starting_at, row.group, ["actor"], "1d"), row.group.token_type)] = Decimal(row.cost.amount)
    for key, sums in expected.items():
        for kind in TOKEN_KINDS:
            if sums[kind]:
                assert got.pop((key, kind)) == sums[f"{kind}:cost"], (key, kind)
    assert got == {}  # no row for a kind without tokens
    [only] = analytics.cost.list(**_range(history, None), group_by=["cost_type"]).data
    assert (only.group.cost_type, only.group.token_type, only.cost.requests) == ("tokens", None, None)
    assert Decimal(only.cost.amount) == sum(e.cost for e in events) * 100


def test_usage_of_every_group_by_and_bucket_equals_the_events(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    for width, dims in itertools.product(WIDTHS, GROUPINGS):
        rows = list(analytics.usage.list(**_range(history, width), group_by=dims, limit=1000))
        expected = expected_sums(events, dims, width)
        got = {group_key(r.starting_at, r.group, dims, width): r.usage for r in rows}
        assert set(got) == set(expected), (width, dims)
        for key, usage in got.items():
            sums = expected[key]
            assert usage.uncached_input_tokens == sums["uncached_input_tokens"]
            assert usage.output_tokens == sums["output_tokens"]
            assert usage.cache_read_input_tokens == sums["cache_read_input_tokens"]
            assert usage.cache_creation.ephemeral_5m_input_tokens == sums["cache_creation.ephemeral_5m_input_tokens"]
            assert usage.cache_creation.ephemeral_1h_input_tokens == 0
            assert usage.total_tokens == sum(sums[k] for k in TOKEN_KINDS)
            assert usage.requests == sums["requests"]


def test_legacy_bucketed_reports_list_every_bucket_with_the_events_sums(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    for width, dims in itertools.product(("1h", "1d"), ([], ["model", "product", "context_window"])):
        kwargs = {"starting_at": history.start.isoformat(), "ending_at": history.end.isoformat(),
                  "bucket_width": width, "group_by": dims}
        buckets = list(analytics.cost_report.list(**kwargs))
        usage_buckets = list(analytics.usage_report.list(**kwargs))
        span = (history.end - history.start).total_seconds() / (3600 if width == "1h" else 86400)
        assert len(buckets) == len(usage_buckets) >= int(span)
        assert buckets[0].starting_at == history.start and buckets[-1].ending_at == history.end
        expected = expected_sums(events, dims, width)
        got, got_tokens = {}, {}
        for bucket, usage_bucket in zip(buckets, usage_buckets, strict=True):
            for result in bucket.results:
                got[group_key(bucket.starting_at, result, dims, width)] = Decimal(result.amount)
            for result in usage_bucket.results:
                got_tokens[group_key(usage_bucket.starting_at, result, dims, width)] = result.output_tokens
        assert got == {k: v["amount"] for k, v in expected.items()}, (width, dims)
        assert got_tokens == {k: v["output_tokens"] for k, v in expected.items()}, (width, dims)


def test_legacy_user_reports_rank_members_by_their_events(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    kwargs = {"starting_at": history.start.isoformat(), "ending_at": history.end.isoformat()}
    expected = expected_sums(events, ["actor"], None)
    rows = list(analytics.user_cost_report.list(**kwargs, limit=1000))
    assert [(None, r.actor.user_id) for r in rows] == sorted(expected, key=lambda k: -expected[k]["amount"])
    assert all(Decimal(r.amount) == expected[(None, r.actor.user_id)]["amount"] for r in rows)
    assert all(r.starting_at is None and r.requests == expected[(None, r.actor.user_id)]["requests"] for r in rows)
    removed = next(r for r in rows if r.actor.user_id == history.removed.user.public_id)
    assert removed.actor.deleted and removed.actor.email_address == history.removed.user.email
    usage = list(analytics.user_usage_report.list(**kwargs, bucket_width="1d", group_by=["model"], limit=1000))
    by_day = expected_sums(events, ["actor", "model"], "1d")
    assert {group_key(r.starting_at, r, ["actor", "model"], "1d"): r.total_tokens for r in usage} == {
        k: sum(v[kind] for kind in TOKEN_KINDS) for k, v in by_day.items()}


def test_filters_keep_only_the_matching_events(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    someone = history.members[0].user.public_id
    cases = [
        ({"models": ["claude-haiku-4-5"]}, lambda e: e.model.alias == "claude-haiku-4-5"),
        ({"models": ["claude-sonnet-4-5-20250929"]}, lambda e: e.model.alias == "claude-sonnet-4-5"),
        ({"products": ["claude_code", "cowork"]}, lambda e: e.product in ("claude_code", "cowork")),
        ({"context_windows": ["200k-1M"]}, lambda e: e.long_context),
        ({"actor_ids": [someone]}, lambda e: e.membership.user.public_id == someone),
    ]
    for filters, keep in cases:
        [row] = analytics.cost.list(**_range(history, None), **filters).data
        assert Decimal(row.cost.amount) == sum(e.cost for e in events if keep(e)) * 100, filters
        assert row.cost.requests == sum(1 for e in events if keep(e))
    kept = analytics.cost.list(**_range(history, None), group_by=["actor"], exclude_deleted_users=True, limit=1000)
    assert history.removed.user.public_id not in {r.group.actor.user_id for r in kept.data}
    assert len(kept.data) == 5


def test_a_range_without_usage_is_one_zero_row_ungrouped_and_empty_grouped(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    quiet = {"starting_at": history.end.isoformat()}
    [row] = analytics.cost.list(**quiet).data
    assert (row.cost.amount, row.cost.requests) == ("0", 0)
    page = analytics.usage.list(**quiet, group_by=["actor"])
    assert page.data == [] and page.has_more is False and page.next_page is None
    assert page.data_refreshed_at is not None


def test_an_organization_billed_in_another_time_zone_gets_the_same_utc_figures(live_server):
    """Its daily rollups are local days, so its reports read the hourly rollup only; the buckets stay UTC."""
    history = UsageHistory(events=120, billing_timezone="America/New_York")
    analytics = sdk(live_server, history.key).beta.organization.analytics
    events = history.events()
    for width, dims in ((None, ["actor"]), ("1d", ["model", "product"])):
        rows = list(analytics.cost.list(**_range(history, width), group_by=dims, limit=1000))
        expected = expected_sums(events, dims, width)
        assert {group_key(r.starting_at, r.group, dims, width): Decimal(r.cost.amount) for r in rows} == {
            k: v["amount"] for k, v in expected.items()}


def test_order_by_time_lists_buckets_newest_first_then_by_the_metric(live_server, history):
    analytics = sdk(live_server, history.key).beta.organization.analytics
    rows = list(analytics.cost.list(**_range(history, "1d"), group_by=["product"], order_by="time", limit=1000))
    keys = [(r.starting_at, Decimal(r.cost.amount)) for r in rows]
    assert keys == sorted(keys, key=lambda k: (-k[0].timestamp(), -k[1]))
    oldest_first = list(analytics.usage.list(**_range(history, "1h"), order_by="time", order="asc", limit=1000))
    starts = [r.starting_at for r in oldest_first]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
