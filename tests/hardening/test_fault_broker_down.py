"""The Redis broker is down: admission and usage recording keep working, and the follow-ups they would have
queued (an auto-reload, spend-limit notices, the digest) are not lost: once Redis is back the periodic sweeps
(beat: auto-reload every minute, monitoring every five, digest daily) find what is due and do it once."""

import time
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.common.periods import period_containing
from apps.extra_usage.models import DigestDelivery, LedgerKind, PrepaidLedgerEntry
from apps.extra_usage.services.auto_reload import auto_reload_configure
from apps.extra_usage.services.prepaid import prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.extra_usage.tasks import auto_reload_sweep
from apps.monitoring.models import SpendNotice
from apps.monitoring.tasks import monitoring_sweep
from apps.organizations.models import PlanKind, Role
from apps.spending.tasks import digest_send_daily
from apps.usage.models import MemberPeriodUsage, UsageEvent
from billing_portal.celery import app
from tests.conftest import ApiClient, celery_use_broker
from tests.factories import OrganizationFactory, api_key, member

pytestmark = [pytest.mark.django_db(transaction=True)]
CLOSED_PORT = "redis://127.0.0.1:6399/0"  # nothing listens there


def haiku(key: str, dollars: int) -> dict:
    """A Haiku 4.5 request costing exactly `dollars` ($1 per million input tokens)."""
    return {"idempotency_key": key, "member": "dev@team.example", "product": "chat", "model": "claude-haiku-4-5",
            "usage": {"input_tokens": dollars * 1_000_000, "output_tokens": 0}}


@pytest.fixture
def broker_down():
    eager, url = app.conf.task_always_eager, app.conf.broker_url
    celery_use_broker(CLOSED_PORT, eager=False)
    state = {"down": True}

    def back():
        celery_use_broker(url, eager=eager)
        state["down"] = False

    yield back
    if state["down"]:
        back()


def test_broker_outage_loses_no_reload_notice_or_digest(broker_down, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    now = timezone.now()
    team = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="team")
    owner = member(team, email="owner@team.example", role=Role.PRIMARY_OWNER)
    member(team, email="dev@team.example", tier_code="standard")  # $25 included
    prepaid_purchase(organization=team, amount=Decimal("20.00"), idempotency_key="first", actor=owner.user, now=now)
    extra_usage_enable(organization=team, actor=owner.user, now=now)
    auto_reload_configure(organization=team, enabled=True, threshold=Decimal("10.00"), amount=Decimal("40.00"),
                          monthly_limit=None, actor=owner.user, now=now)
    client = ApiClient(api_key(team))
    enterprise = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="enterprise")
    member(enterprise, email="owner@enterprise.example", role=Role.PRIMARY_OWNER)
    asker = member(enterprise, email="dev@enterprise.example", tier_code="standard")
    assert PrepaidLedgerEntry.objects.filter(kind=LedgerKind.AUTO_RELOAD).count() == 0

    # --- Redis is down (the followups' enqueue fails; each request still answers at once) ------------------
    started = time.monotonic()
    admission = client.post("/admission", {"member": "dev@team.example", "product": "chat",
                                           "model": "claude-haiku-4-5"})
    assert admission.status_code == 200 and admission.json()["allowed"] is True
    assert client.post("/usage", haiku("a", 25)).status_code == 201  # the included $25, used up
    assert client.post("/usage", haiku("b", 15)).status_code == 201  # $15 from the prepaid $20: balance $5
    # The asker is stopped (past the seat's included usage, extra usage off), so the request is still needed
    # when the digest first closes requests whose member can spend again (apps/spending/requests.py).
    MemberPeriodUsage.objects.create(organization=enterprise, membership=asker, spend=Decimal("1000"),
                                     included_spend=Decimal("1000"),
                                     period_start=period_containing(timezone.now(), enterprise.billing_timezone).start)
    extra_usage_request_create(membership=asker, now=timezone.now())  # a pending request for the digest
    assert time.monotonic() - started < 15
    assert UsageEvent.objects.count() == 2
    # Nothing the follow-ups would have done has happened yet.
    assert PrepaidLedgerEntry.objects.filter(kind=LedgerKind.AUTO_RELOAD).count() == 0
    assert SpendNotice.objects.count() == 0
    assert DigestDelivery.objects.count() == 0

    # --- Redis is back: beat runs the sweeps (eager here: their tasks run in this process) ---------------
    broker_down()
    def sweep():
        auto_reload_sweep.delay()
        monitoring_sweep.delay()
        digest_send_daily.delay()

    sweep()
    reloads = PrepaidLedgerEntry.objects.filter(organization=team, kind=LedgerKind.AUTO_RELOAD)
    assert list(reloads.values_list("amount", flat=True)) == [Decimal("40.00")]
    notices = list(SpendNotice.objects.filter(organization=team).values_list("scope", "threshold"))
    assert notices and len(notices) == len(set(notices))  # each threshold noticed exactly once
    assert DigestDelivery.objects.filter(organization=enterprise).count() == 1  # its one reviewer
    assert sum("pending request" in m.subject for m in mail.outbox) == 1
    sent = len(mail.outbox)
    assert sent >= 2  # the digest and at least one spend notice went out

    sweep()  # beat runs them again: nothing is done twice
    assert reloads.count() == 1
    assert SpendNotice.objects.filter(organization=team).count() == len(notices)
    assert DigestDelivery.objects.count() == 1
    assert len(mail.outbox) == sent


def test_the_sweeps_that_recover_lost_followups_are_on_the_beat_schedule(settings):
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"apps.extra_usage.tasks.auto_reload_sweep", "apps.monitoring.tasks.monitoring_sweep",
            "apps.spending.tasks.digest_send_daily", "apps.invoicing.tasks.invoice_run_due_periods"} <= scheduled
