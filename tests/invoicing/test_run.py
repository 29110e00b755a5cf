"""The monthly run: one invoice per organization per period, resumable after a crash, never twice."""

import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
import time_machine
from django.core.exceptions import ValidationError

from apps.invoicing import selectors, services, tasks
from apps.invoicing.models import ClaimStatus, Invoice, InvoiceRunClaim, InvoiceStatus
from apps.invoicing.services import invoice_due_periods, invoice_issue_for_period, invoice_run_due_periods
from apps.organizations.models import PlanKind, Role
from apps.usage.models import UsageEvent
from tests.factories import OrganizationFactory, member

from .helpers import at, event

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)
AFTER_NOV = at("UTC", 2026, 12, 1, 0, 20)


def _orgs(count, tz="UTC"):
    orgs = []
    for _ in range(count):
        org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, billing_timezone=tz)
        m = member(org, since=at(tz, 2026, 10, 20))
        UsageEvent.objects.bulk_create([event(m, occurred_at=at(tz, 2026, 11, 5), period_start=NOV,
                                              cost=Decimal("1.2345"))])
        orgs.append(org)
    return orgs


def _invoices_per_org():
    return sorted(Invoice.objects.values_list("organization_id", flat=True))


def test_running_twice_issues_one_invoice_per_organization():
    orgs = _orgs(3)
    first = invoice_run_due_periods(now=AFTER_NOV)
    second = invoice_run_due_periods(now=AFTER_NOV + dt.timedelta(minutes=15))

    assert len(first) == 3 and second == []
    assert _invoices_per_org() == sorted(o.pk for o in orgs)
    again = invoice_issue_for_period(organization=orgs[0], period_start=NOV, now=AFTER_NOV)
    assert again == first[0]
    assert Invoice.objects.count() == 3
    assert set(InvoiceRunClaim.objects.values_list("status", flat=True)) == {ClaimStatus.DONE}


def test_a_run_that_dies_after_some_organizations_is_finished_by_the_next_run():
    orgs = _orgs(4)
    real = services.invoice_document_compute
    calls = []

    def crash_on_the_third(**kwargs):
        calls.append(kwargs["organization"].pk)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real(**kwargs)

    with mock.patch.object(services, "invoice_document_compute", side_effect=crash_on_the_third), \
            pytest.raises(RuntimeError):
        invoice_run_due_periods(now=AFTER_NOV)

    # Two invoices were issued; the third organization's half-built invoice was rolled back, its claim kept.
    assert _invoices_per_org() == sorted(o.pk for o in orgs[:2])
    crashed = InvoiceRunClaim.objects.get(organization=orgs[2])
    assert crashed.status == ClaimStatus.STARTED and "worker killed" in crashed.last_error
    assert not InvoiceRunClaim.objects.filter(organization=orgs[3]).exists()

    rerun = invoice_run_due_periods(now=AFTER_NOV + dt.timedelta(minutes=15))
    assert [i.organization_id for i in rerun] == [orgs[2].pk, orgs[3].pk]
    assert _invoices_per_org() == sorted(o.pk for o in orgs)
    crashed.refresh_from_db()
    assert crashed.status == ClaimStatus.DONE and crashed.attempts == 2 and crashed.last_error == ""
    assert all(i.lines.count() == 2 for i in Invoice.objects.all())  # seat + usage, once each


def test_a_crash_in_the_middle_of_writing_lines_leaves_no_partial_invoice():
    (org,) = _orgs(1)
    with mock.patch.object(services, "_lines_write", side_effect=RuntimeError("disk full")), \
            pytest.raises(RuntimeError):
        invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    assert not Invoice.objects.exists()

    invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    assert invoice.status == InvoiceStatus.OPEN and invoice.lines.count() == 2
    assert invoice.number == f"{org.slug.upper()}-0001"  # the crashed attempt gave its number back


def test_a_period_that_has_not_ended_is_refused():
    (org,) = _orgs(1)
    with pytest.raises(ValidationError, match="not ended"):
        invoice_issue_for_period(organization=org, period_start=NOV, now=at("UTC", 2026, 11, 30, 23, 59))
    with pytest.raises(ValidationError, match="first day"):
        invoice_issue_for_period(organization=org, period_start=dt.date(2026, 11, 2), now=AFTER_NOV)
    assert not Invoice.objects.exists()


def test_an_earlier_period_cannot_be_issued_after_a_later_one():
    (org,) = _orgs(1)
    invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    with pytest.raises(ValidationError, match="later period"):
        invoice_issue_for_period(organization=org, period_start=dt.date(2026, 10, 1), now=AFTER_NOV)


def test_each_organization_is_due_after_midnight_in_its_own_time_zone():
    (utc_org,) = _orgs(1)
    (tokyo_org,) = _orgs(1, tz="Asia/Tokyo")
    (ny_org,) = _orgs(1, tz="America/New_York")

    # 2026-12-01 00:20 UTC: December already in Tokyo and UTC, still November 30 in New York.
    due = {(org.pk, start) for org, start in invoice_due_periods(now=AFTER_NOV)}
    assert due == {(utc_org.pk, NOV), (tokyo_org.pk, NOV), (ny_org.pk, dt.date(2026, 10, 1))}
    invoice_run_due_periods(now=AFTER_NOV)
    later = {(org.pk, start) for org, start in invoice_due_periods(now=at("UTC", 2026, 12, 1, 5, 30))}
    assert later == {(ny_org.pk, NOV)}


def test_the_beat_task_enqueues_one_issuing_task_per_due_organization(django_capture_on_commit_callbacks):
    orgs = _orgs(2)
    with time_machine.travel(AFTER_NOV, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert tasks.invoice_run_due_periods.delay().get() == 2  # eager: the issuing tasks ran inline
        assert tasks.invoice_run_due_periods.delay().get() == 0
    assert _invoices_per_org() == sorted(o.pk for o in orgs)


def test_owners_are_emailed_once_when_an_invoice_is_issued(outbox, django_capture_on_commit_callbacks):
    (org,) = _orgs(1)
    member(org, email="boss@acme.example", role=Role.PRIMARY_OWNER, since=at("UTC", 2026, 10, 1))
    member(org, email="owner2@acme.example", role=Role.OWNER, since=at("UTC", 2026, 10, 1))
    member(org, email="admin@acme.example", role=Role.ADMIN, since=at("UTC", 2026, 10, 1))
    with django_capture_on_commit_callbacks(execute=True):
        invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
    # One email per owner (each with its own unsubscribe link), the stored PDF attached.
    assert sorted(m.to[0] for m in outbox) == ["boss@acme.example", "owner2@acme.example"]
    for message in outbox:
        assert invoice.number in message.subject and "November 2026" in message.subject
        assert f"/orgs/{org.slug}/invoices/{invoice.number}/" in message.body
        assert message.attachments[0][0] == f"{invoice.number}.pdf"
        assert message.attachments[0][1] == bytes(invoice.document.pdf)

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.invoice_issued_followups(invoice.pk) == 0  # a retried task sends nothing twice
    assert len(outbox) == 2


def test_issuing_costs_the_same_number_of_queries_for_5_and_50_members(django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (5, 50):
        org = OrganizationFactory(plan_kind=PlanKind.ENTERPRISE_USAGE, hipaa_ready=True)
        members = [member(org, tier_code="chat", since=at("UTC", 2026, 10, 1)) for _ in range(size)]
        from apps.seats.services import seat_assign
        from tests.factories import tier

        for m in members[::2]:
            seat_assign(membership=m, tier=tier(org, "chat_code"), now=at("UTC", 2026, 11, 10))
        UsageEvent.objects.bulk_create([
            event(m, occurred_at=at("UTC", 2026, 11, 3 + i), period_start=NOV, cost=Decimal("0.5"),
                  model_alias=alias)
            for m in members for i, alias in enumerate(("claude-sonnet-4-5", "claude-haiku-4-5"))
        ])
        with CaptureQueriesContext(connection) as ctx:
            invoice = invoice_issue_for_period(organization=org, period_start=NOV, now=AFTER_NOV)
        assert invoice.lines.filter(membership__isnull=False).values("membership").distinct().count() == size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 29  # usage: one statement per member and one per model × product, one for the breakdown rows


def test_lines_compute_reads_nothing_per_member(django_assert_max_num_queries):
    orgs = _orgs(1)
    period = services.period_for_start(NOV, "UTC")
    with django_assert_max_num_queries(8):
        selectors.invoice_lines_compute(organization=orgs[0], period=period, usage_from=None,
                                        usage_cutoff=AFTER_NOV)


def test_the_invoice_run_command_issues_one_month_and_explains_bad_input():
    from io import StringIO

    from django.core.management import CommandError, call_command

    (org,) = _orgs(1)
    out = StringIO()
    call_command("invoice_run", org=org.slug, period="2026-11", now="2026-12-01T00:20:00+00:00", stdout=out)
    invoice = Invoice.objects.get(organization=org)
    assert f"{invoice.number}  {org.slug}  2026-11  $21.23" in out.getvalue()
    with pytest.raises(CommandError, match="has not ended"):
        call_command("invoice_run", org=org.slug, period="2026-12", now="2026-12-01T00:20:00+00:00")
    with pytest.raises(CommandError, match="2026-11"):
        call_command("invoice_run", org=org.slug, period="Nov", now="2026-12-01T00:20:00+00:00")
