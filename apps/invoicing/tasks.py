"""Invoicing tasks. Each takes ids, loads rows, calls one service and is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from apps.common.money import format_usd
from apps.organizations.models import Organization


@shared_task(acks_late=True)
def invoice_run_due_periods() -> int:
    """Beat task (every 15 minutes): enqueue one issuing task per organization whose previous local month has
    ended and is not invoiced yet. Returns how many were enqueued."""
    from .services import invoice_due_periods

    due = invoice_due_periods(now=timezone.now())
    for organization, period_start in due:
        invoice_issue.delay(organization.pk, period_start.isoformat())
    return len(due)


@shared_task(acks_late=True)
def invoice_issue(organization_id: int, period_start: str) -> int:
    """Issue one organization's invoice for one period (idempotent: the period's claim is unique)."""
    from .services import invoice_issue_for_period

    organization = Organization.objects.get(pk=organization_id)
    invoice = invoice_issue_for_period(
        organization=organization, period_start=dt.date.fromisoformat(period_start), now=timezone.now()
    )
    return invoice.pk


@shared_task(acks_late=True)
def invoice_email_owners(invoice_id: int) -> bool:
    """Email the organization's owners that an invoice was issued, once per invoice."""
    from .models import Invoice
    from .selectors import month_label, owner_emails
    from .services import invoice_owners_notified_claim

    if not invoice_owners_notified_claim(invoice_id=invoice_id, now=timezone.now()):
        return False
    invoice = Invoice.objects.select_related("organization").get(pk=invoice_id)
    recipients = owner_emails(organization=invoice.organization)
    if not recipients:
        return False
    url = settings.SITE_URL.rstrip("/") + reverse(
        "invoicing:invoice_detail", kwargs={"slug": invoice.organization.slug, "number": invoice.number}
    )
    context = {"invoice": invoice, "url": url, "month": month_label(invoice.period_start)}
    send_mail(
        subject=f"Invoice {invoice.number} for {context['month']}: {format_usd(invoice.total)}",
        message=render_to_string("invoicing/email/invoice_issued.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=recipients,
    )
    return True
