"""The database connection drops in the middle of a usage write: nothing half-written, and the client's retry
with the same idempotency key is charged exactly once."""

from decimal import Decimal

import psycopg
import pytest
from django.db import OperationalError, connection
from django.db.models import Sum
from django.test import Client

import apps.spending.services as spending_services
from apps.organizations.models import PlanKind
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, UsageEvent
from tests.factories import OrganizationFactory, api_key, member

pytestmark = [pytest.mark.django_db(transaction=True)]

BODY = {"idempotency_key": "req-1", "member": "dev@acme.example", "product": "chat", "model": "claude-sonnet-4-5",
        "usage": {"input_tokens": 1000, "output_tokens": 100}}  # $0.0045


def _post(raw_key: str, path: str, body: dict):
    # A client that sees server errors as responses, as a real one does.
    client = Client(raise_request_exception=False)
    return client.post(f"/api/v1{path}", data=body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def _terminate_own_backend():
    """Kill this process's PostgreSQL session from a second connection, as a crashed proxy or failover would."""
    pid = connection.connection.info.backend_pid
    params = connection.get_connection_params()
    with psycopg.connect(dbname=params["dbname"], user=params.get("user"), host=params.get("host"),
                         port=params.get("port"), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def _totals():
    return {
        "events": UsageEvent.objects.count(),
        "event_cost": UsageEvent.objects.aggregate(s=Sum("cost"))["s"] or Decimal(0),
        "member_spend": MemberPeriodUsage.objects.aggregate(s=Sum("spend"))["s"] or Decimal(0),
        "member_events": MemberPeriodUsage.objects.aggregate(s=Sum("event_count"))["s"] or 0,
        "slot_spend": OrgUsageSlot.objects.aggregate(s=Sum("spend"))["s"] or Decimal(0),
        "rollup_cost": UsageDailyRollup.objects.aggregate(s=Sum("cost"))["s"] or Decimal(0),
    }


@pytest.fixture
def acme():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    member(org, email="dev@acme.example")
    return org, api_key(org)


def test_connection_killed_after_the_ledger_write_then_retry_is_charged_once(acme, monkeypatch):
    _, raw = acme
    real_apply = spending_services.ledger_record
    calls = []

    def apply_then_lose_the_connection(**kwargs):
        real_apply(**kwargs)  # the event, counters and rollups are written inside the transaction...
        calls.append(1)
        if len(calls) == 1:
            _terminate_own_backend()  # ...and the connection dies before COMMIT

    monkeypatch.setattr(spending_services, "ledger_record", apply_then_lose_the_connection)
    first = _post(raw, "/usage", BODY)
    assert first.status_code == 503
    assert first["Retry-After"] == "1"
    assert "retry with the same idempotency_key" in first.json()["error"]["message"]
    connection.close()  # what Django does with a broken connection at the end of a request
    assert _totals()["events"] == 0  # nothing half-written survived the drop

    retry = _post(raw, "/usage", BODY)
    assert retry.status_code == 201
    again = _post(raw, "/usage", BODY)
    assert again.status_code == 200 and again.json() == retry.json()
    assert _totals() == {"events": 1, "event_cost": Decimal("0.0045"), "member_spend": Decimal("0.0045"),
                         "member_events": 1, "slot_spend": Decimal("0.0045"), "rollup_cost": Decimal("0.0045")}


def test_connection_error_mid_batch_writes_none_of_it_and_the_retry_charges_each_event_once(acme, monkeypatch):
    _, raw = acme
    real_apply = spending_services.ledger_record
    calls = []

    def apply_then_fail(**kwargs):
        real_apply(**kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(spending_services, "ledger_record", apply_then_fail)
    batch = {"events": [{**BODY, "idempotency_key": f"b-{i}"} for i in range(5)]}
    failed = _post(raw, "/usage/batch", batch)
    assert failed.status_code == 503, failed.content[:600]
    assert _totals()["events"] == 0
    retry = _post(raw, "/usage/batch", batch)
    assert [r["status"] for r in retry.json()["results"]] == [201] * 5
    replay = _post(raw, "/usage/batch", batch)
    assert [r["status"] for r in replay.json()["results"]] == [200] * 5
    totals = _totals()
    assert totals["events"] == totals["member_events"] == 5
    assert totals["event_cost"] == totals["member_spend"] == totals["slot_spend"] == totals["rollup_cost"] \
        == Decimal("0.0225")


def test_response_lost_after_commit_retry_is_a_replay_not_a_second_charge(acme):
    _, raw = acme
    first = _post(raw, "/usage", BODY)  # committed; pretend the answer never reached the client
    assert first.status_code == 201
    retries = [_post(raw, "/usage", BODY) for _ in range(3)]
    assert {r.status_code for r in retries} == {200}
    assert all(r.json() == first.json() for r in retries)
    assert _totals()["events"] == 1 and _totals()["member_spend"] == Decimal("0.0045")
