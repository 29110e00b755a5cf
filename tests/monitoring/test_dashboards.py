"""Dashboard pages: who may open them, what they show (equal to the ledger), and a query count that does not
grow with the number of members or events."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.monitoring.models import OrgDailyUsage
from apps.monitoring.services import org_daily_refresh
from apps.organizations.models import Role
from apps.usage.models import CapScope, UsageDailyRollup
from apps.usage.selectors import org_counters
from apps.usage.services import cap_set
from tests.factories import UserFactory, member

from .conftest import NOW
from .helpers import SONNET, record

pytestmark = pytest.mark.django_db

DASHBOARDS = ["monitoring:dashboard", "monitoring:dashboard_tiers", "monitoring:dashboard_members"]


def _login(client, email):
    client.force_login(UserFactory(email=email))
    return client


def _url(name, org, **kwargs):
    return reverse(name, kwargs={"slug": org.slug, **kwargs})


def _usage(org, emails, days=(1, 5, 10, 17, 18)):
    for n, email in enumerate(emails):
        for day in days:
            record(org, email, Decimal("1.25") + n, now=NOW, occurred_at=dt.datetime(2026, 11, day, 9, tzinfo=dt.UTC),
                   product="claude_code" if day % 2 else "chat")
        record(org, email, "2", now=NOW, occurred_at=dt.datetime(2026, 10, 20, 9, tzinfo=dt.UTC))


@pytest.mark.parametrize("name", [*DASHBOARDS, "monitoring:my_usage"])
@pytest.mark.parametrize("role", [Role.PRIMARY_OWNER, Role.OWNER, Role.ADMIN])
def test_owners_and_admins_see_every_page(client, team, name, role):
    org, _ = team
    assert _login(client, f"{role}@acme.test").get(_url(name, org)).status_code == 200


@pytest.mark.parametrize("name", DASHBOARDS)
def test_members_get_404_on_dashboards_but_see_their_own_page(client, team, name):
    org, _ = team
    _login(client, "member@acme.test")
    assert client.get(_url(name, org)).status_code == 404
    assert client.get(_url("monitoring:my_usage", org)).status_code == 200


@pytest.mark.parametrize("name", [*DASHBOARDS, "monitoring:my_usage", "monitoring:notification_settings"])
def test_outsiders_get_404_and_anonymous_users_are_sent_to_login(client, team, name):
    org, _ = team
    anonymous = client.get(_url(name, org))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    _login(client, "stranger@elsewhere.test")
    assert client.get(_url(name, org)).status_code == 404


def test_member_detail_of_another_organization_is_404(client, team):
    org, people = team
    from tests.factories import OrganizationFactory

    other = OrganizationFactory(slug="other")
    outsider = member(other, email="someone@other.test")
    _login(client, "admin@acme.test")
    assert client.get(_url("monitoring:member_detail", org, membership_id=outsider.pk)).status_code == 404
    assert client.get(_url("monitoring:member_detail", org,
                           membership_id=people[Role.MEMBER].pk)).status_code == 200
    _login(client, "member@acme.test")
    assert client.get(_url("monitoring:member_detail", org,
                           membership_id=people[Role.MEMBER].pk)).status_code == 404


def test_org_dashboard_totals_equal_the_ledger_whether_or_not_daily_totals_were_rebuilt(client, team):
    org, _ = team
    _usage(org, ["member@acme.test", "admin@acme.test"])
    record(org, "member@acme.test", "3", now=NOW, model=SONNET, occurred_at=NOW)
    _login(client, "owner@acme.test")
    live = client.get(_url("monitoring:dashboard", org)).context["data"]
    ledger = org_counters(organization_id=org.pk, period_start=dt.date(2026, 11, 1))
    assert live.counters.spend == ledger.spend
    org_daily_refresh(organization=org, period_start=dt.date(2026, 11, 1))
    org_daily_refresh(organization=org, period_start=dt.date(2026, 10, 1))
    assert OrgDailyUsage.objects.filter(organization=org).exists()
    stored = client.get(_url("monitoring:dashboard", org)).context["data"]
    assert stored.counters.spend == ledger.spend == live.counters.spend
    assert [(b.label, b.cost) for b in stored.by_model] == [(b.label, b.cost) for b in live.by_model]
    # A late event on a past day after the rebuild: the page notices and still shows the ledger's figure.
    record(org, "admin@acme.test", "7", now=NOW, occurred_at=dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC))
    late = client.get(_url("monitoring:dashboard", org)).context["data"]
    assert late.counters.spend == org_counters(organization_id=org.pk, period_start=dt.date(2026, 11, 1)).spend
    daily = {d["day"]: d for d in late.daily}
    assert daily[2]["current"] == Decimal("7")
    assert daily[20]["previous"] == Decimal("4")  # two members × $2 on 20 October


def test_org_dashboard_shows_mtd_against_cap_mixes_and_the_forecast_method(client, team):
    org, _ = team
    _usage(org, ["member@acme.test"])
    _login(client, "owner@acme.test")
    response = client.get(_url("monitoring:dashboard", org))
    data = response.context["data"]
    assert data.counters.spend == Decimal("6.25")  # 5 days × $1.25
    assert data.cap == Decimal("1000")
    assert {b.label: b.cost for b in data.by_product}["Claude Code"] == Decimal("3.75")  # days 1, 5, 17
    assert dict(data.tokens)["Input"] == 6_250_000
    html = response.content.decode()
    assert "Weekday-aware run-rate of the last 7 complete days" in html
    assert 'data-chart="chart-daily"' in html and 'id="chart-daily" type="application/json"' in html
    assert "<table" in html and "Show as a table" in html
    assert "<script>" not in html and " style=" not in html and "onclick" not in html  # strict CSP


def test_members_table_search_sort_and_share(client, team):
    org, people = team
    _usage(org, ["member@acme.test", "admin@acme.test"])  # member $1.25/day, admin $2.25/day
    cap_set(organization=org, scope=CapScope.MEMBER, membership=people[Role.MEMBER], amount=Decimal("10"), now=NOW)
    _login(client, "owner@acme.test")
    rows = client.get(_url("monitoring:dashboard_members", org)).context["table"].rows
    assert [r.membership.user.email for r in rows[:2]] == ["admin@acme.test", "member@acme.test"]
    by_email = {r.membership.user.email: r for r in rows}
    assert by_email["member@acme.test"].spend == Decimal("6.25")
    assert by_email["member@acme.test"].share == Decimal("6.25") / Decimal("17.5")
    assert by_email["member@acme.test"].status.limit == Decimal("10")
    assert by_email["member@acme.test"].status.remaining == Decimal("3.75")
    found = client.get(_url("monitoring:dashboard_members", org), {"q": "ADMIN@", "sort": "email"})
    assert [r.membership.user.email for r in found.context["table"].rows] == ["admin@acme.test"]
    bad = client.get(_url("monitoring:dashboard_members", org), {"sort": "nonsense", "page": "x"})
    assert bad.status_code == 200


def test_tiers_page_counts_members_and_top_spenders_per_tier(client, team):
    org, _ = team
    _usage(org, ["member@acme.test", "admin@acme.test"])
    _login(client, "admin@acme.test")
    tiers = client.get(_url("monitoring:dashboard_tiers", org)).context["tiers"]
    first = tiers[0]
    assert first.members == 4
    assert first.spend == Decimal("17.5")
    assert first.average == Decimal("4.375")
    assert [t.email for t in first.top] == ["admin@acme.test", "member@acme.test"]


def _count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("name", [*DASHBOARDS, "monitoring:member_detail", "monitoring:my_usage"])
def test_dashboard_query_count_is_the_same_for_5_and_50_members(client, team, name, django_assert_max_num_queries):
    org, people = team
    member(org, email="m0@acme.test")
    _usage(org, ["member@acme.test", "m0@acme.test"], days=(3, 17))
    for when in (dt.date(2026, 11, 1), dt.date(2026, 10, 1)):
        org_daily_refresh(organization=org, period_start=when)
    kwargs = {"membership_id": people[Role.MEMBER].pk} if name == "monitoring:member_detail" else {}
    url = _url(name, org, **kwargs)
    _login(client, "owner@acme.test")
    small = _count_queries(client, url)
    emails = [f"m{n}@acme.test" for n in range(1, 46)]
    for email in emails:
        member(org, email=email)
    _usage(org, emails, days=(2, 17))
    for when in (dt.date(2026, 11, 1), dt.date(2026, 10, 1)):
        org_daily_refresh(organization=org, period_start=when)
    assert UsageDailyRollup.objects.filter(organization=org).count() > 100
    large = _count_queries(client, url)
    assert small == large
    # my_usage also renders the extra-usage request panel (templates/extra_usage/_member_request.html).
    with django_assert_max_num_queries(24 if name == "monitoring:my_usage" else 16):
        client.get(url)


def test_a_lagging_dashboard_queues_one_rebuild_of_the_daily_totals(client, team, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from apps.monitoring.services import org_daily_stale

    cache.clear()
    org, _ = team
    _usage(org, ["member@acme.test"])
    november = dt.date(2026, 11, 1)
    assert org_daily_stale(organization=org, period_start=november)
    _login(client, "owner@acme.test")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.get(_url("monitoring:dashboard", org))
    assert len(callbacks) == 2  # one per lagging period (October and November)
    assert not org_daily_stale(organization=org, period_start=november)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        client.get(_url("monitoring:dashboard", org))
    assert callbacks == []  # now current: nothing to rebuild


def test_my_usage_on_a_seat_based_plan_shows_allowance_and_extra_usage(client, frozen):
    from apps.organizations.models import PlanKind
    from tests.factories import OrganizationFactory

    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="teamco", name="TeamCo")
    member(org, email="dev@teamco.test")  # Standard seat: $25 included
    record(org, "dev@teamco.test", "20", now=NOW, occurred_at=dt.datetime(2026, 11, 16, 10, tzinfo=dt.UTC))
    record(org, "dev@teamco.test", "10", now=NOW, occurred_at=dt.datetime(2026, 11, 17, 15, 30, tzinfo=dt.UTC))
    _login(client, "dev@teamco.test")
    response = client.get(_url("monitoring:my_usage", org))
    data = response.context["data"]
    assert (data.included_usage, data.status.included_spend, data.included_remaining, data.extra_spend) == (
        Decimal("25"), Decimal("25"), Decimal("0"), Decimal("5"))
    html = response.content.decode()
    assert 'data-testid="included-left">$0.00<' in html
    assert "Extra usage began on Nov 17, 2026, 3:30\u202fPM (UTC); it has cost $5.00 this period." in html
