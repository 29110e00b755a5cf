"""Writes for invoicing: the monthly run (claim, build, issue), void and re-issue.

The run is idempotent and resumable: each organization's period is claimed by a unique row
(InvoiceRunClaim) committed before the invoice is built; the invoice, its lines and the claim's `done` are
written in one transaction. Running twice issues nothing twice; a crash in the middle of an organization rolls
its invoice back and leaves the claim `started`, and the next run finishes it.
"""

from __future__ import annotations

import datetime as dt
from operator import attrgetter

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from apps.common.periods import Period, period_containing, period_for_start, previous_month_start
from apps.organizations.models import Organization
from apps.organizations.services import audit_record
from apps.seats.models import SeatAssignment
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from .models import ClaimStatus, Invoice, InvoiceLine, InvoiceRunClaim, InvoiceStatus
from .selectors import LINE_COLUMNS, LineData, invoice_lines_compute, invoice_totals, previous_usage_cutoff

# Events are recorded in short transactions that stamp received_at before they commit. An invoice covers
# the events received up to this long before it was built, so an event still committing is never skipped:
# it is received after the cutoff and goes on the next invoice as late usage.
USAGE_SETTLE = dt.timedelta(minutes=5)


def invoice_number(invoice: Invoice) -> str:
    """Human-readable and unique: BP-<period year>-<period month>-<invoice id, 6+ digits>."""
    return f"BP-{invoice.period_start:%Y-%m}-{invoice.pk:06d}"


def _period(organization: Organization, period_start: dt.date) -> Period:
    if period_start.day != 1:
        raise ValidationError({"period_start": "A billing period starts on the first day of a month."})
    return period_for_start(period_start, organization.billing_timezone)


def _enqueue_owner_email(invoice: Invoice) -> None:
    from .tasks import invoice_email_owners

    transaction.on_commit(lambda: invoice_email_owners.delay(invoice.pk))


def _invoice_build(*, organization: Organization, period: Period, usage_from, usage_cutoff, now: dt.datetime,
                   replaces: Invoice | None = None) -> Invoice:
    """Create, fill and issue an invoice in the caller's transaction (a fixed number of queries)."""
    invoice = Invoice.objects.create(
        organization=organization, period_start=period.start, period_end=period.end, currency=organization.currency,
        usage_from=usage_from, usage_cutoff=usage_cutoff, created_at=now, replaces=replaces,
    )
    lines = invoice_lines_compute(organization=organization, period=period, usage_from=usage_from,
                                  usage_cutoff=usage_cutoff)
    _lines_write(invoice=invoice, lines=lines)
    invoice.subtotal = invoice.total = invoice_totals(lines)
    invoice.number = invoice_number(invoice)
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = now
    invoice.save(update_fields=["subtotal", "total", "number", "status", "issued_at"])
    _enqueue_owner_email(invoice)
    webhook_event_emit(organization=organization, **payloads.invoice_issued(invoice), now=now)
    return invoice


def _lines_write(*, invoice: Invoice, lines: list[LineData]) -> None:
    """Write the lines in one statement whatever their number: COPY (a 10,000-member invoice has tens of
    thousands of lines)."""
    columns = ["invoice_id", *LINE_COLUMNS]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        copy_sql = f"COPY {qn(InvoiceLine._meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        row_of = attrgetter(*LINE_COLUMNS)
        with cursor.copy(copy_sql) as copy:  # one COPY statement (not seen by the debug query log)
            for line in lines:
                copy.write_row((invoice.pk, *row_of(line)))


def _claim(*, organization: Organization, period_start: dt.date, now: dt.datetime) -> InvoiceRunClaim:
    """Take (or find) the claim on the period, committed on its own so a crash later leaves it visible."""
    with transaction.atomic():
        claim, _ = InvoiceRunClaim.objects.get_or_create(
            organization=organization, period_start=period_start, defaults={"started_at": now}
        )
        if claim.status == ClaimStatus.STARTED:
            InvoiceRunClaim.objects.filter(pk=claim.pk, status=ClaimStatus.STARTED).update(attempts=F("attempts") + 1)
    return claim


def invoice_issue_for_period(*, organization: Organization, period_start: dt.date, now: dt.datetime) -> Invoice:
    """Issue the organization's invoice for the period starting on `period_start` (a local month), once.

    The period must have ended. If it was already issued, the existing invoice is returned and nothing is
    written. The usage cutoff is `now − USAGE_SETTLE` (never before the period's end); the late-usage window
    starts at the previous invoice's cutoff. An earlier period cannot be issued after a later one (the late
    usage windows would overlap). Owners are emailed after commit.
    """
    period = _period(organization, period_start)
    if now < period.ends_at:
        raise ValidationError({"period_start": "This billing period has not ended yet."})
    claim = _claim(organization=organization, period_start=period.start, now=now)
    if claim.status == ClaimStatus.DONE:
        return _claimed_invoice(claim)
    try:
        return _issue_claimed(claim_id=claim.pk, organization=organization, period=period, now=now)
    except Exception as exc:
        InvoiceRunClaim.objects.filter(pk=claim.pk).update(last_error=f"{type(exc).__name__}: {exc}"[:2000])
        raise


def _claimed_invoice(claim: InvoiceRunClaim) -> Invoice:
    """The period's live invoice (a re-issue if the first was voided), else the last one issued."""
    invoices = Invoice.objects.filter(organization_id=claim.organization_id, period_start=claim.period_start)
    return invoices.exclude(status=InvoiceStatus.VOID).first() or invoices.order_by("-id").first()


@transaction.atomic
def _issue_claimed(*, claim_id: int, organization: Organization, period: Period, now: dt.datetime) -> Invoice:
    # A second worker on the same period waits here, then sees the claim done.
    claim = InvoiceRunClaim.objects.select_for_update().get(pk=claim_id)
    if claim.status == ClaimStatus.DONE:
        return _claimed_invoice(claim)
    if Invoice.objects.filter(organization=organization, period_start__gt=period.start).exists():
        raise ValidationError({"period_start": "A later period has already been invoiced."})
    invoice = _invoice_build(
        organization=organization, period=period,
        usage_from=previous_usage_cutoff(organization=organization, period_start=period.start),
        usage_cutoff=max(period.ends_at, now - USAGE_SETTLE), now=now,
    )
    claim.status = ClaimStatus.DONE
    claim.invoice = invoice
    claim.finished_at = now
    claim.last_error = ""
    claim.save(update_fields=["status", "invoice", "finished_at", "last_error"])
    return invoice


def invoice_due_periods(*, now: dt.datetime) -> list[tuple[Organization, dt.date]]:
    """(organization, period start) for every organization whose previous local month has ended and is not
    invoiced yet. An organization is billed for a month if it existed, or held a seat, before it ended."""
    candidates = []
    for organization in Organization.objects.order_by("id"):
        period = period_for_start(
            previous_month_start(period_containing(now, organization.billing_timezone).start),
            organization.billing_timezone,
        )
        candidates.append((organization, period))
    done = set(
        InvoiceRunClaim.objects.filter(
            status=ClaimStatus.DONE, period_start__in={period.start for _, period in candidates}
        ).values_list("organization_id", "period_start")
    )
    due = []
    for organization, period in candidates:
        if (organization.pk, period.start) in done:
            continue
        existed = organization.created_at is not None and organization.created_at < period.ends_at
        if existed or SeatAssignment.objects.filter(organization=organization, started_at__lt=period.ends_at).exists():
            due.append((organization, period.start))
    return due


def invoice_run_due_periods(*, now: dt.datetime) -> list[Invoice]:
    """Issue every due invoice (see invoice_due_periods), one organization after the other, each in its own
    transaction: an exception stops the run, and the next run skips what was done and finishes the rest."""
    return [
        invoice_issue_for_period(organization=organization, period_start=start, now=now)
        for organization, start in invoice_due_periods(now=now)
    ]


@transaction.atomic
def invoice_void(*, invoice: Invoice, actor=None, reason: str = "", now: dt.datetime) -> Invoice:
    """Void an issued invoice (staff). It stays on record, marked void; the period can then be re-issued.
    Audited. Voiding a void invoice changes nothing."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status == InvoiceStatus.VOID:
        return invoice
    if invoice.status != InvoiceStatus.ISSUED:
        raise ValidationError({"status": "Only an issued invoice can be voided."})
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = now
    invoice.void_reason = (reason or "Voided by staff")[:300]
    invoice.save(update_fields=["status", "voided_at", "void_reason"])
    audit_record(
        organization=invoice.organization, actor=actor, action="invoice.void", target=invoice.number,
        old=InvoiceStatus.ISSUED.value, new={"status": InvoiceStatus.VOID.value, "reason": invoice.void_reason},
        now=now,
    )
    return invoice


@transaction.atomic
def invoice_reissue(*, invoice: Invoice, actor=None, now: dt.datetime) -> Invoice:
    """Re-issue a voided invoice (staff): a new invoice with a new number that references the voided one,
    recomputed from the current seat history and tier fees over the SAME usage window, so no event moves
    between invoices. Audited. A voided invoice is re-issued at most once."""
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status != InvoiceStatus.VOID:
        raise ValidationError({"status": "Void the invoice before re-issuing it."})
    if Invoice.objects.filter(replaces=invoice).exists():
        raise ValidationError({"status": "This invoice has already been re-issued."})
    organization = invoice.organization
    try:
        with transaction.atomic():
            new = _invoice_build(
                organization=organization, period=_period(organization, invoice.period_start),
                usage_from=invoice.usage_from, usage_cutoff=invoice.usage_cutoff, now=now, replaces=invoice,
            )
    except IntegrityError:
        raise ValidationError({"status": "This period already has a live invoice."}) from None
    InvoiceRunClaim.objects.filter(organization=organization, period_start=invoice.period_start).update(invoice=new)
    audit_record(
        organization=organization, actor=actor, action="invoice.reissue", target=new.number,
        old=invoice.number, new={"number": new.number, "total": str(new.total)}, now=now,
    )
    return new


def invoice_owners_notified_claim(*, invoice_id: int, now: dt.datetime) -> bool:
    """Claim the owners' email for an invoice (a conditional UPDATE): True once, False after."""
    return bool(
        Invoice.objects.filter(pk=invoice_id, owners_notified_at__isnull=True, status=InvoiceStatus.ISSUED)
        .update(owners_notified_at=now)
    )


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, now: dt.datetime, source: str, actor=None) -> Invoice:
    """Mark an issued invoice paid (staff, or a provider's payment webhook: `source` says which). Audited, and
    the invoice.paid webhook event is emitted. Marking a paid invoice paid again changes nothing; a void one
    cannot be paid. (Minimal version; the invoices branch owns the full lifecycle.)"""
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status == InvoiceStatus.PAID:
        return invoice
    if invoice.status != InvoiceStatus.ISSUED:
        raise ValidationError({"status": "Only an issued invoice can be marked paid."})
    invoice.status = InvoiceStatus.PAID
    invoice.save(update_fields=["status"])
    audit_record(organization=invoice.organization, actor=actor, actor_label=None if actor else source,
                 action="invoice.paid", target=invoice.number, old=InvoiceStatus.ISSUED.value,
                 new={"status": InvoiceStatus.PAID.value, "source": source}, now=now)
    webhook_event_emit(organization=invoice.organization, **payloads.invoice_paid(invoice, source=source,
                                                                                 paid_at=now), now=now)
    return invoice
