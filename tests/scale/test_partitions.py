"""The usage ledger in monthly partitions: where events land, partitions made ahead, exactly once across months,
archiving an old month without changing any total, and converting an existing table with its rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Sum
from django.utils import timezone

from apps.invoicing.services import invoice_issue_for_period
from apps.monitoring.selectors import org_dashboard
from apps.organizations.models import PlanKind
from apps.usage.models import UsageDailyRollup, UsageEvent, UsageEventKey
from apps.usage.partitions import (
    ARCHIVE_SCHEMA,
    DEFAULT_PARTITION,
    ledger_partition_archive,
    ledger_partitions,
    month_add,
    partition_name,
)
from apps.usage.tasks import usage_partitions_ensure
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member
from tests.invoicing.helpers import event
from tests.machine_api.conftest import usage_body

THIS_MONTH = timezone.now().date().replace(day=1)
LAST_MONTH = month_add(THIS_MONTH, -1)


def _partition_of(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM usage_usageevent WHERE id = %s", [event_id])
        return cursor.fetchone()[0]


def _partitions() -> dict[dt.date, str]:
    with connection.cursor() as cursor:
        return ledger_partitions(cursor)


@pytest.fixture
def org(db):
    organization = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    member(organization, email="dev@example.com", tier_code="chat_code")
    return organization, ApiClient(api_key(organization))


def _at(month: dt.date, day: int) -> str:
    return dt.datetime(month.year, month.month, day, 12, tzinfo=dt.UTC).isoformat()


def test_an_event_lands_in_its_months_partition(org):
    organization, client = org
    assert client.post("/usage", usage_body("now")).status_code == 201
    assert client.post("/usage", usage_body("late", occurred_at=_at(LAST_MONTH, 3))).status_code == 201

    now_event = UsageEvent.objects.get(idempotency_key="now")
    late_event = UsageEvent.objects.get(idempotency_key="late")
    assert _partition_of(now_event.pk) == partition_name(THIS_MONTH)
    assert _partition_of(late_event.pk) == partition_name(LAST_MONTH)
    assert set(UsageEventKey.objects.filter(organization=organization).values_list("idempotency_key", "event_id")) \
        == {("now", now_event.pk), ("late", late_event.pk)}


def test_the_next_months_exist_ahead_and_the_beat_task_keeps_them_coming(db):
    assert {month_add(THIS_MONTH, n) for n in range(0, 4)} <= set(_partitions())

    with time_machine.travel(dt.datetime(THIS_MONTH.year + 1, THIS_MONTH.month, 15, tzinfo=dt.UTC)):
        created = usage_partitions_ensure()
        assert usage_partitions_ensure() == []  # a second run finds everything there
    next_year = dt.date(THIS_MONTH.year + 1, THIS_MONTH.month, 1)
    assert created == [partition_name(month_add(next_year, n)) for n in range(0, 4)]
    assert {month_add(next_year, n) for n in range(0, 4)} <= set(_partitions())


def test_an_event_for_a_month_without_partition_waits_in_the_default_one_then_moves_to_its_own(org):
    organization, _ = org
    membership = organization.memberships.get()
    month = dt.date(2019, 5, 1)
    stray = event(membership, occurred_at=dt.datetime(2019, 5, 9, tzinfo=dt.UTC), period_start=month,
                  cost=Decimal("1.25"))
    stray.save()
    assert _partition_of(stray.pk) == DEFAULT_PARTITION

    assert partition_name(month) in usage_partitions_ensure()
    assert _partition_of(stray.pk) == partition_name(month)
    assert UsageEvent.objects.get(pk=stray.pk).cost == Decimal("1.25")


def test_a_key_used_in_one_month_is_a_replay_or_a_conflict_in_another_never_a_second_charge(org):
    organization, client = org
    first = client.post("/usage", usage_body("k", occurred_at=_at(LAST_MONTH, 20)))
    again = client.post("/usage", usage_body("k", occurred_at=_at(LAST_MONTH, 20)))
    other_month = client.post("/usage", usage_body("k"))  # same key, this month: another body

    assert (first.status_code, again.status_code, other_month.status_code) == (201, 200, 409)
    assert again.json() == first.json()
    assert UsageEvent.objects.filter(organization=organization, idempotency_key="k").count() == 1

    # The guard is the key table, not the partitions: a second row for the key in another month is refused
    # by the database even when written without the API's look-up.
    stored = UsageEvent.objects.get(idempotency_key="k")
    copy = event(stored.membership, occurred_at=timezone.now(), period_start=THIS_MONTH, cost=Decimal(1))
    copy.idempotency_key = "k"
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
        UsageEventKey.objects.create(organization=organization, idempotency_key="k", period_start=THIS_MONTH,
                                     event_id=copy.pk)


def test_archiving_an_old_month_keeps_invoice_rollup_and_dashboard_totals(org):
    organization, client = org
    for n in range(6):
        body = usage_body(f"old{n}", occurred_at=_at(LAST_MONTH, 2 + n), input_tokens=1000 * (n + 1))
        assert client.post("/usage", body).status_code == 201
    assert client.post("/usage", usage_body("current")).status_code == 201
    now = timezone.now()
    invoice = invoice_issue_for_period(organization=organization, period_start=LAST_MONTH, now=now)
    rollups = UsageDailyRollup.objects.filter(organization=organization, period_start=LAST_MONTH).aggregate(
        cost=Sum("cost"), events=Sum("event_count"))
    dashboard = org_dashboard(organization=organization, now=now)
    events = UsageEvent.objects.filter(organization=organization, period_start=LAST_MONTH).aggregate(cost=Sum("cost"))
    assert rollups["cost"] == events["cost"] > 0 and rollups["events"] == 6

    with connection.cursor() as cursor:
        archived = ledger_partition_archive(cursor, month=LAST_MONTH, today=now.date())
        cursor.execute(f"SELECT count(*), sum(cost) FROM {archived}")
        assert cursor.fetchone() == (6, events["cost"])

    assert archived == f"{ARCHIVE_SCHEMA}.{partition_name(LAST_MONTH)}"
    assert LAST_MONTH not in _partitions()
    assert not UsageEvent.objects.filter(organization=organization, period_start=LAST_MONTH).exists()
    invoice.refresh_from_db()
    assert invoice.total == invoice_issue_for_period(
        organization=organization, period_start=LAST_MONTH, now=now).total  # the issued invoice, unchanged
    assert UsageDailyRollup.objects.filter(organization=organization, period_start=LAST_MONTH).aggregate(
        cost=Sum("cost"), events=Sum("event_count")) == rollups
    assert org_dashboard(organization=organization, now=now).daily == dashboard.daily
    # The archived month's keys still guard: a retry is refused with a clear answer and charged nothing.
    retry = client.post("/usage", usage_body("old0", occurred_at=_at(LAST_MONTH, 2)))
    assert retry.status_code == 409
    assert "archived month" in retry.json()["error"]["message"]
    assert UsageDailyRollup.objects.filter(organization=organization, period_start=LAST_MONTH).aggregate(
        cost=Sum("cost"), events=Sum("event_count")) == rollups


def test_current_and_future_months_cannot_be_archived(db):
    with connection.cursor() as cursor, pytest.raises(ValueError, match="not a past month"):
        ledger_partition_archive(cursor, month=THIS_MONTH, today=timezone.now().date())


@pytest.mark.django_db(transaction=True)
def test_migrating_a_database_holding_events_converts_the_table_keeping_every_row():
    organization = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    membership = member(organization, email="dev@example.com", tier_code="chat_code")
    executor = MigrationExecutor(connection)
    executor.migrate([("usage", "0003_drop_redundant_hot_table_indexes")])
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE relname = 'usage_usageevent'")
            assert cursor.fetchone() == ("r",)  # the table as it was before partitioning
        old = [event(membership, occurred_at=dt.datetime(m.year, m.month, 5, tzinfo=dt.UTC), period_start=m,
                     cost=Decimal(f"0.{n + 1}")) for n, m in enumerate([dt.date(2024, 2, 1), LAST_MONTH, THIS_MONTH])]
        for row in old:
            row.save()
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert _partitions()  # partitioned again
    for row in old:
        stored = UsageEvent.objects.get(pk=row.pk)
        assert (stored.idempotency_key, stored.cost) == (row.idempotency_key, row.cost)
        assert _partition_of(row.pk) == partition_name(row.period_start)
        assert UsageEventKey.objects.get(organization=organization, idempotency_key=row.idempotency_key).event_id \
            == row.pk
    client = ApiClient(api_key(organization))
    assert client.post("/usage", usage_body("after")).status_code == 201
    assert UsageEvent.objects.get(idempotency_key="after").pk > max(row.pk for row in old)
