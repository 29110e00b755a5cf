"""Daily rollups (and the dashboards' per-organization daily totals rebuilt from them) equal the raw events
exactly after many threads record usage at once through the recording service, retries included."""

import datetime as dt
import random
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db.models import Sum

from apps.monitoring.models import OrgDailyUsage
from apps.monitoring.selectors import clock_for, org_daily_rows
from apps.monitoring.services import org_daily_refresh
from apps.organizations.models import PlanKind
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import OrgUsageSlot, UsageDailyRollup, UsageEvent
from apps.usage.pricing import Tokens
from tests.conftest import run_concurrently
from tests.factories import OrganizationFactory, member

from .conftest import NOW

SUMS = ("cost", "included_cost", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")
THREADS, BATCHES, BATCH_SIZE = 8, 6, 20


def _events_by_key():
    totals = defaultdict(lambda: [Decimal(0), Decimal(0), 0, 0, 0, 0, 0])
    for e in UsageEvent.objects.all():
        t = totals[(e.membership_id, e.occurred_at.date(), e.model_id, e.product)]
        for i, name in enumerate(("cost", "included_cost", "input_tokens", "output_tokens", "cache_write_tokens",
                                  "cache_read_tokens")):
            t[i] += getattr(e, name)
        t[6] += 1
    return {k: tuple(v) for k, v in totals.items()}


@pytest.mark.django_db(transaction=True)
def test_rollups_equal_the_raw_events_after_a_concurrent_load(frozen):
    org = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="busy", name="Busy")
    emails = [f"dev{n}@busy.test" for n in range(5)]
    for email in emails:
        member(org, email=email, since=NOW - dt.timedelta(days=90))

    def worker(n):
        rng = random.Random(n)
        for b in range(BATCHES):
            items = []
            for i in range(BATCH_SIZE):
                # Keys overlap between threads 0/1 so some events are replays of another thread's event.
                key = f"t{0 if n < 2 else n}-b{b}-i{i}"
                r = random.Random(key)  # same key, same body: a genuine retry
                items.append(UsageInput(
                    idempotency_key=key, member=r.choice(emails), product=r.choice(["chat", "claude_code"]),
                    model=r.choice(["claude-haiku-4-5", "claude-sonnet-4-5"]),
                    tokens=Tokens(input=r.randint(1, 90_000), output=r.randint(0, 9_000),
                                  cache_write=r.randint(0, 500), cache_read=r.randint(0, 5_000)),
                    occurred_at=NOW - dt.timedelta(days=r.choice([0, 1, 2, 20, 25]), minutes=r.randint(0, 600)),
                ))
            rng.shuffle(items)
            outcomes = usage_record_batch(organization=org, items=items, now=NOW)
            assert all(o.status in ("created", "replayed") for o in outcomes), outcomes

    run_concurrently(THREADS, worker)
    expected = _events_by_key()
    assert UsageEvent.objects.count() == (THREADS - 1) * BATCHES * BATCH_SIZE  # threads 0 and 1 share keys
    rollups = {
        (r.membership_id, r.day, r.model_id, r.product): (*(getattr(r, n) for n in SUMS), r.event_count)
        for r in UsageDailyRollup.objects.all()
    }
    assert rollups == expected
    ledger = UsageEvent.objects.aggregate(cost=Sum("cost"), n=Sum("included_cost"))
    slots = OrgUsageSlot.objects.aggregate(cost=Sum("spend"), n=Sum("included_spend"))
    assert (slots["cost"], slots["n"]) == (ledger["cost"], ledger["n"])

    # The dashboards' per-organization totals: rebuilt twice (a rerun adds nothing), equal to the events.
    for _ in range(2):
        for start in (dt.date(2026, 10, 1), dt.date(2026, 11, 1)):
            org_daily_refresh(organization=org, period_start=start)
    per_org = defaultdict(lambda: Decimal(0))
    for (_, day, model_id, product), values in expected.items():
        per_org[(day, model_id, product)] += values[0]
    assert {(r.day, r.model_id, r.product): r.cost for r in OrgDailyUsage.objects.filter(organization=org)} == dict(
        per_org)
    rows, stale = org_daily_rows(organization=org, clock=clock_for(organization=org, now=NOW))
    assert stale == []  # just rebuilt: the stored totals agree with the counters
    shown = defaultdict(lambda: Decimal(0))
    for row in rows:
        shown[(row.day, row.model_id, row.product)] += row.cost
    assert dict(shown) == dict(per_org)
