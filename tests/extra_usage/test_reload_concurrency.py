"""Many events crossing the reload threshold at once buy exactly one reload (real threads, real PostgreSQL)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from apps.extra_usage.models import PrepaidCharge
from apps.extra_usage.services.auto_reload import auto_reload_check
from apps.extra_usage.tasks import auto_reload_task
from tests.conftest import run_concurrently

from .conftest import assert_ledger_invariant, ledger_kinds, spend
from .test_prepaid import setup_team

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_twenty_concurrent_events_crossing_the_threshold_buy_exactly_one_reload(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner, balance="20.00", threshold="10.00", amount="100.00")
    spend(org, "dev@team.example", "25.00")  # the included usage, used up
    # 20 events of $1 at once: the balance passes the $10 threshold half-way; every event's after-commit
    # step (eager Celery, in its own thread) checks for a reload concurrently.
    run_concurrently(20, lambda i: spend(org, "dev@team.example", "1.00", key=f"c{i}"))
    # and 20 more checks at once, as if the task had been delivered again to many workers
    run_concurrently(20, lambda i: auto_reload_check(organization=org, now=timezone.now()))
    auto_reload_task(org.pk)
    assert ledger_kinds(org).count("auto_reload") == 1
    reload_calls = [c for c in provider.calls if not c[2].startswith("purchase:")]
    assert len(reload_calls) == 1
    assert PrepaidCharge.objects.filter(organization=org, kind="auto_reload").count() == 1
    assert assert_ledger_invariant(org) == Decimal("100")
