"""Team prepaid balance: purchases, auto-reload, the ledger invariant, failed payments, the monthly limit."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.extra_usage.models import ChargeStatus, ExtraUsageSettings, PrepaidCharge, PrepaidLedgerEntry
from apps.extra_usage.services.auto_reload import auto_reload_check, auto_reload_configure, auto_reload_resume_stale
from apps.extra_usage.services.prepaid import prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.extra_usage.tasks import auto_reload_sweep, auto_reload_task

from .conftest import assert_ledger_invariant, ledger_kinds, spend

pytestmark = pytest.mark.django_db


def setup_team(org, owner, *, balance="50.00", threshold="10.00", amount="40.00", limit=None):
    now = timezone.now()
    prepaid_purchase(organization=org, amount=Decimal(balance), idempotency_key="first", actor=owner.user, now=now)
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    auto_reload_configure(organization=org, enabled=True, threshold=Decimal(threshold), amount=Decimal(amount),
                          monthly_limit=Decimal(limit) if limit else None, actor=owner.user, now=now)


def test_purchase_adds_a_ledger_row_and_the_balance_equals_the_ledger_after_every_step(team, provider):
    org, owner, _, _ = team
    now = timezone.now()
    charge = prepaid_purchase(organization=org, amount=Decimal("100.00"), idempotency_key="a", actor=owner.user,
                              now=now)
    assert charge.status == ChargeStatus.SUCCEEDED and charge.payment_reference.startswith("inv_")
    assert assert_ledger_invariant(org) == Decimal("100")
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    spend(org, "dev@team.example", "25.00")
    assert assert_ledger_invariant(org) == Decimal("100")  # included usage draws nothing
    spend(org, "dev@team.example", "7.25")
    assert assert_ledger_invariant(org) == Decimal("92.75")
    prepaid_purchase(organization=org, amount=Decimal("5.00"), idempotency_key="b", actor=owner.user, now=now)
    assert assert_ledger_invariant(org) == Decimal("97.75")
    assert ledger_kinds(org) == ["purchase", "usage", "purchase"]


def test_a_double_submitted_purchase_charges_once(team, provider):
    org, owner, _, _ = team
    now = timezone.now()
    first = prepaid_purchase(organization=org, amount=Decimal("30"), idempotency_key="same", actor=owner.user,
                             now=now)
    again = prepaid_purchase(organization=org, amount=Decimal("30"), idempotency_key="same", actor=owner.user,
                             now=now)
    assert first.pk == again.pk
    assert len(provider.calls) == 1
    assert assert_ledger_invariant(org) == Decimal("30")


def test_a_failed_payment_changes_no_balance(team, provider):
    org, owner, _, _ = team
    provider.fail = True
    charge = prepaid_purchase(organization=org, amount=Decimal("30"), idempotency_key="x", actor=owner.user,
                              now=timezone.now())
    assert charge.status == ChargeStatus.FAILED and "declined" in charge.error
    assert assert_ledger_invariant(org) == Decimal("0")
    assert not PrepaidLedgerEntry.objects.filter(organization=org).exists()
    with pytest.raises(ValidationError):
        extra_usage_enable(organization=org, actor=owner.user, now=timezone.now())


def test_purchase_amount_is_validated(team, provider):
    org, owner, _, _ = team
    for bad in (Decimal("4.99"), Decimal("-1"), Decimal("1.001")):
        with pytest.raises(ValidationError):
            prepaid_purchase(organization=org, amount=bad, idempotency_key=f"k{bad}", actor=owner.user,
                             now=timezone.now())
    assert provider.calls == []


def test_reaching_the_threshold_buys_one_reload_and_a_second_check_buys_nothing(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "39.00")  # balance 50 → 11: above the $10 threshold
    assert auto_reload_check(organization=org, now=timezone.now()) is None
    spend(org, "dev@team.example", "1.00")  # balance 10: at the threshold
    charge = auto_reload_check(organization=org, now=timezone.now())
    assert charge.status == ChargeStatus.SUCCEEDED and charge.amount == Decimal("40.00")
    assert auto_reload_check(organization=org, now=timezone.now()) is None
    auto_reload_task(org.pk)
    auto_reload_task(org.pk)
    assert assert_ledger_invariant(org) == Decimal("50")
    assert ledger_kinds(org).count("auto_reload") == 1
    assert len([c for c in provider.calls if c[2] != "purchase:first"]) == 1
    reload = PrepaidLedgerEntry.objects.get(organization=org, kind="auto_reload")
    assert reload.reload_key == charge.idempotency_key == provider.calls[-1][2]


def test_next_crossing_buys_the_next_reload(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "40.00")
    auto_reload_check(organization=org, now=timezone.now())
    spend(org, "dev@team.example", "40.00")
    auto_reload_check(organization=org, now=timezone.now())
    assert assert_ledger_invariant(org) == Decimal("50")
    keys = list(PrepaidCharge.objects.filter(organization=org, kind="auto_reload").order_by("id")
                .values_list("idempotency_key", flat=True))
    period = timezone.now().strftime("%Y-%m")
    assert keys == [f"{period}:0:0", f"{period}:1:0"]


def test_monthly_reload_limit_stops_reloads_until_next_month(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner, limit="80.00")
    spend(org, "dev@team.example", "25.00")
    for _ in range(3):
        spend(org, "dev@team.example", "40.00")
        auto_reload_check(organization=org, now=timezone.now())
    assert ledger_kinds(org).count("auto_reload") == 2  # $80 of reloads this month, no third
    assert assert_ledger_invariant(org) == Decimal("10")
    next_month = timezone.now().replace(day=1) + dt.timedelta(days=32)
    with time_machine.travel(next_month, tick=False):
        assert auto_reload_check(organization=org, now=timezone.now()).status == ChargeStatus.SUCCEEDED
    assert ledger_kinds(org).count("auto_reload") == 3


def test_a_failed_reload_changes_nothing_and_switches_auto_reload_off(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "45.00")
    provider.fail = True
    charge = auto_reload_check(organization=org, now=timezone.now())
    assert charge.status == ChargeStatus.FAILED
    assert assert_ledger_invariant(org) == Decimal("5")
    assert ExtraUsageSettings.objects.get(organization=org).auto_reload_enabled is False
    assert auto_reload_check(organization=org, now=timezone.now()) is None  # no retry every minute
    provider.fail = False
    auto_reload_configure(organization=org, enabled=True, threshold=Decimal("10"), amount=Decimal("40"),
                          monthly_limit=None, actor=owner.user, now=timezone.now())
    assert auto_reload_check(organization=org, now=timezone.now()).status == ChargeStatus.SUCCEEDED
    assert assert_ledger_invariant(org) == Decimal("45")


def test_sweep_buys_a_reload_whose_after_usage_task_was_lost(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "45.00")  # on_commit never runs here: as if the enqueue was lost
    auto_reload_sweep()
    auto_reload_sweep()
    assert ledger_kinds(org).count("auto_reload") == 1
    assert assert_ledger_invariant(org) == Decimal("45")


def test_a_charge_left_pending_by_a_dead_worker_is_finished_once(team, provider):
    org, owner, _, _ = team
    setup_team(org, owner)
    spend(org, "dev@team.example", "25.00")
    spend(org, "dev@team.example", "45.00")
    from apps.extra_usage.services.auto_reload import _reload_claim

    claimed = _reload_claim(organization=org, now=timezone.now())  # the worker dies before charging
    assert auto_reload_check(organization=org, now=timezone.now()) is None  # the crossing is taken
    later = timezone.now() + dt.timedelta(minutes=10)
    assert auto_reload_resume_stale(now=later) == 1
    assert auto_reload_resume_stale(now=later) == 0
    assert PrepaidCharge.objects.get(pk=claimed.pk).status == ChargeStatus.SUCCEEDED
    assert assert_ledger_invariant(org) == Decimal("45")


def test_auto_reload_settings_are_validated(team):
    org, owner, _, _ = team
    with pytest.raises(ValidationError) as error:
        auto_reload_configure(organization=org, enabled=True, threshold=Decimal("10"), amount=Decimal("50"),
                              monthly_limit=Decimal("20"), actor=owner.user, now=timezone.now())
    assert "monthly_reload_limit" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        auto_reload_configure(organization=org, enabled=True, threshold=None, amount=Decimal("50"),
                              monthly_limit=None, actor=owner.user, now=timezone.now())
    assert "reload_threshold" in error.value.message_dict
