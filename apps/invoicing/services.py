"""Writes for invoicing: the monthly run (claim, build, issue), void and re-issue.

The run is idempotent and resumable: each organization's period is claimed by a unique row
(InvoiceRunClaim) committed before the invoice is built; the invoice, its lines and the claim's `done` are
written in one transaction. Running twice issues nothing twice; a crash in the middle of an organization rolls
its invoice back and leaves the claim `started`, and the next run finishes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal
from operator import attrgetter

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.urls import reverse
from django.utils import translation

from apps.common.money import ZERO, round_to_cents
from apps.common.periods import Period, local_date, period_containing, period_for_start, previous_month_start
from apps.common.tasks import enqueue_on_commit
from apps.extra_usage.payments import PaymentPending, payment_provider
from apps.notices.models import NoticeKind
from apps.notices.services import Attachment, notice_send
from apps.organizations.models import Organization
from apps.organizations.selectors import invoice_language_for
from apps.organizations.services import audit_record
from apps.seats.models import SeatAssignment
from apps.webhooks import payloads
from apps.webhooks.services import webhook_event_emit

from .exports import credit_note_pdf_bytes, invoice_pdf_bytes
from .models import (
    BillingProfile,
    ClaimStatus,
    CreditNote,
    CreditNoteLine,
    CreditNoteSequence,
    Invoice,
    InvoiceDocument,
    InvoiceLine,
    InvoicePayment,
    InvoiceReminder,
    InvoiceRunClaim,
    InvoiceSequence,
    InvoiceStatus,
    InvoiceUsageRow,
    PaymentStatus,
    ReminderKind,
)
from .selectors import (
    LINE_COLUMNS,
    USAGE_ROW_COLUMNS,
    LineData,
    invoice_amount_due,
    invoice_document_compute,
    invoice_totals,
    month_label,
    owner_emails,
    previous_usage_cutoff,
)
from .tax import tax_amount, tax_decide, tax_id_normalize

# Events are recorded in short transactions that stamp received_at before they commit. An invoice covers
# the events received up to this long before it was built, so an event still committing is never skipped:
# it is received after the cutoff and goes on the next invoice as late usage.
USAGE_SETTLE = dt.timedelta(minutes=5)


def invoice_number(*, organization: Organization, sequence: int) -> str:
    """Human-readable and unique: "<ORGANIZATION SLUG>-<sequence, 4+ digits>", e.g. ACME-TEAM-0007."""
    return f"{organization.slug.upper()}-{sequence:04d}"


def _sequence_next(*, organization: Organization) -> int:
    """The organization's next invoice number, allocated under a row lock in the caller's (issuing)
    transaction: concurrent issues wait for each other, and a rolled-back issue gives its number back, so
    the sequence has no gaps."""
    InvoiceSequence.objects.bulk_create([InvoiceSequence(organization=organization)], ignore_conflicts=True)
    sequence = InvoiceSequence.objects.select_for_update().get(organization=organization)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return sequence.last_number


def issuer_snapshot() -> dict:
    """The seller's details to print (settings.INVOICE_ISSUER), copied onto each document when it is issued."""
    return dict(settings.INVOICE_ISSUER)


def billing_profile_get(*, organization: Organization) -> BillingProfile:
    """The organization's billing details (unsaved defaults when it has none yet)."""
    return BillingProfile.objects.filter(organization=organization).first() or BillingProfile(
        organization=organization)


BILLING_DETAIL_FIELDS = ("legal_name", "address", "country", "tax_id", "po_number", "billing_email")


@transaction.atomic
def billing_details_update(*, organization: Organization, actor, now: dt.datetime, legal_name: str, address: str,
                           tax_id: str, billing_email: str, country: str = "", po_number: str = "") -> BillingProfile:
    """Owners: save the billing details copied onto each invoice when it is issued (issued invoices keep the
    details they were issued with). The tax ID is checked for the billing country with python-stdnum and
    stored compact (tax.tax_id_normalize; a bad one raises ValidationError and nothing is written). Audited
    (old → new); nothing is written when nothing changed."""
    country = country.strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise ValidationError({"country": "Choose a country."})
    try:
        tax_id = tax_id_normalize(country=country, tax_id=tax_id)
    except ValidationError as error:
        raise ValidationError({"tax_id": error.messages}) from None
    BillingProfile.objects.bulk_create([BillingProfile(organization=organization)], ignore_conflicts=True)
    profile = BillingProfile.objects.select_for_update().get(organization=organization)
    new = {"legal_name": legal_name.strip(), "address": address.strip(), "country": country, "tax_id": tax_id,
           "po_number": po_number.strip(), "billing_email": billing_email.strip().lower()}
    old = {f: getattr(profile, f) for f in BILLING_DETAIL_FIELDS}
    if old == new:
        return profile
    for name, value in new.items():
        setattr(profile, name, value)
    profile.updated_at = now
    profile.save()
    changed = [f for f in BILLING_DETAIL_FIELDS if old[f] != new[f]]
    audit_record(organization=organization, actor=actor, action="billing_details.update", target=organization.slug,
                 old={f: old[f] for f in changed}, new={f: new[f] for f in changed}, now=now)
    return profile


@transaction.atomic
def payment_terms_set(*, organization: Organization, days: int, actor, now: dt.datetime) -> BillingProfile:
    """Staff: the organization's payment terms (net days, 0–365) for invoices issued from now on. Audited."""
    if not 0 <= days <= 365:
        raise ValidationError({"payment_terms_days": "Payment terms are 0 to 365 days."})
    BillingProfile.objects.bulk_create([BillingProfile(organization=organization)], ignore_conflicts=True)
    profile = BillingProfile.objects.select_for_update().get(organization=organization)
    if profile.payment_terms_days == days:
        return profile
    old = profile.payment_terms_days
    profile.payment_terms_days = days
    profile.updated_at = now
    profile.save(update_fields=["payment_terms_days", "updated_at"])
    audit_record(organization=organization, actor=actor, action="billing_details.payment_terms",
                 target=organization.slug, old=old, new=days, now=now)
    return profile


def _period(organization: Organization, period_start: dt.date) -> Period:
    if period_start.day != 1:
        raise ValidationError({"period_start": "A billing period starts on the first day of a month."})
    return period_for_start(period_start, organization.billing_timezone)


def _enqueue_followups(invoice: Invoice) -> None:
    """After commit: render the PDF (once) and email it (tasks.invoice_issued_followups)."""
    enqueue_on_commit("apps.invoicing.tasks.invoice_issued_followups", invoice.pk)


def _invoice_build(*, organization: Organization, period: Period, usage_from, usage_cutoff, now: dt.datetime,
                   replaces: Invoice | None = None) -> Invoice:
    """Create, fill and issue an invoice in the caller's transaction (a fixed number of queries)."""
    invoice = Invoice.objects.create(
        organization=organization, period_start=period.start, period_end=period.end, currency=organization.currency,
        usage_from=usage_from, usage_cutoff=usage_cutoff, created_at=now, replaces=replaces,
    )
    # The lines' words are written in the organization's invoice language (the document's language).
    with translation.override(invoice_language_for(organization)):
        lines, usage_rows = invoice_document_compute(organization=organization, period=period,
                                                     usage_from=usage_from, usage_cutoff=usage_cutoff)
    _lines_write(invoice=invoice, lines=lines)
    InvoiceUsageRow.objects.bulk_create(
        [InvoiceUsageRow(invoice=invoice, **{c: getattr(row, c) for c in USAGE_ROW_COLUMNS}) for row in usage_rows],
        batch_size=2000,
    )
    profile = billing_profile_get(organization=organization)
    invoice.bill_to_name = profile.legal_name or organization.name
    invoice.bill_to_address = profile.address
    invoice.bill_to_tax_id = profile.tax_id
    invoice.bill_to_email = profile.billing_email
    invoice.bill_to_country = profile.country
    invoice.bill_to_po_number = profile.po_number
    invoice.issuer = issuer_snapshot()
    # Tax as issued (tax.py): stored, never recomputed.
    tax = tax_decide(country=profile.country, tax_id=profile.tax_id)
    invoice.subtotal = invoice_totals(lines)
    invoice.tax_name, invoice.tax_rate, invoice.reverse_charge = tax.name, tax.rate, tax.reverse_charge
    invoice.tax_amount = tax_amount(subtotal=invoice.subtotal, rate=tax.rate)
    invoice.total = invoice.subtotal + invoice.tax_amount
    invoice.sequence = _sequence_next(organization=organization)
    invoice.number = invoice_number(organization=organization, sequence=invoice.sequence)
    invoice.status = InvoiceStatus.OPEN
    invoice.issued_at = now
    # The issue date is the local date the period closed (a re-issue: the local date it is re-issued); the due
    # date counts the payment terms from it.
    invoice.issue_date = (local_date(now, organization.billing_timezone) if replaces is not None
                          else period.end)
    invoice.due_date = invoice.issue_date + dt.timedelta(days=profile.payment_terms_days)
    invoice.save(update_fields=["subtotal", "total", "number", "sequence", "status", "issued_at", "due_date",
                                "issue_date", "tax_name", "tax_rate", "tax_amount", "reverse_charge", "issuer",
                                "bill_to_name", "bill_to_address", "bill_to_tax_id", "bill_to_email",
                                "bill_to_country", "bill_to_po_number"])
    _enqueue_followups(invoice)
    webhook_event_emit(organization=organization, **payloads.invoice_issued(invoice), now=now)
    return invoice


def _lines_write(*, invoice: Invoice, lines: list[LineData]) -> None:
    """Write the lines in one statement whatever their number: COPY (a 10,000-member invoice has tens of
    thousands of lines)."""
    columns = ["invoice_id", *LINE_COLUMNS]
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        copy_sql = f"COPY {qn(InvoiceLine._meta.db_table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
        detail_at = LINE_COLUMNS.index("detail")
        row_of = attrgetter(*LINE_COLUMNS)
        with cursor.copy(copy_sql) as copy:  # one COPY statement (not seen by the debug query log)
            for line in lines:
                row = list(row_of(line))
                if row[detail_at] is not None:
                    row[detail_at] = json.dumps(row[detail_at])  # jsonb from its text
                copy.write_row((invoice.pk, *row))


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
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise ValidationError({"status": "Only an open or uncollectible invoice can be voided."})
    old_status = invoice.status
    invoice.status = InvoiceStatus.VOID
    invoice.voided_at = now
    invoice.void_reason = (reason or "Voided by staff")[:300]
    invoice.save(update_fields=["status", "voided_at", "void_reason"])
    audit_record(
        organization=invoice.organization, actor=actor, action="invoice.void", target=invoice.number,
        old=old_status, new={"status": InvoiceStatus.VOID.value, "reason": invoice.void_reason},
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


@transaction.atomic
def invoice_mark_paid(*, invoice: Invoice, now: dt.datetime, source: str, actor=None) -> Invoice:
    """Mark an open (or uncollectible: a late payment) invoice paid. Idempotent: an invoice already paid is
    returned unchanged (a provider's webhook delivered twice, or staff and the provider both marking it).
    A void invoice cannot be paid. Audited. `source` says who: "admin", "stripe", …"""
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status == InvoiceStatus.PAID:
        return invoice
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE):
        raise ValidationError({"status": f"A {invoice.status} invoice cannot be marked paid."})
    old_status = invoice.status
    invoice.status = InvoiceStatus.PAID
    invoice.paid_at = now
    invoice.payment_source = source[:40]
    invoice.save(update_fields=["status", "paid_at", "payment_source"])
    audit_record(organization=invoice.organization, actor=actor, actor_label=None if actor else source,
                 action="invoice.paid", target=invoice.number, old=old_status,
                 new={"status": InvoiceStatus.PAID.value, "source": invoice.payment_source}, now=now)
    webhook_event_emit(organization=invoice.organization, **payloads.invoice_paid(invoice, source=source,
                                                                                 paid_at=now), now=now)
    return invoice


@transaction.atomic
def invoice_mark_uncollectible(*, invoice: Invoice, now: dt.datetime, actor=None) -> Invoice:
    """Staff: an open invoice we no longer expect to be paid. It can still be paid later, or voided.
    Idempotent; audited."""
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status == InvoiceStatus.UNCOLLECTIBLE:
        return invoice
    if invoice.status != InvoiceStatus.OPEN:
        raise ValidationError({"status": "Only an open invoice can be marked uncollectible."})
    invoice.status = InvoiceStatus.UNCOLLECTIBLE
    invoice.uncollectible_at = now
    invoice.save(update_fields=["status", "uncollectible_at"])
    audit_record(organization=invoice.organization, actor=actor, action="invoice.uncollectible",
                 target=invoice.number, old=InvoiceStatus.OPEN.value, new=InvoiceStatus.UNCOLLECTIBLE.value, now=now)
    return invoice


def invoice_document_render(*, invoice: Invoice, now: dt.datetime) -> InvoiceDocument:
    """The invoice's PDF, rendered once (the first call) and stored with its SHA-256; every later call, and
    every download, gets the stored bytes. Two concurrent first calls render twice but store once (the
    one-to-one row is the guard)."""
    existing = InvoiceDocument.objects.filter(invoice=invoice).first()
    if existing is not None:
        return existing
    pdf = invoice_pdf_bytes(invoice=invoice)
    document = InvoiceDocument(invoice=invoice, pdf=pdf, sha256=hashlib.sha256(pdf).hexdigest(), size=len(pdf),
                               rendered_at=now)
    InvoiceDocument.objects.bulk_create([document], ignore_conflicts=True)
    return InvoiceDocument.objects.get(invoice=invoice)


def invoice_owners_notified_claim(*, invoice_id: int, now: dt.datetime) -> bool:
    """Claim the invoice email for an invoice (a conditional UPDATE): True once, False after."""
    return bool(
        Invoice.objects.filter(pk=invoice_id, owners_notified_at__isnull=True).exclude(status=InvoiceStatus.DRAFT)
        .update(owners_notified_at=now)
    )


@transaction.atomic
def invoice_email_queue(*, invoice: Invoice, now: dt.datetime) -> int:
    """Queue the "invoice issued" email, once per invoice, with the stored PDF attached: to the owners (who
    may switch it off) and to the billing email (which cannot be switched off). Returns how many were queued;
    0 when it was already queued (a retried task)."""
    if not invoice_owners_notified_claim(invoice_id=invoice.pk, now=now):
        return 0
    organization = invoice.organization
    document = invoice_document_render(invoice=invoice, now=now)
    url = settings.SITE_URL.rstrip("/") + reverse(
        "invoicing:invoice_detail", kwargs={"slug": organization.slug, "number": invoice.number}
    )
    queued = notice_send(
        kind=NoticeKind.INVOICE_ISSUED, organization=organization, recipients=owner_emails(organization=organization),
        mandatory_recipients=[invoice.bill_to_email] if invoice.bill_to_email else [],
        template="invoice_issued", context={"invoice": invoice, "url": url, "month": month_label(invoice.period_start),
                                            "pay_url": f"{url}#pay" if invoice.total > 0 else ""},
        attachments=[Attachment(f"{invoice.number}.pdf", bytes(document.pdf), "application/pdf")], now=now,
    )
    return len(queued)


# --- Credit notes -----------------------------------------------------------------------------------------


def credit_note_number(*, organization: Organization, sequence: int) -> str:
    """"<ORGANIZATION SLUG>-CN-<sequence, 4+ digits>", e.g. GLOBEX-ENTERPRISE-CN-0001."""
    return f"{organization.slug.upper()}-CN-{sequence:04d}"


def _credit_note_sequence_next(*, organization: Organization) -> int:
    """Gapless, like _sequence_next: allocated under a row lock in the issuing transaction."""
    CreditNoteSequence.objects.bulk_create([CreditNoteSequence(organization=organization)], ignore_conflicts=True)
    sequence = CreditNoteSequence.objects.select_for_update().get(organization=organization)
    sequence.last_number += 1
    sequence.save(update_fields=["last_number"])
    return sequence.last_number


@transaction.atomic
def credit_note_issue(*, invoice: Invoice, lines: list[tuple[str, Decimal]], reason: str, now: dt.datetime,
                      actor=None) -> CreditNote:
    """Staff: correct an issued invoice with a credit note that references it (the invoice itself is never
    edited). Each line credits a positive amount in cents; tax is credited at the invoice's stored rate, rounded
    once. The credit notes of an invoice never exceed its total. An open invoice whose amount due reaches zero
    is settled by the credit. Audited."""
    invoice = Invoice.objects.select_for_update().select_related("organization").get(pk=invoice.pk)
    if invoice.status not in (InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE):
        raise ValidationError({"invoice": "Only an issued invoice that is not void can be credited."})
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the invoice is corrected."})
    cleaned = []
    for description, amount in lines:
        description = (description or "").strip()
        if not description:
            raise ValidationError({"lines": "Describe each credited line."})
        if amount is None or amount <= 0 or amount != round_to_cents(amount):
            raise ValidationError({"lines": "Each credited amount is positive, in cents."})
        cleaned.append((description[:300], amount))
    if not cleaned:
        raise ValidationError({"lines": "Credit at least one line."})
    subtotal = sum((amount for _, amount in cleaned), ZERO)
    tax = tax_amount(subtotal=subtotal, rate=invoice.tax_rate)
    credited = invoice.credit_notes.aggregate(total=Sum("total"))["total"] or ZERO
    if credited + subtotal + tax > invoice.total:
        raise ValidationError({"lines": f"The credit exceeds what is left of the invoice "
                                        f"({invoice.total - credited:.2f})."})
    organization = invoice.organization
    sequence = _credit_note_sequence_next(organization=organization)
    note = CreditNote.objects.create(
        organization=organization, invoice=invoice, sequence=sequence,
        number=credit_note_number(organization=organization, sequence=sequence),
        issue_date=local_date(now, organization.billing_timezone), issued_at=now, reason=reason[:300],
        currency=invoice.currency, subtotal=subtotal, tax_amount=tax, total=subtotal + tax,
    )
    CreditNoteLine.objects.bulk_create([
        CreditNoteLine(credit_note=note, position=i, description=d, amount=a) for i, (d, a) in enumerate(cleaned)
    ])
    audit_record(organization=organization, actor=actor, action="invoice.credit_note", target=note.number,
                 old=invoice.number, new={"invoice": invoice.number, "total": str(note.total), "reason": note.reason},
                 now=now)
    if invoice.status in (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE) and credited + note.total == invoice.total:
        invoice_mark_paid(invoice=invoice, now=now, source="credit_note", actor=actor)
    enqueue_on_commit("apps.invoicing.tasks.credit_note_render", note.pk)
    return note


def credit_note_document_render(*, credit_note: CreditNote) -> CreditNote:
    """The credit note's PDF, rendered once (in the invoice's language) and stored; later calls read it."""
    if credit_note.pdf:
        return credit_note
    pdf = credit_note_pdf_bytes(credit_note=credit_note)
    CreditNote.objects.filter(pk=credit_note.pk, pdf__isnull=True).update(
        pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest())
    return CreditNote.objects.select_related("invoice", "organization").get(pk=credit_note.pk)


# --- Card payment of an invoice --------------------------------------------------------------------------

PAYABLE = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
CARD_MINIMUM = Decimal("0.50")  # the smallest card charge card processors accept (Stripe: $0.50)


@transaction.atomic
def invoice_payment_claim(*, invoice: Invoice, now: dt.datetime) -> InvoicePayment:
    """Claim a card payment of the invoice's amount due (committed before the provider is called). A payment
    still pending is returned as is (a double click pays once); after a failed one a new attempt gets a new key."""
    invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if invoice.status not in PAYABLE:
        raise ValidationError({"status": "This invoice is not awaiting payment."})
    pending = invoice.payments.filter(status=PaymentStatus.PENDING).first()
    if pending is not None:
        return pending
    due = invoice_amount_due(invoice=invoice)
    if due <= 0:
        raise ValidationError({"status": "Nothing is due on this invoice."})
    if due < CARD_MINIMUM:
        raise ValidationError({"status": "Amounts under $0.50 cannot be paid by card; pay by bank transfer."})
    attempt = invoice.payments.count() + 1
    return InvoicePayment.objects.create(invoice=invoice, idempotency_key=f"invoice-{invoice.pk}-{attempt}",
                                         amount=due, created_at=now)


@transaction.atomic
def invoice_payment_settle(*, payment_id: int, ok: bool, reference: str, error: str,
                           now: dt.datetime) -> InvoicePayment:
    """Settle a pending card payment: succeeded → the invoice is marked paid (source "card"; the `invoice.paid`
    webhook fires); failed → the reason is kept. A settled payment is never settled again (the provider's
    webhook and the synchronous answer may both arrive)."""
    payment = InvoicePayment.objects.select_for_update().select_related("invoice").get(pk=payment_id)
    if payment.status != PaymentStatus.PENDING:
        return payment
    payment.status = PaymentStatus.SUCCEEDED if ok else PaymentStatus.FAILED
    payment.reference, payment.error, payment.settled_at = reference[:100], ("" if ok else error)[:300], now
    payment.save(update_fields=["status", "reference", "error", "settled_at"])
    if ok and payment.invoice.status in PAYABLE:
        invoice_mark_paid(invoice=payment.invoice, now=now, source="card")
    return payment


def invoice_pay_by_card(*, invoice: Invoice, now: dt.datetime) -> InvoicePayment:
    """Owners: pay the invoice's amount due with the card on file, through the payment provider, once per
    claim (the claim's key is the provider's idempotency key). Outside any transaction: claim (committed),
    charge, settle. A provider that has not settled yet (PaymentPending) leaves it pending for its webhook."""
    payment = invoice_payment_claim(invoice=invoice, now=now)
    if payment.status != PaymentStatus.PENDING:
        return payment
    try:
        result = payment_provider().charge(
            organization=invoice.organization, amount=payment.amount,
            description=f"Invoice {invoice.number}", idempotency_key=payment.idempotency_key)
    except PaymentPending:
        return payment
    return invoice_payment_settle(payment_id=payment.pk, ok=result.ok, reference=result.reference,
                                  error=result.error, now=now)


def invoice_payment_from_provider(*, idempotency_key: str, ok: bool, reference: str, error: str,
                                  now: dt.datetime) -> InvoicePayment | None:
    """The provider's webhook about a card payment (Stripe: payment_intent.succeeded / payment_failed carrying
    the claim's key in its metadata): settle it if it is still pending."""
    payment = InvoicePayment.objects.filter(idempotency_key=idempotency_key).first()
    if payment is None:
        return None
    return invoice_payment_settle(payment_id=payment.pk, ok=ok, reference=reference, error=error, now=now)


# --- Payment reminders -------------------------------------------------------------------------------------


def _reminder_due(invoice: Invoice, today: dt.date) -> str | None:
    if today > invoice.due_date:
        if today >= invoice.due_date + dt.timedelta(days=settings.INVOICE_REMINDER_DAYS_AFTER):
            return ReminderKind.AFTER_DUE
        return None
    if today >= invoice.due_date - dt.timedelta(days=settings.INVOICE_REMINDER_DAYS_BEFORE):
        return ReminderKind.BEFORE_DUE
    return None


@transaction.atomic
def invoice_reminder_send(*, invoice: Invoice, kind: str, now: dt.datetime) -> int:
    """Queue one reminder of this kind for the invoice (owners, who may switch reminders off, and the billing
    email), once: the unique InvoiceReminder row is the claim. Each recipient reads it in their language
    (notices). Returns how many emails were queued (0 when it was already sent)."""
    _, created = InvoiceReminder.objects.get_or_create(invoice=invoice, kind=kind, defaults={"sent_at": now})
    if not created:
        return 0
    organization = invoice.organization
    url = settings.SITE_URL.rstrip("/") + reverse(
        "invoicing:invoice_detail", kwargs={"slug": organization.slug, "number": invoice.number})
    queued = notice_send(
        kind=NoticeKind.INVOICE_REMINDER, organization=organization,
        recipients=owner_emails(organization=organization),
        mandatory_recipients=[invoice.bill_to_email] if invoice.bill_to_email else [],
        template="invoice_reminder",
        context={"invoice": invoice, "url": url, "overdue": kind == ReminderKind.AFTER_DUE,
                 "amount_due": invoice_amount_due(invoice=invoice)},
        now=now,
    )
    return len(queued)


def invoice_reminders_send(*, now: dt.datetime) -> int:
    """Beat: the reminders due now, each once (see invoice_reminder_send): before the due date
    (INVOICE_REMINDER_DAYS_BEFORE) and after it (INVOICE_REMINDER_DAYS_AFTER), for open invoices, by the
    organization's local date. An invoice already overdue gets no "due soon" reminder. Safe to run twice."""
    horizon = now.date() + dt.timedelta(days=settings.INVOICE_REMINDER_DAYS_BEFORE + 1)
    candidates = (Invoice.objects.filter(status=InvoiceStatus.OPEN, due_date__lte=horizon)
                  .select_related("organization").order_by("id"))
    sent = 0
    for invoice in candidates:
        kind = _reminder_due(invoice, local_date(now, invoice.organization.billing_timezone))
        if kind is not None and not invoice.reminders.filter(kind=kind).exists():
            sent += invoice_reminder_send(invoice=invoice, kind=kind, now=now)
    return sent
