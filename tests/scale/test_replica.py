"""The read replica, really used: a streaming replica of the test server (tests/scale/conftest.py). Dashboards
read their rollups from it and never from the primary; writes and the machine API never touch it; a person who
just posted a form reads the primary for a few seconds; pages read from it say how fresh they are."""

import time

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.invoicing.services import invoice_issue_for_period
from apps.organizations.models import PlanKind, Role
from apps.usage.models import UsageEvent
from apps.usage.partitions import month_add
from billing_portal.db_router import PIN_COOKIE, replica_data_as_of
from tests.conftest import ApiClient, wait_for
from tests.factories import OrganizationFactory, api_key, member
from tests.machine_api.conftest import usage_body

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])

# The tables a usage dashboard reads its figures from.
DASHBOARD_TABLES = ("usage_usagedailyrollup", "monitoring_orgdailyusage", "usage_usageevent")


def _dashboard_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if any(table in q["sql"] for table in DASHBOARD_TABLES)]


@pytest.fixture
def org_with_usage(streaming_replica, settings):
    settings.DASHBOARD_DB_ALIAS = streaming_replica
    organization = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    owner = member(organization, email="owner@example.com", role=Role.OWNER)
    member(organization, email="dev@example.com", tier_code="chat_code")
    client = ApiClient(api_key(organization))
    with CaptureQueriesContext(connections[streaming_replica]) as on_replica:
        assert client.post("/admission", {"member": "dev@example.com", "product": "chat",
                                          "model": "claude-sonnet-4-5"}).status_code == 200
        for n in range(3):
            assert client.post("/usage", usage_body(f"k{n}")).status_code == 201
    assert on_replica.captured_queries == []  # the machine API and its writes never touch the replica
    assert wait_for(lambda: UsageEvent.objects.using(streaming_replica).filter(
        organization=organization).count() == 3, timeout=30)  # replayed
    return organization, owner


def test_dashboards_read_the_replica_and_never_the_primary(org_with_usage, client):
    organization, owner = org_with_usage
    client.force_login(owner.user)
    for name in ("dashboard", "dashboard_tiers", "dashboard_members", "my_usage"):
        with CaptureQueriesContext(connections["default"]) as on_primary, \
                CaptureQueriesContext(connections["replica"]) as on_replica:
            response = client.get(reverse(f"monitoring:{name}", args=[organization.slug]))
        assert response.status_code == 200
        assert _dashboard_reads(on_primary.captured_queries) == [], name
        # Each page's figures came from the replica (rollups, counters, tiers), beside its freshness query.
        assert [q for q in on_replica.captured_queries if '"usage_' in q["sql"] or '"seats_' in q["sql"]], name
        assert "Data as of" in response.content.decode()


def test_the_replica_says_how_fresh_its_data_is(org_with_usage):
    as_of = replica_data_as_of("replica")
    assert as_of is not None and abs((timezone.now() - as_of).total_seconds()) < 60
    assert replica_data_as_of("default") is None  # the primary is not a standby


def test_after_a_form_post_the_same_person_reads_the_primary_for_a_few_seconds(org_with_usage, client, settings):
    organization, owner = org_with_usage
    client.force_login(owner.user)
    url = reverse("monitoring:dashboard", args=[organization.slug])
    posted = client.post(reverse("monitoring:notification_settings", args=[organization.slug]),
                         {"thresholds": "50, 90"})
    assert posted.status_code in (200, 302)
    assert float(posted.cookies[PIN_COOKIE].value) > time.time()
    assert posted.cookies[PIN_COOKIE]["max-age"] == settings.REPLICA_PIN_SECONDS

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        pinned = client.get(url)
    assert pinned.status_code == 200
    assert on_replica.captured_queries == []  # their own write is visible at once
    assert "Data as of" not in pinned.content.decode()

    client.cookies[PIN_COOKIE] = f"{time.time() - 1:.3f}"  # the few seconds have passed
    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert client.get(url).status_code == 200
    assert _dashboard_reads(on_replica.captured_queries)


def test_an_invoice_export_streams_its_rows_from_the_replica(org_with_usage, client):
    organization, owner = org_with_usage
    last_month = month_add(timezone.now().date().replace(day=1), -1)
    invoice = invoice_issue_for_period(organization=organization, period_start=last_month, now=timezone.now())
    assert wait_for(lambda: type(invoice).objects.using("replica").filter(pk=invoice.pk).exists(), timeout=30)
    client.force_login(owner.user)
    with CaptureQueriesContext(connections["default"]) as on_primary, \
            CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client.get(reverse("invoicing:invoice_csv", args=[organization.slug, invoice.number]))
        body = b"".join(response.streaming_content).decode()
    assert response.status_code == 200 and invoice.number in response["Content-Disposition"]
    assert body.count("\n") >= 2
    assert [q for q in on_primary.captured_queries if '"invoicing_' in q["sql"]] == []
    assert [q for q in on_replica.captured_queries if '"invoicing_' in q["sql"]]
