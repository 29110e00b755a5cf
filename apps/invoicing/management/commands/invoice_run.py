"""`manage.py invoice_run [--org SLUG --period YYYY-MM] [--now ISO]`: issue due invoices by hand.

Without --org, issues every organization's previous local month that is not invoiced yet (what the beat task
does). With --org and --period, issues that organization's month (if it has ended). Idempotent.
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.invoicing.services import invoice_issue_for_period, invoice_run_due_periods
from apps.organizations.models import Organization


class Command(BaseCommand):
    help = "Issue due invoices (the monthly run), or one organization's invoice for a month."

    def add_arguments(self, parser):
        parser.add_argument("--org", help="organization slug")
        parser.add_argument("--period", help="month to invoice, YYYY-MM (with --org)")
        parser.add_argument("--now", help="the moment to run as (ISO 8601, default: now)")

    def handle(self, *args, org=None, period=None, now=None, **options):
        moment = parse_datetime(now) if now else timezone.now()
        if moment is None or timezone.is_naive(moment):
            raise CommandError("--now must be an ISO 8601 datetime with a UTC offset")
        try:
            if org:
                if not period:
                    raise CommandError("--period YYYY-MM is required with --org")
                try:
                    start = dt.date.fromisoformat(f"{period}-01")
                except ValueError:
                    raise CommandError("--period must look like 2026-11") from None
                organization = Organization.objects.filter(slug=org).first()
                if organization is None:
                    raise CommandError(f"no organization with slug {org!r}")
                invoices = [invoice_issue_for_period(organization=organization, period_start=start, now=moment)]
            else:
                invoices = invoice_run_due_periods(now=moment)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        for invoice in invoices:
            self.stdout.write(f"{invoice.number}  {invoice.organization.slug}  {invoice.period_start:%Y-%m}  "
                              f"${invoice.total:,.2f}")
        self.stdout.write(f"{len(invoices)} invoice(s).")
