"""Recording usage through the machine API: idempotency, batches, funding splits and the answer's fields."""

from decimal import Decimal

import pytest

from apps.extra_usage.models import ExtraUsageSettings, PrepaidLedgerEntry
from apps.organizations.models import PlanKind
from apps.usage.models import Funding, MemberPeriodUsage, UsageEvent
from apps.usage.selectors import org_counters
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

from .conftest import usage_body

pytestmark = pytest.mark.django_db


def haiku(key: str, dollars_millionths: int, email: str = "dev@example.com") -> dict:
    """Claude Haiku 4.5 charges $1 per million input tokens: N input tokens cost exactly N millionths."""
    return usage_body(key, email, model="claude-haiku-4-5", input_tokens=dollars_millionths, output_tokens=0)


def test_usage_answer_has_the_contract_fields(usage_org):
    _, _, client = usage_org
    response = client.post("/usage", usage_body("k1"))
    assert response.status_code == 201
    assert response.json() == {"cost": "0.0045", "currency": "USD", "funding": "pooled",
                               "member_month_to_date": "0.0045", "blocked": False}


def test_same_key_same_body_answers_200_with_the_first_answer_and_charges_once(usage_org):
    _, membership, client = usage_org
    first = client.post("/usage", usage_body("k1"))
    client.post("/usage", usage_body("k2"))
    again = client.post("/usage", usage_body("k1"))
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()  # month-to-date as it was then, not as it is now
    assert UsageEvent.objects.count() == 2
    assert MemberPeriodUsage.objects.get(membership=membership).spend == Decimal("0.009")


def test_same_key_different_body_is_409_and_charges_nothing(usage_org):
    _, membership, client = usage_org
    client.post("/usage", usage_body("k1"))
    response = client.post("/usage", usage_body("k1", output_tokens=101))
    assert response.status_code == 409
    assert response.json()["error"] == {"type": "idempotency_conflict", "field": "idempotency_key",
                                        "message": "idempotency_key: was already used with a different request "
                                                   "body"}
    assert UsageEvent.objects.count() == 1
    assert MemberPeriodUsage.objects.get(membership=membership).spend == Decimal("0.0045")


def test_extra_keys_in_the_usage_object_do_not_change_the_fingerprint(usage_org):
    _, _, client = usage_org
    body = usage_body("k1")
    client.post("/usage", body)
    body["usage"]["service_tier"] = "standard"
    assert client.post("/usage", body).status_code == 200


def test_replay_within_one_batch_is_charged_once(usage_org):
    _, membership, client = usage_org
    response = client.post("/usage/batch", {"events": [usage_body("k1"), usage_body("k1"),
                                                       usage_body("k1", output_tokens=5)]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == [201, 200, 409]
    assert results[1]["result"] == results[0]["result"]
    assert results[2]["error"]["field"] == "events[2].idempotency_key"
    assert UsageEvent.objects.count() == 1
    assert MemberPeriodUsage.objects.get(membership=membership).spend == Decimal("0.0045")


def test_one_bad_event_does_not_sink_the_batch(usage_org):
    _, membership, client = usage_org
    events = [
        usage_body("k1"),
        usage_body("k2", model="claude-nope"),
        {**usage_body("k3"), "usage": {"input_tokens": -4, "output_tokens": 1}},
        usage_body("k4", email="nobody@example.com"),
        usage_body("k5", occurred_at="2999-01-01T00:00:00Z"),
        "not an event",
        usage_body("k6"),
    ]
    results = client.post("/usage/batch", {"events": events}).json()["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == [201, 400, 400, 400, 400, 400, 201]
    assert [r["error"]["field"] for r in results if r["status"] == 400] == [
        "events[1].model", "events[2].usage.input_tokens", "events[3].member", "events[4].occurred_at", "events[5]"]
    assert results[6]["result"]["member_month_to_date"] == "0.009"
    assert set(UsageEvent.objects.values_list("idempotency_key", flat=True)) == {"k1", "k6"}
    assert MemberPeriodUsage.objects.get(membership=membership).spend == Decimal("0.009")


def test_batch_of_1000_events_is_accepted(usage_org):
    org, membership, client = usage_org
    events = [usage_body(f"k{i}") for i in range(1000)]
    results = client.post("/usage/batch", {"events": events}).json()["results"]
    assert {r["status"] for r in results} == {201}
    assert MemberPeriodUsage.objects.get(membership=membership).spend == Decimal("4.5")
    assert org_counters(organization_id=org.pk, period_start=UsageEvent.objects.first().period_start).spend == (
        Decimal("4.5"))


def test_event_crossing_the_included_allowance_is_split(db):
    """Team standard seat includes $25. $20 then $10: the second is $5 included and $5 extra usage."""
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    membership = member(org, email="dev@example.com", tier_code="standard")
    ExtraUsageSettings.objects.create(organization=org, enabled=True, prepaid_balance=Decimal("100"))
    client = ApiClient(api_key(org))

    first = client.post("/usage", haiku("k1", 20_000_000)).json()
    assert first["funding"] == "included"
    second = client.post("/usage", haiku("k2", 10_000_000)).json()
    assert second["funding"] == "extra_usage"
    assert second["cost"] == "10"
    event = UsageEvent.objects.get(idempotency_key="k2")
    assert (event.cost, event.included_cost, event.extra_cost) == (Decimal("10"), Decimal("5"), Decimal("5"))
    third = UsageEvent.objects.get(idempotency_key="k1")
    assert third.funding == Funding.INCLUDED
    counters = MemberPeriodUsage.objects.get(membership=membership)
    assert (counters.spend, counters.included_spend) == (Decimal("30"), Decimal("25"))
    assert counters.extra_usage_started_at == event.occurred_at
    # Team extra usage is drawn from the prepaid balance, once, for the extra part only.
    assert ExtraUsageSettings.objects.get(organization=org).prepaid_balance == Decimal("95")
    assert PrepaidLedgerEntry.objects.get(event=event).amount == Decimal("-5")


def test_event_ending_exactly_at_the_allowance_is_all_included(db):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT)  # standard seat includes $30
    member(org, email="dev@example.com", tier_code="standard")
    client = ApiClient(api_key(org))
    assert client.post("/usage", haiku("k1", 30_000_000)).json()["funding"] == "included"
    assert UsageEvent.objects.get(idempotency_key="k1").included_cost == Decimal("30")
    nxt = client.post("/usage", haiku("k2", 1))
    assert nxt.json()["funding"] == "extra_usage"
    assert UsageEvent.objects.get(idempotency_key="k2").included_cost == 0


def test_usage_based_enterprise_spend_is_all_pooled(usage_org):
    _, _, client = usage_org
    assert client.post("/usage", haiku("k1", 50_000_000)).json()["funding"] == "pooled"
    assert UsageEvent.objects.get().included_cost == 0


def test_event_stores_the_rates_it_was_priced_with(usage_org):
    _, _, client = usage_org
    client.post("/usage", usage_body("k1", input_tokens=200_001, output_tokens=0))
    event = UsageEvent.objects.get()
    assert event.long_context is True
    assert (event.rate_input, event.rate_output) == (Decimal("6"), Decimal("22.5"))
    assert event.cost == Decimal("1.200006")
