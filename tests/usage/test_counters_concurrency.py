"""Exact counters under concurrent writers on real PostgreSQL, through the machine API, with retried keys.

Each test starts real threads (each with its own database connection) that post usage at the same time. The
member counter, the sum of the organization's counter slots and the sum of the daily rollups must all equal
the sum of the distinct events' costs to the last digit, and each distinct key must be stored once.
"""

import hashlib
import random
import threading
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from apps.common.periods import period_containing
from apps.organizations.models import PlanKind
from apps.usage.models import MemberPeriodUsage, OrgUsageSlot, UsageDailyRollup, UsageEvent
from apps.usage.pricing import Tokens, price_lookup, quote
from tests.conftest import ApiClient
from tests.factories import OrganizationFactory, api_key, member

# Real threads need real commits: transactional tests (tests/conftest.py puts the price table back before each).
pytestmark = pytest.mark.django_db(transaction=True)

MODELS = ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-5", "claude-3-5-haiku-latest", "claude-opus-4-1"]


def event_for(key: str, email: str) -> dict:
    """A body that depends only on the key, so a retry of a key always sends the same body. Some prompts
    cross 200,000 tokens so long-context pricing is exercised too."""
    seed = int(hashlib.sha256(key.encode()).hexdigest()[:12], 16)
    rng = random.Random(seed)
    return {
        "idempotency_key": key, "member": email, "product": "chat", "model": rng.choice(MODELS),
        "usage": {"input_tokens": rng.choice([rng.randint(1, 50_000), rng.randint(150_000, 260_000)]),
                  "output_tokens": rng.randint(0, 8_000),
                  "cache_creation_input_tokens": rng.randint(0, 3_000),
                  "cache_read_input_tokens": rng.randint(0, 20_000)},
    }


def expected_cost(body: dict) -> Decimal:
    _, price = price_lookup(model_name=body["model"], at=timezone.now())
    u = body["usage"]
    return quote(price, Tokens(u["input_tokens"], u["output_tokens"], u["cache_creation_input_tokens"],
                               u["cache_read_input_tokens"])).cost


def run_threads(raw_key: str, plans: list[list[dict]]) -> list[tuple[str, int, dict]]:
    """Post each thread's bodies in its own thread, all released at once. Returns (key, status, json)."""
    results: list[tuple[str, int, dict]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(plans))

    def worker(bodies):
        try:
            client = ApiClient(raw_key)
            barrier.wait()
            for body in bodies:
                response = client.post("/usage", body)
                with lock:
                    results.append((body["idempotency_key"], response.status_code, response.json()))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(bodies,)) for bodies in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
    return results


def assert_ledger_exact(org, expected_by_member: dict[int, Decimal], distinct_keys: int):
    period_start = period_containing(timezone.now(), org.billing_timezone).start
    total = sum(expected_by_member.values(), Decimal(0))
    for membership_id, expected in expected_by_member.items():
        counter = MemberPeriodUsage.objects.get(membership_id=membership_id, period_start=period_start)
        assert counter.spend == expected, (membership_id, counter.spend, expected)
        events = UsageEvent.objects.filter(membership_id=membership_id).aggregate(s=Sum("cost"))["s"]
        assert events == expected
        rollups = UsageDailyRollup.objects.filter(membership_id=membership_id).aggregate(s=Sum("cost"))["s"]
        assert rollups == expected
    slots = OrgUsageSlot.objects.filter(organization=org, period_start=period_start)
    assert slots.aggregate(s=Sum("spend"))["s"] == total
    assert slots.aggregate(n=Sum("event_count"))["n"] == distinct_keys
    assert slots.count() <= settings.ORG_COUNTER_SLOTS
    assert UsageEvent.objects.filter(organization=org).count() == distinct_keys
    assert MemberPeriodUsage.objects.filter(organization=org).aggregate(n=Sum("event_count"))["n"] == distinct_keys


def test_eight_threads_on_one_member_with_retried_keys_keep_exact_counters():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    membership = member(org, email="hot@example.com", tier_code="chat_code")
    raw_key = api_key(org)
    rng = random.Random(2)

    # 8 threads × 100 requests; 20% of the requests retry a key (the same body), often one another thread sends.
    fresh = [f"evt-{n}" for n in range(640)]
    slots = list(fresh) + [None] * 160
    rng.shuffle(slots)
    plans, sent = [[] for _ in range(8)], []
    for index, key in enumerate(slots):
        if key is None:
            key = rng.choice(sent) if sent else fresh[0]
        sent.append(key)
        plans[index % 8].append(event_for(key, "hot@example.com"))
    assert sum(len(p) for p in plans) == 800
    distinct = {body["idempotency_key"]: body for plan in plans for body in plan}
    assert len(distinct) == 640

    results = run_threads(raw_key, plans)

    assert len(results) == 800
    assert {status for _, status, _ in results} <= {200, 201}, [r for r in results if r[1] >= 300][:3]
    assert sum(1 for _, status, _ in results if status == 201) == 640
    # A retry is answered with the first answer, word for word.
    first: dict[str, dict] = {}
    for key, status, body in results:
        if status == 201:
            first[key] = body
    for key, status, body in results:
        assert body == first[key] or status == 201
        assert Decimal(body["cost"]) == expected_cost(distinct[key])
    expected = sum((expected_cost(body) for body in distinct.values()), Decimal(0))
    assert_ledger_exact(org, {membership.pk: expected}, distinct_keys=640)
    # Each answer's month-to-date is a distinct running total: the writes really were serialized.
    to_dates = sorted(Decimal(body["member_month_to_date"]) for body in first.values())
    assert len(set(to_dates)) == 640
    assert to_dates[-1] == expected


def test_many_members_writing_at_once_keep_exact_member_and_org_totals():
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    members = [member(org, email=f"m{n}@example.com", tier_code="chat_code") for n in range(24)]
    raw_key = api_key(org)
    plans = [[event_for(f"t{t}-e{n}", f"m{(t * 7 + n) % 24}@example.com") for n in range(30)] for t in range(8)]
    # Each thread retries its own first five events at the end.
    for plan in plans:
        plan.extend(plan[:5])

    results = run_threads(raw_key, plans)

    assert sorted({status for _, status, _ in results}) == [200, 201], [r for r in results if r[1] >= 300][:3]
    expected = {m.pk: Decimal(0) for m in members}
    by_email = {m.user.email: m.pk for m in members}
    distinct = {body["idempotency_key"]: body for plan in plans for body in plan}
    for body in distinct.values():
        expected[by_email[body["member"]]] += expected_cost(body)
    assert_ledger_exact(org, expected, distinct_keys=len(distinct))
