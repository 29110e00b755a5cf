"""The Analytics API's keys, refusals, cursors and query counts, and the hourly rollup's backfill."""

import datetime as dt
import importlib
from io import StringIO

import anthropic
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.admin_api.models import AdminApiKey, AdminScope
from apps.admin_api.selectors import admin_api_key_authenticate
from apps.organizations.models import Organization, PlanKind
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import UsageHourlyRollup
from apps.usage.pricing import Tokens
from tests.factories import member

from .analytics_fixtures import UsageHistory
from .conftest import BOTH, admin_key, sdk

ROLLUP_COLUMNS = ("organization_id", "membership_id", "model_id", "product", "long_context", "hour", "input_tokens",
                  "output_tokens", "cache_write_tokens", "cache_read_tokens", "input_cost", "output_cost",
                  "cache_write_cost", "cache_read_cost", "event_count")


@pytest.fixture(autouse=True)
def _generous_rate_limit(settings):
    settings.ADMIN_API_RATE_LIMIT_PER_MINUTE = 100_000


def every_report(analytics, start: str):
    return {
        "cost": lambda: analytics.cost.list(starting_at=start),
        "usage": lambda: analytics.usage.list(starting_at=start),
        "cost_report": lambda: analytics.cost_report.list(starting_at=start),
        "usage_report": lambda: analytics.usage_report.list(starting_at=start),
        "user_cost_report": lambda: analytics.user_cost_report.list(starting_at=start),
        "user_usage_report": lambda: analytics.user_usage_report.list(starting_at=start),
    }


@pytest.mark.django_db(transaction=True)
def test_a_key_without_read_analytics_gets_403_and_an_analytics_key_reads_nothing_else(live_server):
    history = UsageHistory(events=20)
    start = history.start.isoformat()
    spend_key = admin_key(history.org, scopes=BOTH, name="spend limits only")
    for name, call in every_report(sdk(live_server, spend_key).beta.organization.analytics, start).items():
        with pytest.raises(anthropic.PermissionDeniedError) as caught:
            call()
        assert "read:analytics" in caught.value.body["error"]["message"], name
        assert caught.value.request_id
    client = sdk(live_server, history.key)
    for name, call in every_report(client.beta.organization.analytics, start).items():
        assert call().data is not None, name
    with pytest.raises(anthropic.PermissionDeniedError):
        client.beta.organization.spend_limits.effective.list()
    Organization.objects.filter(pk=history.org.pk).update(plan_kind=PlanKind.TEAM)
    with pytest.raises(anthropic.OrganizationTypeNotSupportedError):
        client.beta.organization.analytics.cost.list(starting_at=start)


@pytest.mark.django_db(transaction=True)
def test_every_bad_parameter_is_a_400_naming_it(live_server):
    history = UsageHistory(events=20)
    analytics = sdk(live_server, history.key).beta.organization.analytics
    now = timezone.now()
    start, end = history.start.isoformat(), history.end.isoformat()
    cases = [
        (lambda: analytics.cost.list(starting_at="yesterday"), "starting_at: must be an RFC 3339 timestamp"),
        (lambda: analytics.cost.list(starting_at="2026-11-01T00:00:00"), "starting_at: must be an RFC 3339 timestamp"),
        (lambda: analytics.cost.list(starting_at=now - dt.timedelta(days=400)),
         "starting_at: must be within the last 365 days"),
        (lambda: analytics.cost.list(starting_at=end, ending_at=start), "ending_at: must be after starting_at"),
        (lambda: analytics.usage.list(starting_at=now - dt.timedelta(days=40), ending_at=now),
         "ending_at: the range may span at most 31 days"),
        (lambda: analytics.cost.list(starting_at=start, time_bucket_width="1h"),
         "ending_at: required when time_bucket_width is set"),
        (lambda: analytics.cost.list(starting_at=start, ending_at=end, time_bucket_width="1m"),
         "time_bucket_width: 1m is not supported"),
        (lambda: analytics.cost_report.list(starting_at=start, bucket_width="1w"), "bucket_width: must be one of"),
        (lambda: analytics.cost.list(starting_at=start, group_by=["workspace_id"]),
         "group_by[]: workspace_id is not supported here"),
        (lambda: analytics.usage.list(starting_at=start, group_by=["token_type"]),
         "group_by[]: token_type is not supported here"),
        (lambda: analytics.usage_report.list(starting_at=start, group_by=["speed"]),
         "group_by[]: speed is not supported here"),
        (lambda: analytics.cost.list(starting_at=start, workspace_ids=["wrkspc_1"]), "workspace_ids[]: not supported"),
        (lambda: analytics.cost_report.list(starting_at=start, slack_channel_ids=["C1"]),
         "slack_channel_ids[]: not supported"),
        (lambda: analytics.cost.list(starting_at=start, speeds=["fast"]), "speeds[]: not supported"),
        (lambda: analytics.cost.list(starting_at=start, models=["gpt-4"]), "models[]: unknown model 'gpt-4'"),
        (lambda: analytics.cost.list(starting_at=start, products=["office_agent"]),
         "products[]: office_agent is not a product of this portal"),
        (lambda: analytics.cost.list(starting_at=start, context_windows=["1M+"]),
         "context_windows[]: must be one of 0-200k, 200k-1M"),
        (lambda: analytics.cost.list(starting_at=start, actor_ids=["svac_01"]),
         "actor_ids[]: only member IDs (user_…) are supported"),
        (lambda: analytics.user_cost_report.list(starting_at=start, user_ids=["bob"]),
         "user_ids[]: only member IDs (user_…) are supported"),
        (lambda: analytics.cost.list(starting_at=start, limit=0), "limit: must be an integer between 1 and 1000"),
        (lambda: analytics.cost.list(starting_at=start, limit=1001), "limit: must be an integer between 1 and 1000"),
        (lambda: analytics.cost_report.list(starting_at=start, limit=32), "limit: must be an integer between 1 and 31"),
        (lambda: analytics.usage_report.list(starting_at=start, bucket_width="1h", limit=169),
         "limit: must be an integer between 1 and 168"),
        (lambda: analytics.cost.list(starting_at=start, order="sideways"), "order: must be one of asc, desc"),
        (lambda: analytics.cost.list(starting_at=start, order_by="total_tokens"),
         "order_by: must be one of amount, list_amount, time"),
        (lambda: analytics.user_usage_report.list(starting_at=start, order_by="amount"),
         "order_by: must be one of total_tokens, output_tokens, uncached_input_tokens, requests"),
        (lambda: analytics.cost.list(starting_at=start, exclude_deleted_users=True),
         "exclude_deleted_users: requires group_by[]=actor"),
        (lambda: analytics.cost.list(starting_at=start, page="garbled!!"), "page: invalid cursor"),
    ]
    for call, expected in cases:
        with pytest.raises(anthropic.BadRequestError) as caught:
            call()
        error = caught.value
        assert (error.status_code, error.type) == (400, "invalid_request_error"), expected
        assert error.body["error"]["message"].startswith(expected), (error.body["error"]["message"], expected)
        assert error.request_id == error.body["request_id"]
    with pytest.raises(anthropic.BadRequestError) as caught:
        analytics.cost.list(starting_at=start, limit="lots")
    assert caught.value.body["error"]["message"].startswith("limit:")


@pytest.mark.django_db(transaction=True)
def test_pages_follow_the_ranking_and_the_cursor_is_bound_to_the_filters(live_server):
    history = UsageHistory(events=60)
    analytics = sdk(live_server, history.key).beta.organization.analytics
    query = {"starting_at": history.start.isoformat(), "ending_at": history.end.isoformat(), "group_by": ["actor"]}
    everyone = analytics.cost.list(**query, limit=1000).data
    first = analytics.cost.list(**query, limit=2)
    assert first.has_more and first.next_page and len(first.data) == 2
    paged = list(analytics.cost.list(**query, limit=2))
    assert [r.group.actor.user_id for r in paged] == [r.group.actor.user_id for r in everyone]
    amounts = [float(r.cost.amount) for r in paged]
    assert amounts == sorted(amounts, reverse=True) and len(paged) == 6
    ascending = analytics.cost.list(**query, limit=1000, order="asc").data
    assert [float(r.cost.amount) for r in ascending] == sorted(amounts)
    # `limit` may change between pages; the filters may not.
    assert len(analytics.cost.list(**query, limit=3, page=first.next_page).data) == 3
    for call in (lambda: analytics.cost.list(**query, limit=2, page=first.next_page, products=["chat"]),
                 lambda: analytics.cost.list(**{**query, "group_by": ["model"]}, page=first.next_page),
                 lambda: analytics.usage.list(**query, page=first.next_page)):
        with pytest.raises(anthropic.BadRequestError) as caught:
            call()
        assert caught.value.body["error"]["message"] == "page: cursor does not match current query parameters"
    buckets = analytics.cost_report.list(starting_at=history.start.isoformat(), ending_at=history.end.isoformat(),
                                         limit=3)
    assert len(buckets.data) == 3 and buckets.has_more
    assert buckets.data[1].starting_at == buckets.data[0].ending_at


REPORTS = ["cost", "usage", "cost_report", "usage_report", "user_cost_report", "user_usage_report"]


@pytest.mark.django_db
@pytest.mark.parametrize("report", REPORTS)
def test_each_report_answers_in_a_fixed_number_of_queries(report, django_assert_max_num_queries):
    history = UsageHistory(events=30)
    client = Client(headers={"x-api-key": history.key})
    group = "actor" if report in ("cost", "usage") else "model"
    url = (f"/v1/organizations/analytics/{report}?starting_at={history.start.isoformat().replace('+', '%2B')}"
           f"&group_by[]={group}&limit=31&bucket_width=1d&time_bucket_width=1d"
           f"&ending_at={history.end.isoformat().replace('+', '%2B')}")
    assert client.get(url).status_code == 200  # warms the key's last-used stamp
    with django_assert_max_num_queries(4) as small:
        assert client.get(url).status_code == 200
    newcomers = [member(history.org, tier_code="chat_code") for _ in range(25)]
    usage_record_batch(organization=history.org, now=history.now, items=[
        UsageInput(idempotency_key=f"new-{n}", member=m.user.email, product="chat", model="claude-haiku-4-5",
                   tokens=Tokens(input=1000, output=100), occurred_at=history.now - dt.timedelta(hours=3, days=n % 5))
        for n, m in enumerate(newcomers)])
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200 and response.json()["data"]


@pytest.mark.django_db
def test_the_migration_backfills_the_hourly_rollup_from_the_events():
    UsageHistory(events=120)
    recorded = sorted(UsageHourlyRollup.objects.values_list(*ROLLUP_COLUMNS))
    assert len(recorded) > 50
    UsageHourlyRollup.objects.all().delete()
    migration = importlib.import_module("apps.usage.migrations.0006_usage_hourly_rollup")
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    assert sorted(UsageHourlyRollup.objects.values_list(*ROLLUP_COLUMNS)) == recorded


@pytest.mark.django_db
def test_read_analytics_is_offered_by_the_command_and_the_keys_page():
    history = UsageHistory(events=1)
    out = StringIO()
    call_command("create_admin_api_key", history.org.slug, "--scopes", "read:analytics,read:spend_limits",
                 stdout=out, stderr=StringIO())
    assert admin_api_key_authenticate(raw_key=out.getvalue().strip()).scopes == [
        AdminScope.READ_SPEND_LIMITS, AdminScope.READ_ANALYTICS]
    client = Client()
    client.force_login(history.owner.user, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("admin_api:keys", kwargs={"slug": history.org.slug})
    page = client.get(url).content.decode()
    assert 'value="read:analytics"' in page
    assert client.post(url, {"name": "BI export", "scopes": ["read:analytics"]}).status_code == 200
    assert AdminApiKey.objects.get(organization=history.org, name="BI export").scopes == ["read:analytics"]
