"""Admission: every refusal reason, the funding it announces, and its cost in queries."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.extra_usage.models import ExtraUsageSettings, MemberExtraUsage
from apps.organizations.models import PlanKind
from apps.usage.models import CapScope
from apps.usage.services import cap_set
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

from .conftest import usage_body

pytestmark = pytest.mark.django_db


def admit(client, email="dev@example.com", product="chat", model="claude-sonnet-4-5") -> dict:
    response = client.post("/admission", {"member": email, "product": product, "model": model})
    assert response.status_code == 200, response.content
    return response.json()


def spend(client, key, dollars: str, email="dev@example.com"):
    """Haiku 4.5 input at $1 per million tokens: spend exactly `dollars`."""
    tokens = int(Decimal(dollars) * 1_000_000)
    response = client.post("/usage", usage_body(key, email, model="claude-haiku-4-5", input_tokens=tokens,
                                                output_tokens=0))
    assert response.status_code == 201, response.content
    return response.json()


def seat_org(plan_kind, **extra_usage):
    org = OrganizationFactory(plan_kind=plan_kind)
    membership = member(org, email="dev@example.com", tier_code="standard")
    if extra_usage:
        ExtraUsageSettings.objects.create(organization=org, **extra_usage)
    return org, membership, ApiClient(api_key(org))


def test_admission_answer_has_the_contract_fields(usage_org):
    _, _, client = usage_org
    answer = admit(client)
    assert set(answer) == {"allowed", "reason", "funding", "period_ends_at", "can_request_extra_usage"}
    assert answer["allowed"] is True and answer["reason"] is None and answer["funding"] == "pooled"
    assert answer["period_ends_at"].endswith(("Z", "+00:00"))


def test_member_without_a_seat_is_refused_no_seat(usage_org):
    org, _, client = usage_org
    member(org, email="new@example.com", seat=False)
    answer = admit(client, "new@example.com")
    assert (answer["allowed"], answer["reason"], answer["funding"]) == (False, "no_seat", None)


def test_chat_seat_does_not_grant_claude_code(usage_org):
    org, _, client = usage_org
    member(org, email="chat@example.com", tier_code="chat")
    assert admit(client, "chat@example.com", product="claude_code")["reason"] == "product_not_in_seat"
    assert admit(client, "chat@example.com", product="chat")["allowed"] is True
    assert admit(client, "dev@example.com", product="claude_code")["allowed"] is True  # chat_code seat


def test_model_can_be_named_by_api_id_or_alias(usage_org):
    _, _, client = usage_org
    assert admit(client, model="claude-opus-4-1-20250805")["allowed"] is True
    assert admit(client, model="claude-3-5-haiku-latest")["allowed"] is True


def test_seat_member_is_funded_by_included_usage_until_it_is_used_up(db):
    org, _, client = seat_org(PlanKind.TEAM)
    assert admit(client)["funding"] == "included"
    spend(client, "k1", "25")  # a Team standard seat includes $25
    answer = admit(client)
    assert (answer["allowed"], answer["reason"]) == (False, "included_usage_exhausted")
    assert answer["can_request_extra_usage"] is False  # Team members cannot request; owners buy credit


def test_enterprise_member_past_included_usage_can_request_extra_usage(db):
    org, _, client = seat_org(PlanKind.ENTERPRISE_SEAT)
    spend(client, "k1", "30")
    answer = admit(client)
    assert (answer["allowed"], answer["reason"], answer["can_request_extra_usage"]) == (
        False, "included_usage_exhausted", True)


def test_extra_usage_on_for_chosen_members_only_refuses_the_others(db):
    org, membership, client = seat_org(PlanKind.ENTERPRISE_SEAT, enabled=True, all_members=False)
    spend(client, "k1", "30")
    assert admit(client)["reason"] == "extra_usage_disabled"
    MemberExtraUsage.objects.create(membership=membership, enabled=True)
    answer = admit(client)
    assert (answer["allowed"], answer["funding"]) == (True, "extra_usage")


def test_team_extra_usage_stops_when_the_prepaid_balance_is_spent(db):
    org, _, client = seat_org(PlanKind.TEAM, enabled=True, prepaid_balance=Decimal("2"))
    spend(client, "k1", "26")  # $1 of extra usage: $1 left
    assert admit(client)["funding"] == "extra_usage"
    spend(client, "k2", "1.5")  # overshoots the balance: recorded anyway
    assert ExtraUsageSettings.objects.get(organization=org).prepaid_balance == Decimal("-0.5")
    answer = admit(client)
    assert (answer["allowed"], answer["reason"]) == (False, "prepaid_balance_exhausted")


def test_caps_on_seat_plans_bound_extra_usage_only(db):
    org, membership, client = seat_org(PlanKind.ENTERPRISE_SEAT, enabled=True)
    cap_set(organization=org, scope=CapScope.MEMBER, membership=membership, amount=Decimal("0"))
    assert admit(client)["allowed"] is True  # included usage is not bounded by the $0 cap
    spend(client, "k1", "30")
    answer = admit(client)
    assert (answer["allowed"], answer["reason"]) == (False, "member_cap")


def test_admission_costs_a_bounded_number_of_queries(db, django_assert_num_queries, django_assert_max_num_queries):
    org, membership, client = seat_org(PlanKind.ENTERPRISE_SEAT, enabled=True, all_members=False)
    MemberExtraUsage.objects.create(membership=membership, enabled=True)
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("100"))
    cap_set(organization=org, scope=CapScope.MEMBER, membership=membership, amount=Decimal("10"))
    spend(client, "k1", "31")
    admit(client)  # warm the price cache, as a running server has it
    # One statement: the key, the member, their seat, counters and caps, the organization's extra usage.
    with django_assert_num_queries(1):
        answer = admit(client)
    assert (answer["allowed"], answer["funding"]) == (True, "extra_usage")
    # A refusal the member may ask to lift also checks for a pending or recently denied request.
    MemberExtraUsage.objects.filter(membership=membership).update(enabled=False)
    with django_assert_max_num_queries(3):
        answer = admit(client)
    assert (answer["reason"], answer["can_request_extra_usage"]) == ("extra_usage_disabled", True)


def test_recording_one_event_costs_a_bounded_number_of_queries(usage_org, django_assert_max_num_queries):
    org, _, client = usage_org
    cap_set(organization=org, scope=CapScope.ORGANIZATION, amount=Decimal("100"))
    spend(client, "warm", "1")
    # The key; the member with everything admission reads; the member's counters locked; the event; the
    # member, organization and daily counters.
    with django_assert_max_num_queries(7 + 2):  # + the savepoint the test's transaction adds around it
        spend(client, "k1", "2")


def test_batch_queries_do_not_grow_with_the_number_of_events(usage_org):
    org, _, client = usage_org
    for n in range(10):
        member(org, email=f"m{n}@example.com", tier_code="chat_code")
    client.post("/usage", usage_body("warm"))
    counts = []
    for size in (100, 400):
        events = [usage_body(f"k{size}-{i}", f"m{i % 10}@example.com") for i in range(size)]
        with CaptureQueriesContext(connection) as queries:
            response = client.post("/usage/batch", {"events": events})
        assert {r["status"] for r in response.json()["results"]} == {201}
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[1] <= 25  # a fixed dozen, plus one counter update per member in the batch
