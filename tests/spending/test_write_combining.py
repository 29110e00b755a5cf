"""Write-combining (apps/spending/combining.py): single events of concurrent requests in one process are
committed together, each answered after that commit, and every event is still stored and charged exactly once
(real threads, each with its own database connection, against real PostgreSQL)."""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from apps.organizations.models import PlanKind
from apps.spending import services
from apps.spending.services import UsageInput, usage_record_for_key
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, UsageEvent
from apps.usage.pricing import Tokens
from tests.factories import OrganizationFactory, api_key, member

pytestmark = pytest.mark.django_db(transaction=True)


def event(key: str, email: str, input_tokens: int = 1000) -> UsageInput:
    return UsageInput(idempotency_key=key, member=email, product="chat", model="claude-sonnet-4-5",
                      tokens=Tokens(input=input_tokens, output=100))


@pytest.fixture
def held_leader(monkeypatch):
    """The first group's leader (a group of one: itself) waits until every other thread has queued behind it
    (`send_all` says how many), so they make the next group together."""
    combiner = services.store_combiner
    monkeypatch.setattr(combiner, "groups", 0)
    monkeypatch.setattr(combiner, "combined", 0)
    monkeypatch.setattr(combiner, "largest", 0)
    original = combiner._run
    first = threading.Event()
    QUEUED["others"] = 0

    def run(group):
        if QUEUED["others"] and not first.is_set():  # the first group once send_all has started
            first.set()
            deadline = time.monotonic() + 10
            while len(combiner._queue) < QUEUED["others"] and time.monotonic() < deadline:
                time.sleep(0.005)
        return original(group)

    monkeypatch.setattr(combiner, "_run", run)
    return combiner


QUEUED = {"others": 0}


def send_all(requests: list[tuple[str, UsageInput]]) -> list:
    """Each (raw key, event) from its own thread, all released at once; the outcomes in order."""
    QUEUED["others"] = len(requests) - 1
    outcomes: list = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def send(index, raw, item):
        try:
            barrier.wait()
            outcomes[index] = usage_record_for_key(raw_key=raw, item=item, now=timezone.now(),
                                                   key_check=lambda key: None)
        except BaseException as exc:  # reported by the assertion below
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i, raw, item)) for i, (raw, item) in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_concurrent_single_events_are_committed_together_and_each_stored_once(held_leader):
    orgs = [OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE) for _ in range(3)]
    people = [(api_key(org), member(org, email=f"m{i}-{n}@example.com", tier_code="chat_code"))
              for n, org in enumerate(orgs) for i in range(3)]
    requests = [(raw, event(f"k{i}", m.user.email, 1000 + i)) for i, (raw, m) in enumerate(people)]
    outcomes = send_all(requests)
    assert [o.status for o in outcomes] == ["created"] * len(requests), outcomes
    assert held_leader.largest > 1 and held_leader.combined >= held_leader.largest
    assert UsageEvent.objects.count() == len(requests)
    for (_raw, m), outcome in zip(people, outcomes, strict=True):
        stored = UsageEvent.objects.get(membership=m)
        assert stored.cost == outcome.event.cost
        counters = MemberPeriodUsage.objects.get(membership=m)
        assert (counters.spend, counters.event_count) == (stored.cost, 1)
    for org in orgs:
        total = UsageEvent.objects.filter(organization=org).aggregate(s=Sum("cost"))["s"]
        assert OrgUsageSlot.objects.filter(organization=org).aggregate(s=Sum("spend"))["s"] == total
        assert UsageDailyRollup.objects.filter(membership__organization=org).aggregate(s=Sum("cost"))["s"] == total


def test_retries_in_and_across_groups_are_charged_once(held_leader):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    raw = api_key(org)
    people = [member(org, email=f"m{i}@example.com", tier_code="chat_code") for i in range(4)]
    before = usage_record_for_key(raw_key=raw, item=event("old", people[0].user.email), now=timezone.now(),
                                  key_check=lambda key: None)
    requests = [(raw, event(f"k{i}", m.user.email)) for i, m in enumerate(people)]
    requests += [(raw, event("k0", people[0].user.email)),  # the same request twice at once
                 (raw, event("old", people[0].user.email)),  # a retry of an event stored before
                 (raw, event("k1", people[1].user.email, 7))]  # the same key, another body
    outcomes = send_all(requests)
    statuses = [getattr(o, "status", o) for o in outcomes]
    assert statuses[2] == statuses[3] == "created" and statuses[5] == "replayed"
    assert sorted(statuses[i] for i in (0, 4)) == ["created", "replayed"]
    assert sorted(statuses[i] for i in (1, 6)) == ["conflict", "created"]
    assert UsageEvent.objects.count() == 5
    stored = UsageEvent.objects.filter(organization=org)
    assert sorted(stored.values_list("idempotency_key", flat=True)) == ["k0", "k1", "k2", "k3", "old"]
    assert MemberPeriodUsage.objects.get(membership=people[0]).spend == before.event.cost * 2
    total = stored.aggregate(s=Sum("cost"))["s"]
    assert OrgUsageSlot.objects.filter(organization=org).aggregate(s=Sum("spend"))["s"] == total
    assert total == sum(o.event.cost for o in [before, *outcomes] if o.status == "created")


def test_a_group_that_fails_rolls_back_and_each_request_records_alone(held_leader, monkeypatch):
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    raw = api_key(org)
    people = [member(org, email=f"m{i}@example.com", tier_code="chat_code") for i in range(4)]
    original = services._store_in_transaction
    calls = []

    def failing_second(**kwargs):
        calls.append(kwargs["pending"][0].item.idempotency_key)
        original(**kwargs)
        if len(calls) == 2:  # after one event of the group was written
            raise RuntimeError("lost connection")

    monkeypatch.setattr(held_leader, "_store_in_transaction", failing_second)
    outcomes = send_all([(raw, event(f"k{i}", m.user.email)) for i, m in enumerate(people)])
    assert len(calls) >= 2  # the group ran, failed and rolled back
    assert [o.status for o in outcomes] == ["created"] * 4, outcomes
    assert UsageEvent.objects.count() == 4
    for m in people:
        assert MemberPeriodUsage.objects.get(membership=m).spend == Decimal("0.0045")
    assert OrgUsageSlot.objects.filter(organization=org).aggregate(s=Sum("spend"))["s"] == Decimal("0.0045") * 4
