"""Invoicing tasks. Each takes ids, loads rows, calls one service and is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone

from apps.organizations.models import Organization

from . import services
from .models import CreditNote, Invoice


@shared_task(acks_late=True)
def invoice_run_due_periods() -> int:
    """Beat task (every 15 minutes): enqueue one issuing task per organization whose previous local month has
    ended and is not invoiced yet. Returns how many were enqueued."""
    due = services.invoice_due_periods(now=timezone.now())
    for organization, period_start in due:
        invoice_issue.delay(organization.pk, period_start.isoformat())
    return len(due)


@shared_task(acks_late=True)
def invoice_issue(organization_id: int, period_start: str) -> int:
    """Issue one organization's invoice for one period (idempotent: the period's claim is unique)."""
    organization = Organization.objects.get(pk=organization_id)
    invoice = services.invoice_issue_for_period(
        organization=organization, period_start=dt.date.fromisoformat(period_start), now=timezone.now()
    )
    return invoice.pk


@shared_task(acks_late=True)
def invoice_issued_followups(invoice_id: int) -> int:
    """After an invoice is issued: render and store its PDF (once), then queue the invoice email with the PDF
    attached (once per invoice). Returns how many emails were queued (0 on a rerun)."""
    invoice = Invoice.objects.select_related("organization", "replaces").filter(pk=invoice_id).first()
    if invoice is None:
        return 0
    now = timezone.now()
    services.invoice_document_render(invoice=invoice, now=now)
    return services.invoice_email_queue(invoice=invoice, now=now)


@shared_task(acks_late=True)
def credit_note_render(credit_note_id: int) -> bool:
    """After a credit note is issued: render and store its PDF (once)."""
    note = CreditNote.objects.select_related("invoice", "organization").filter(pk=credit_note_id).first()
    if note is None:
        return False
    services.credit_note_document_render(credit_note=note)
    return True


@shared_task(acks_late=True)
def invoice_reminders_send() -> int:
    """Beat task (hourly): the payment reminders due now, each sent once. Returns how many emails were queued."""
    return services.invoice_reminders_send(now=timezone.now())
