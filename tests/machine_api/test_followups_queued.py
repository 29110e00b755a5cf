"""Recording usage queues the follow-up task (spend notices, auto-reload) only when this usage may have made one
due; the periodic sweeps catch anything else."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from apps.extra_usage.services.auto_reload import auto_reload_configure
from apps.extra_usage.services.prepaid import prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.monitoring.services import notification_settings_set
from apps.organizations.models import PlanKind, Role
from apps.spending import services as spending_services
from apps.spending.services import UsageInput, usage_record_batch
from apps.usage.models import CapScope
from apps.usage.pricing import Tokens
from apps.usage.services import cap_set
from tests.factories import OrganizationFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch, django_capture_on_commit_callbacks):
    """The (organization id, member ids) of every follow-up task queued after commit."""
    calls = []
    monkeypatch.setattr(spending_services, "enqueue_on_commit", lambda name, org_id, ids: transaction.on_commit(
        lambda: calls.append((org_id, ids))) if name == spending_services.USAGE_FOLLOWUPS_TASK else None)

    def record(organization, email, dollars, key):
        item = UsageInput(idempotency_key=key, member=email, product="chat", model="claude-haiku-4-5",
                          tokens=Tokens(input=int(Decimal(dollars) * 1_000_000), output=0))
        with django_capture_on_commit_callbacks(execute=True):
            [outcome] = usage_record_batch(organization=organization, items=[item], now=timezone.now())
        assert outcome.status in ("created", "replayed")

    return calls, record


def test_usage_below_every_threshold_queues_nothing(queued):
    calls, record = queued
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10.00"))
    for n in range(3):
        record(org, "dev@example.com", "2.00", f"k{n}")  # $6 of a $10 cap: 60%
    assert calls == []


def test_each_member_cap_threshold_queues_the_followups_once_when_reached(queued):
    calls, record = queued
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10.00"))
    spends = ["7.00", "1.50", "1.00", "1.00", "1.00"]  # 70%, 85% (80 reached), 95%, 105% (100 reached), 115%
    queued_after = []
    for n, dollars in enumerate(spends):
        before = len(calls)
        record(org, "dev@example.com", dollars, f"k{n}")
        queued_after.append(len(calls) > before)
    assert queued_after == [False, True, False, True, False]
    assert calls[0] == (org.pk, [dev.pk])


def test_organization_thresholds_are_the_ones_configured(queued):
    calls, record = queued
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10.00"))
    notification_settings_set(organization=org, thresholds=[50], actor=None, now=timezone.now())
    record(org, "dev@example.com", "4.00", "a")
    assert calls == []
    record(org, "dev@example.com", "2.00", "b")  # 60%: past the organization's 50% threshold
    assert calls == [(org.pk, [dev.pk])]


def test_a_retried_event_queues_nothing_again(queued):
    calls, record = queued
    org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE)
    dev = member(org, email="dev@example.com", tier_code="chat")
    cap_set(organization=org, scope=CapScope.MEMBER, membership=dev, amount=Decimal("10.00"))
    record(org, "dev@example.com", "9.00", "same")
    record(org, "dev@example.com", "9.00", "same")
    assert calls == [(org.pk, [dev.pk])]


def test_team_balance_at_its_reload_threshold_queues_the_followups(queued, provider):  # noqa: F811
    calls, record = queued
    org = OrganizationFactory(plan_kind=PlanKind.TEAM)
    owner = member(org, email="owner@team.example", role=Role.PRIMARY_OWNER)
    member(org, email="dev@team.example", tier_code="standard")
    now = timezone.now()
    prepaid_purchase(organization=org, amount=Decimal("50.00"), idempotency_key="first", actor=owner.user, now=now)
    extra_usage_enable(organization=org, actor=owner.user, now=now)
    auto_reload_configure(organization=org, enabled=True, threshold=Decimal("10.00"), amount=Decimal("40.00"),
                          monthly_limit=None, actor=owner.user, now=now)
    notification_settings_set(organization=org, thresholds=[100], actor=None, now=timezone.now())
    record(org, "dev@team.example", "25.00", "included")  # the $25 allowance: 100% reached, a notice is due
    calls.clear()
    record(org, "dev@team.example", "30.00", "extra-1")  # balance 50 → 20
    assert calls == []
    record(org, "dev@team.example", "10.00", "extra-2")  # balance 10: at the threshold
    assert [org_id for org_id, _ in calls] == [org.pk]
