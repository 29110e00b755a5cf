"""CSV and PDF renderings of an invoice (reads only)."""

from __future__ import annotations

from collections.abc import Iterator

from django.db.models import Count, Q, Sum
from django.template.loader import render_to_string
from django.utils import translation
from weasyprint import HTML

from apps.common.csv_stream import csv_stream
from apps.common.money import ZERO, decimal_str, rounding_rule_text
from apps.organizations.selectors import invoice_language_for

from .models import CreditNote, Invoice
from .selectors import (
    credit_note_lines,
    invoice_document,
    invoice_kind_summary,
    invoice_lines_for_export,
    invoice_usage_rows_for_export,
    invoice_usage_summary,
    member_groups_of,
    month_label,
)

CSV_HEADER = [
    "invoice", "period", "member_name", "member", "kind", "description", "model", "product", "usage_period",
    "input_tokens",
    "output_tokens", "cache_write_tokens", "cache_read_tokens", "events", "usage_cost", "included_cost",
    "days", "period_days", "unit_price", "unrounded_amount", "amount", "billed",
]
# Above this many lines the PDF lists each member's total instead of every line (the CSV has them all).
PDF_DETAIL_MAX_LINES = 2000


def _optional(value) -> str:
    return "" if value is None else decimal_str(value)


def invoice_csv_rows(*, invoice: Invoice) -> Iterator[str]:
    """Every line of the invoice, one CSV row each (`unrounded_amount` exact, `amount` rounded once), the exact
    usage breakdown by model and product (billed "included": it is in the member lines), a total row and the
    rounding rule. Every cell is neutralised against formula injection (apps/common/csv_stream.py)."""
    return csv_stream(CSV_HEADER, _invoice_csv_cells(invoice=invoice))


def _invoice_csv_cells(*, invoice: Invoice) -> Iterator[list]:
    period = f"{invoice.period_start:%Y-%m}"
    for line in invoice_lines_for_export(invoice=invoice).iterator(chunk_size=2000):
        tokens = (line.input_tokens, line.output_tokens, line.cache_write_tokens, line.cache_read_tokens,
                  line.event_count) if line.has_tokens else ("", "", "", "", "")
        yield [
            invoice.number, period, line.member_name, line.member_email, line.kind, line.description,
            line.model.api_id if line.model else "", line.product,
            f"{line.usage_period_start:%Y-%m}" if line.usage_period_start else "",
            *tokens, _optional(line.usage_cost), _optional(line.included_cost),
            "" if line.days is None else line.days, "" if line.period_days is None else line.period_days,
            _optional(line.unit_price), decimal_str(line.unrounded_amount), f"{line.amount:.2f}",
            "no" if line.informational else "yes",
        ]
    # The exact breakdown by model and product: included in the member lines above, never billed again.
    for row in invoice_usage_rows_for_export(invoice=invoice):
        yield [
            invoice.number, period, "", "", "usage_breakdown",
            "Usage by model and product, exact: included in the member lines above", row.model.api_id,
            row.product, f"{row.usage_period_start:%Y-%m}" if row.usage_period_start else "",
            row.input_tokens, row.output_tokens, row.cache_write_tokens, row.cache_read_tokens, row.event_count,
            decimal_str(row.usage_cost), decimal_str(row.included_cost), "", "", "", decimal_str(row.billable), "",
            "included",
        ]
    total = [""] * len(CSV_HEADER)
    total[:2] = [invoice.number, period]
    total[CSV_HEADER.index("kind")] = "total"
    total[CSV_HEADER.index("description")] = "Total (sum of the billed rounded lines)"
    total[CSV_HEADER.index("amount")] = f"{invoice.total:.2f}"
    total[CSV_HEADER.index("billed")] = "yes"
    yield total
    rule = [""] * len(CSV_HEADER)
    rule[:2] = [invoice.number, period]
    rule[CSV_HEADER.index("kind")] = "rounding_rule"
    rule[CSV_HEADER.index("description")] = rounding_rule_text()
    yield rule


def invoice_pdf_html(*, invoice: Invoice) -> str:
    """Every line grouped by member; past PDF_DETAIL_MAX_LINES, each member's total (summed in SQL)."""
    lines_qs = invoice_lines_for_export(invoice=invoice)
    detailed = lines_qs.count() <= PDF_DETAIL_MAX_LINES
    organization_lines = list(lines_qs.filter(membership__isnull=True))
    if detailed:
        members = member_groups_of(line for line in lines_qs if line.membership_id is not None)
    else:
        members = [
            {"email": row["member_email"], "name": row["member_name"], "line_count": row["line_count"],
             "total": row["total"] or ZERO}
            for row in lines_qs.filter(membership__isnull=False).order_by("member_index")
            .values("member_index", "member_email", "member_name")
            .annotate(line_count=Count("id"), total=Sum("amount", filter=Q(informational=False)))
        ]
    summary = invoice_kind_summary(invoice=invoice)
    usage_summary = invoice_usage_summary(invoice=invoice, kind_summary=summary)
    return render_to_string("invoicing/invoice_pdf.html", {
        "invoice": invoice, "organization": invoice.organization, "month": month_label(invoice.period_start),
        "summary": summary, "usage_summary": usage_summary,
        "usage_tables": [usage_summary.by_model, usage_summary.by_product],
        "members": members, "organization_lines": organization_lines, "detailed": detailed,
        "doc": invoice_document(invoice=invoice), "LANGUAGE_CODE": translation.get_language(),
    })


def invoice_pdf_bytes(*, invoice: Invoice) -> bytes:
    """The invoice as a PDF document in the organization's invoice language (WeasyPrint; no network: the
    template embeds its own styles). Called once per invoice, at issue (services.invoice_document_render);
    downloads serve the stored bytes."""
    with translation.override(invoice_language_for(invoice.organization)):
        return HTML(string=invoice_pdf_html(invoice=invoice)).write_pdf()


def credit_note_pdf_bytes(*, credit_note: CreditNote) -> bytes:
    """A credit note as a PDF in the organization's invoice language: the seller, the customer as on the
    invoice it corrects, its lines, tax at the invoice's rate and total."""
    invoice = credit_note.invoice
    with translation.override(invoice_language_for(invoice.organization)):
        html = render_to_string("invoicing/credit_note_pdf.html", {
            "note": credit_note, "invoice": invoice, "lines": credit_note_lines(credit_note=credit_note),
            "LANGUAGE_CODE": translation.get_language(),
        })
        return HTML(string=html).write_pdf()
