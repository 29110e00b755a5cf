"""Billing history: every charge of an organization in one list, newest first, each with its reference and a
receipt: seat upgrade prorations (seats.SeatCharge), prepaid purchases and auto-reloads
(extra_usage.PrepaidCharge, every attempt, failed ones included, marked so) and invoice payments (a paid
invoice). One page is a fixed number of queries whatever the history's length: the three sources are one
UNION ordered and paged in the database, then each kind's rows on the page are read in one query."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.core.paginator import Page, Paginator
from django.db.models import CharField, DecimalField, ExpressionWrapper, F, Value

from apps.extra_usage.models import ChargeStatus, PrepaidCharge
from apps.invoicing.models import Invoice, InvoiceStatus
from apps.organizations.models import Organization
from apps.seats.models import SeatCharge

CHARGES_PER_PAGE = 50

SEAT, PREPAID, INVOICE = "seat", "prepaid", "invoice"
KINDS = (SEAT, PREPAID, INVOICE)
_AMOUNT = DecimalField(max_digits=14, decimal_places=2)


@dataclass
class ChargeRow:
    kind: str  # SEAT, PREPAID or INVOICE
    pk: int
    at: dt.datetime
    amount: Decimal
    reference: str
    status: str  # "succeeded", "failed" or "pending"
    obj: object  # the SeatCharge, PrepaidCharge or Invoice
    invoice: Invoice | None = None  # the invoice that shows it (None: the next one, not issued yet)

    @property
    def has_receipt(self) -> bool:
        return self.status == ChargeStatus.SUCCEEDED

    @property
    def subkind(self) -> str:
        """seat_upgrade, purchase, auto_reload or invoice_payment: what the page says the charge was."""
        if self.kind == PREPAID:
            return self.obj.kind
        return {SEAT: "seat_upgrade", INVOICE: "invoice_payment"}[self.kind]


def _union(organization: Organization):
    def columns(qs, kind: str, at: str, amount: str):
        return qs.annotate(
            charge_kind=Value(kind, output_field=CharField()),
            charge_at=F(at),
            charge_amount=ExpressionWrapper(F(amount), output_field=_AMOUNT),
        ).values_list("charge_kind", "id", "charge_at", "charge_amount")

    return columns(SeatCharge.objects.filter(organization=organization), SEAT, "created_at", "amount").union(
        columns(PrepaidCharge.objects.filter(organization=organization), PREPAID, "created_at", "amount"),
        columns(Invoice.objects.filter(organization=organization, status=InvoiceStatus.PAID, paid_at__isnull=False),
                INVOICE, "paid_at", "total"),
        all=True,
    )


def billing_history_page(*, organization: Organization, page_number: int | str = 1) -> tuple[Page, list[ChargeRow]]:
    """One page of the organization's charges, newest first. Queries: count, page, one per kind present on the
    page, and one for the invoices that show them."""
    union = _union(organization).order_by("-charge_at", "-charge_kind", "-id")
    page = Paginator(union, CHARGES_PER_PAGE).get_page(page_number)
    entries = list(page.object_list)
    wanted: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for kind, pk, _at, _amount in entries:
        wanted[kind].append(pk)
    objects: dict[tuple[str, int], object] = {}
    if wanted[SEAT]:
        for charge in SeatCharge.objects.filter(pk__in=wanted[SEAT]).select_related(
                "membership__user", "from_tier", "to_tier"):
            objects[SEAT, charge.pk] = charge
    if wanted[PREPAID]:
        for charge in PrepaidCharge.objects.filter(pk__in=wanted[PREPAID]).select_related("created_by"):
            objects[PREPAID, charge.pk] = charge
    if wanted[INVOICE]:
        for invoice in Invoice.objects.filter(pk__in=wanted[INVOICE]):
            objects[INVOICE, invoice.pk] = invoice
    # The invoices that show the page's seat and prepaid charges (their period's live invoice): one query.
    periods = {objects[kind, pk].period_start for kind, pk, _at, _amount in entries if kind != INVOICE}
    shown_on = {
        invoice.period_start: invoice for invoice in Invoice.objects.filter(
            organization=organization, period_start__in=periods).exclude(status=InvoiceStatus.VOID)
    } if periods else {}
    rows = []
    for kind, pk, at, amount in entries:
        obj = objects[kind, pk]
        rows.append(ChargeRow(kind=kind, pk=pk, at=at, amount=Decimal(amount), reference=charge_reference(kind, obj),
                              status=obj.status if kind == PREPAID else ChargeStatus.SUCCEEDED, obj=obj,
                              invoice=obj if kind == INVOICE else shown_on.get(obj.period_start)))
    return page, rows


def charge_reference(kind: str, obj) -> str:
    """The reference printed beside a charge: the seat charge's own (SEAT-000123), the payment provider's for a
    prepaid charge (its id for one that never reached the provider), the invoice number for an invoice."""
    if kind == SEAT:
        return obj.reference
    if kind == PREPAID:
        return obj.payment_reference or f"PREPAID-{obj.pk:06d}"
    return obj.number or ""


def billing_charge(*, organization: Organization, kind: str, pk: int) -> ChargeRow | None:
    """One charge of this organization (None for an unknown kind, another organization's charge, a failed or
    pending prepaid charge, or an invoice that is not paid: none of them has a receipt)."""
    if kind == SEAT:
        obj = SeatCharge.objects.select_related("membership__user", "from_tier", "to_tier").filter(
            organization=organization, pk=pk).first()
        at = obj.created_at if obj else None
        amount = obj.amount.amount if obj else None
    elif kind == PREPAID:
        obj = PrepaidCharge.objects.select_related("created_by").filter(
            organization=organization, pk=pk, status=ChargeStatus.SUCCEEDED).first()
        at = obj.settled_at or obj.created_at if obj else None
        amount = obj.amount if obj else None
    elif kind == INVOICE:
        obj = Invoice.objects.filter(organization=organization, pk=pk, status=InvoiceStatus.PAID).first()
        at = obj.paid_at if obj else None
        amount = obj.total if obj else None
    else:
        return None
    if obj is None:
        return None
    invoice = obj if kind == INVOICE else Invoice.objects.filter(
        organization=organization, period_start=obj.period_start).exclude(status=InvoiceStatus.VOID).first()
    return ChargeRow(kind=kind, pk=pk, at=at, amount=amount, reference=charge_reference(kind, obj),
                     status=ChargeStatus.SUCCEEDED, obj=obj, invoice=invoice)

