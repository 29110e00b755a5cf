"""A Celery worker is killed with SIGKILL in the middle of the monthly invoice run, an auto-reload and a digest.
After a new worker starts, everything completes once: nothing lost, nothing done twice.

What makes it so (billing_portal/settings.py): CELERY_TASK_ACKS_LATE (a task is acknowledged only when it
finished, so a killed worker's tasks stay unacknowledged and are redelivered), CELERY_TASK_REJECT_ON_WORKER_LOST
(a prefork child that dies has its task requeued), CELERY_WORKER_PREFETCH_MULTIPLIER = 1, and tasks that claim
their work with unique rows (invoice run claim, charge idempotency key, digest delivery per admin and day).
The restarted worker here uses a one-second visibility timeout so it reclaims the dead worker's tasks at once
(production: one hour, i.e. redelivery within the hour).
"""

import datetime as dt
import signal
import time
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone

from apps.common.periods import period_containing
from apps.extra_usage.models import ChargeStatus, DigestDelivery, LedgerKind, PrepaidCharge, PrepaidLedgerEntry
from apps.extra_usage.services.auto_reload import auto_reload_configure, auto_reload_resume_stale
from apps.extra_usage.services.prepaid import STALE_CHARGE_AFTER, prepaid_purchase
from apps.extra_usage.services.switches import extra_usage_enable
from apps.extra_usage.services.usage_requests import extra_usage_request_create
from apps.invoicing.models import Invoice, InvoiceLine, InvoiceRunClaim
from apps.invoicing.tasks import invoice_issue
from apps.organizations.models import PlanKind, Role
from apps.spending.tasks import digest_send_organization_task
from apps.usage.models import MemberPeriodUsage
from tests.conftest import start_pausing_worker, wait_for
from tests.factories import OrganizationFactory, member

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.celery_worker]

PAUSE_AT = ",".join([
    "apps.invoicing.services:_lines_write",          # inside the invoice's transaction, after the claim
    "apps.extra_usage.services.prepaid:payment_provider",    # after the reload's charge is claimed, before payment
    "apps.extra_usage.services.digest:pending_requests",    # at the start of the digest
])


def test_sigkill_mid_invoice_run_reload_and_digest_then_restart_completes_each_once(tmp_path, pausing_broker):
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    now = timezone.now()
    last_month = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)

    # The monthly run: an organization whose members held seats all last month.
    invoiced = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="invoiced")
    member(invoiced, email="owner@invoiced.example", role=Role.PRIMARY_OWNER,
           since=dt.datetime.combine(last_month, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=40))
    # A digest: two reviewers (owner, admin) and a pending request.
    reviewed = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_SEAT, slug="reviewed")
    member(reviewed, email="owner@reviewed.example", role=Role.PRIMARY_OWNER)
    member(reviewed, email="admin@reviewed.example", role=Role.ADMIN)
    asker = member(reviewed, email="dev@reviewed.example", tier_code="standard")
    # The asker is stopped (past the seat's included usage, extra usage off), so the request is still needed
    # when the digest first closes requests whose member can spend again (apps/spending/requests.py).
    MemberPeriodUsage.objects.create(organization=reviewed, membership=asker, spend=Decimal("1000"),
                                     included_spend=Decimal("1000"),
                                     period_start=period_containing(now, reviewed.billing_timezone).start)
    extra_usage_request_create(membership=asker, now=now)

    worker = start_pausing_worker(tmp_path, "worker-1", HARDENING_PAUSE_AT=PAUSE_AT)
    try:
        # An auto-reload: configuring it with the balance already under the threshold enqueues the reload.
        team = OrganizationFactory(plan_kind=PlanKind.TEAM, slug="team")
        owner = member(team, email="owner@team.example", role=Role.PRIMARY_OWNER)
        prepaid_purchase(organization=team, amount=Decimal("5.00"), idempotency_key="first", actor=owner.user,
                         now=now)
        extra_usage_enable(organization=team, actor=owner.user, now=now)
        auto_reload_configure(organization=team, enabled=True, threshold=Decimal("10.00"), amount=Decimal("40.00"),
                              monthly_limit=None, actor=owner.user, now=now)
        invoice_issue.delay(invoiced.pk, last_month.isoformat())
        digest_send_organization_task.delay(reviewed.pk)

        markers = [tmp_path / f"{name}.paused" for name in ("_lines_write", "payment_provider", "pending_requests")]
        assert wait_for(lambda: all(m.exists() for m in markers), timeout=90), (tmp_path / "worker-1.log").read_text()
        time.sleep(0.5)
        worker.send_signal(signal.SIGKILL)  # no warm shutdown, no acknowledgement, no cleanup
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()

    # Mid-way state: the invoice's transaction died with the worker; the reload is claimed but unpaid.
    assert not Invoice.objects.filter(organization=invoiced).exists()
    assert list(PrepaidCharge.objects.filter(organization=team, kind="auto_reload")
                .values_list("status", flat=True)) == [ChargeStatus.PENDING]
    assert not DigestDelivery.objects.exists()

    second = start_pausing_worker(tmp_path, "worker-2", HARDENING_VISIBILITY="1")
    try:
        assert wait_for(lambda: Invoice.objects.filter(organization=invoiced).exists()
                        and DigestDelivery.objects.filter(organization=reviewed).count() == 2, timeout=90), \
            (tmp_path / "worker-2.log").read_text()[-3000:]
        time.sleep(2)  # let any duplicate delivery run too
    finally:
        second.terminate()
        second.wait(20)

    # The charge a dead worker left pending is finished by the minute sweep once it is stale (same key).
    assert auto_reload_resume_stale(now=timezone.now() + STALE_CHARGE_AFTER + dt.timedelta(seconds=1)) == 1
    assert auto_reload_resume_stale(now=timezone.now() + STALE_CHARGE_AFTER + dt.timedelta(seconds=2)) == 0

    invoices = Invoice.objects.filter(organization=invoiced)
    assert invoices.count() == 1
    assert InvoiceRunClaim.objects.get(organization=invoiced).status == "done"
    assert InvoiceLine.objects.filter(invoice=invoices.get()).count() >= 1
    reloads = PrepaidLedgerEntry.objects.filter(organization=team, kind=LedgerKind.AUTO_RELOAD)
    assert list(reloads.values_list("amount", flat=True)) == [Decimal("40.00")]
    assert team.extra_usage.__class__.objects.get(organization=team).prepaid_balance == Decimal("45.00")
    assert DigestDelivery.objects.filter(organization=reviewed).count() == 2
    sent = "".join(p.read_text() for p in (tmp_path / "mail").glob("*.log"))
    assert sent.count("pending request") == 2, sent[:2000]
