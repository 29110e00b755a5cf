"""Settings > Usage and Members at 10,000 members: bounded queries, sorting by spend done by the database."""

import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import User
from apps.common.periods import period_containing
from apps.organizations.models import Membership
from apps.seats.models import SeatAssignment
from apps.usage.models import MemberPeriodUsage
from tests.factories import tier

from .conftest import client_for

pytestmark = pytest.mark.django_db

N = 10_000


def _bulk_members(team, n):
    now = timezone.now()
    period = period_containing(now, team.org.billing_timezone)
    users = User.objects.bulk_create(User(email=f"scale{i}@acme.test", name=f"Scale {i:05d}") for i in range(n))
    memberships = Membership.objects.bulk_create(Membership(organization=team.org, user=u) for u in users)
    standard = tier(team.org, "standard")
    SeatAssignment.objects.bulk_create(
        SeatAssignment(organization=team.org, membership=m, tier=standard, started_at=now) for m in memberships
    )
    MemberPeriodUsage.objects.bulk_create(
        MemberPeriodUsage(organization=team.org, membership=m, period_start=period.start,
                          spend=Decimal(i % 997) + Decimal("0.5"), included_spend=Decimal("0"))
        for i, m in enumerate(memberships)
    )


def _timed_get(client, team, url: str):
    """GET `url` after a warm-up request (templates compile on first use); the response, its seconds and its
    number of queries."""
    client.get(f"/orgs/{team.org.slug}/members/table/")
    connection.queries_log.clear()  # a full log (maxlen) would make the capture count nothing
    with CaptureQueriesContext(connection) as ctx:
        started = time.perf_counter()
        response = client.get(url)
        elapsed = time.perf_counter() - started
    return response, elapsed, len(ctx.captured_queries)  # counted now: the next request resets the query log


def test_limits_table_sorted_by_spend_with_10000_members(team):
    _bulk_members(team, N)
    client = client_for(team.owner)
    response, elapsed, queries = _timed_get(client, team,
                                            f"/orgs/{team.org.slug}/settings/usage/limits/?sort=-mtd&page=3")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('<tr id="limit-') == 50 and f"101–150 of {N + 4}" in page
    first = client.get(f"/orgs/{team.org.slug}/settings/usage/limits/?sort=-mtd").content.decode()
    # Spend is i % 997 + 0.50: ten members spent $996.50, the most; the first row is one of them.
    assert "$996.50" in first.split('<tr id="limit-')[1]
    assert 0 < queries <= 12
    assert elapsed < 5, f"limits page took {elapsed:.2f}s"
    print(f"\nlimits table, 10k members, sorted by MTD spend, page 3: {elapsed * 1000:.0f} ms, {queries} queries")


def test_members_search_with_10000_members(team):
    _bulk_members(team, N)
    client = client_for(team.owner)
    response, elapsed, queries = _timed_get(client, team, f"/orgs/{team.org.slug}/members/table/?q=Scale 00999")
    assert response.status_code == 200 and "scale999@acme.test" in response.content.decode()  # found by name
    assert 0 < queries <= 12 and elapsed < 5
    page = client.get(f"/orgs/{team.org.slug}/members/table/?q=scale999@").content.decode()
    assert page.count('<tr id="member-') == 1 and "scale999@acme.test" in page
    print(f"\nmembers search, 10k members: {elapsed * 1000:.0f} ms, {queries} queries")
